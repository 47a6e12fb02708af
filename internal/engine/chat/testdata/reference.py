#!/usr/bin/env python3
"""Cross-check the golden files against Python Jinja2 configured the way
Hugging Face transformers' apply_chat_template configures it (sandboxed,
trim_blocks, lstrip_blocks, loopcontrols, tojson without key sorting,
raise_exception, strftime_now). Not run by `go test`; run it by hand after
editing templates or cases: python3 testdata/reference.py [--write]."""
import json, os, sys
from datetime import datetime
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols

HERE = os.path.dirname(os.path.abspath(__file__))

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def raise_exception(msg):
    raise RuntimeError(msg)

def hf_messages(conv):
    out = []
    for m in conv["messages"]:
        msg = {"role": m["role"], "content": m.get("content", "")}
        if m.get("tool_calls"):
            msg["tool_calls"] = [{"id": c["id"], "type": "function",
                                  "function": {"name": c["name"], "arguments": json.loads(c["arguments"])}}
                                 for c in m["tool_calls"]]
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        out.append(msg)
    return out

def hf_tools(conv):
    if not conv.get("tools"):
        return None
    return [{"type": "function", "function": {k: t[k] for k in ("name", "description", "parameters") if k in t}}
            for t in conv["tools"]]

def main():
    write = "--write" in sys.argv
    cases = json.load(open(os.path.join(HERE, "cases.json"), encoding="utf-8"))
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda f: datetime(2024, 7, 26).strftime(f)
    bad = 0
    for name, spec in cases["templates"].items():
        src = open(os.path.join(HERE, "templates", spec["file"]), encoding="utf-8").read()
        tpl = env.from_string(src)
        for cname in spec["conversations"]:
            conv = cases["conversations"][cname]
            got = tpl.render(messages=hf_messages(conv), tools=hf_tools(conv),
                             add_generation_prompt=conv["add_generation_prompt"],
                             bos_token=spec["bos"], eos_token=spec["eos"])
            path = os.path.join(HERE, "golden", f"{name}__{cname}.txt")
            if write:
                open(path, "w", encoding="utf-8", newline="").write(got)
                continue
            want = open(path, encoding="utf-8", newline="").read() if os.path.exists(path) else None
            status = "ok" if want == got else "DIFF"
            bad += status != "ok"
            print(f"{status:4} {name} {cname}")
    sys.exit(1 if bad else 0)

if __name__ == "__main__":
    main()
