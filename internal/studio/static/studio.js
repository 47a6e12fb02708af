// Cerulean Studio: the little JavaScript the pages use. Every page works
// without it except the playground's streaming: copy buttons and the
// streamed playground are enhancements. No inline handlers (the pages'
// Content-Security-Policy forbids inline script).
"use strict";

(function () {
  // Copy buttons: <button class="copy" data-copy-from="ID" hidden>.
  function setupCopy() {
    document.querySelectorAll("button.copy[data-copy-from]").forEach(function (btn) {
      btn.hidden = false;
      btn.addEventListener("click", function () {
        var el = document.getElementById(btn.dataset.copyFrom);
        if (!el) return;
        var text = el.textContent;
        var label = btn.textContent;
        var done = function (ok) {
          btn.textContent = ok ? "Copied" : "Copy failed";
          setTimeout(function () { btn.textContent = label; }, 1500);
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
        } else {
          done(false);
        }
      });
    });
  }

  // Playground: send with fetch and show the answer as it streams.
  function numberOrNull(v, int) {
    v = (v || "").trim();
    if (v === "") return null;
    var n = int ? Number.parseInt(v, 10) : Number(v);
    if (Number.isNaN(n)) throw new Error("not a number: " + v);
    return n;
  }

  function buildRequest(form) {
    var f = new FormData(form);
    var history = [];
    try { history = JSON.parse(f.get("history") || "[]") || []; } catch (e) { history = []; }
    var messages = [];
    var system = (f.get("system") || "").trim();
    if (system) messages.push({ role: "system", content: f.get("system") });
    messages = messages.concat(history);
    var message = f.get("message") || "";
    messages.push({ role: "user", content: message });
    var body = { model: f.get("deployment"), messages: messages };
    var nums = [["temperature", false], ["max_tokens", true], ["top_p", false],
      ["frequency_penalty", false], ["presence_penalty", false], ["seed", true]];
    nums.forEach(function (p) {
      var v = numberOrNull(f.get(p[0]), p[1]);
      if (v !== null) body[p[0]] = v;
    });
    var stop = (f.get("stop") || "").split("\n").map(function (s) { return s.replace(/\r$/, ""); })
      .filter(function (s) { return s !== ""; });
    if (stop.length) body.stop = stop;
    var rf = f.get("response_format");
    if (rf === "json_object") body.response_format = { type: "json_object" };
    if (rf === "json_schema") {
      body.response_format = { type: "json_schema",
        json_schema: { name: "playground", strict: true, schema: JSON.parse(f.get("schema") || "") } };
    }
    return { body: body, history: history, message: message, format: rf };
  }

  function addTurn(list, role, text) {
    var li = document.createElement("li");
    li.className = "turn " + role;
    var r = document.createElement("span");
    r.className = "role";
    r.textContent = role;
    var c = document.createElement("div");
    c.className = "content";
    c.textContent = text;
    li.append(r, c);
    list.append(li);
    return c;
  }

  function showCode(form, body) {
    var shown = Object.assign({}, body);
    delete shown.stream;
    delete shown.stream_options;
    document.getElementById("pg-request").textContent = JSON.stringify(shown, null, 2);
    var json = JSON.stringify(Object.assign({}, shown)).replace(/'/g, "'\\''");
    document.getElementById("pg-curl").textContent =
      'curl "' + form.dataset.endpoint + '/openai/v1/chat/completions" \\\n' +
      '  -H "Content-Type: application/json" \\\n' +
      '  -H "api-key: <your-api-key>" \\\n' +
      "  -d '" + json + "'\n";
  }

  async function stream(form, req, out, stats) {
    var body = Object.assign({}, req.body, { stream: true, stream_options: { include_usage: true } });
    var started = performance.now();
    var resp = await fetch(form.dataset.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "api-key": form.dataset.key, "Accept": "text/event-stream" },
      body: JSON.stringify(body),
    });
    if (!resp.ok) {
      var msg = resp.status + " " + resp.statusText;
      try { var e = await resp.json(); if (e.error && e.error.message) msg = e.error.message; } catch (x) { /* keep status */ }
      throw new Error(msg);
    }
    var reader = resp.body.getReader();
    var decoder = new TextDecoder();
    var buf = "", text = "", usage = null, finish = "", first = 0;
    for (;;) {
      var r = await reader.read();
      if (r.done) break;
      buf += decoder.decode(r.value, { stream: true });
      var events = buf.split(/\r?\n\r?\n/);
      buf = events.pop();
      for (var ev of events) {
        var data = ev.split(/\r?\n/).filter(function (l) { return l.startsWith("data:"); })
          .map(function (l) { return l.slice(5).replace(/^ /, ""); }).join("\n");
        if (!data || data === "[DONE]") continue;
        var chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message || "error in stream");
        if (chunk.usage) usage = chunk.usage;
        (chunk.choices || []).forEach(function (c) {
          if (c.index !== 0) return;
          if (c.delta && c.delta.content) {
            if (!first) first = performance.now();
            text += c.delta.content;
            out.textContent = text;
          }
          if (c.finish_reason) finish = c.finish_reason;
        });
      }
    }
    var ms = Math.round(performance.now() - started);
    var s = usage ? usage.prompt_tokens + " prompt + " + usage.completion_tokens + " completion tokens · " : "";
    s += ms + " ms";
    if (first) s += " (first token " + Math.round(first - started) + " ms)";
    if (finish) s += " · finish: " + finish;
    stats.textContent = s;
    return { text: text, finish: finish };
  }

  function setupPlayground() {
    var form = document.getElementById("playground");
    if (!form || !window.fetch || !window.TextDecoder) return;
    var list = document.getElementById("pg-transcript");
    var stats = document.getElementById("pg-stats");
    var jsonNote = document.getElementById("pg-json");
    var send = document.getElementById("pg-send");
    form.addEventListener("submit", async function (ev) {
      if (ev.submitter && ev.submitter.value !== "send") return; // "Clear chat" posts the form
      ev.preventDefault();
      var req;
      try {
        req = buildRequest(form);
      } catch (e) {
        stats.textContent = "Check the parameters: " + e.message;
        return;
      }
      if (!req.message.trim()) {
        stats.textContent = "Type a message.";
        return;
      }
      showCode(form, req.body);
      send.disabled = true;
      jsonNote.textContent = "";
      jsonNote.className = "";
      addTurn(list, "user", req.message);
      var out = addTurn(list, "assistant", "");
      out.parentElement.classList.add("streaming");
      stats.textContent = "Waiting for the answer…";
      try {
        var res = await stream(form, req, out, stats);
        var history = req.history.concat([{ role: "user", content: req.message }, { role: "assistant", content: res.text }]);
        document.getElementById("pg-history").value = JSON.stringify(history);
        document.getElementById("pg-message").value = "";
        if (req.format === "json_object" || req.format === "json_schema") {
          try {
            JSON.parse(res.text);
            jsonNote.textContent = "The answer is valid JSON.";
            jsonNote.className = "ok";
          } catch (e) {
            jsonNote.textContent = "The answer is not valid JSON: " + e.message + (res.finish === "length" ? " (it stopped at max tokens)" : "");
            jsonNote.className = "bad";
          }
        }
      } catch (e) {
        out.parentElement.classList.add("failed");
        out.textContent = "Error: " + e.message;
        stats.textContent = "The request failed.";
      } finally {
        out.parentElement.classList.remove("streaming");
        send.disabled = false;
      }
    });
  }

  // Deploy wizard: the capacity's unit follows the chosen type, and the
  // managed compute fields show only for that type.
  function setupWizard() {
    var radios = document.querySelectorAll('input[name="sku"][data-unit]');
    if (!radios.length) return;
    var unit = document.getElementById("d-capacity-unit");
    var compute = document.getElementById("d-compute");
    function update() {
      var checked = document.querySelector('input[name="sku"]:checked');
      if (!checked) return;
      if (unit) unit.textContent = checked.dataset.unit;
      if (compute) compute.hidden = checked.value !== compute.dataset.forSku;
    }
    radios.forEach(function (r) { r.addEventListener("change", update); });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopy();
    setupPlayground();
    setupWizard();
  });
})();
