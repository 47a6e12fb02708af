// The Studio's browser flow: node flow.mjs URL ADMIN_TOKEN OUTDIR [UPSTREAM_URL]
// Drives /usr/bin/chromium headless with playwright-core; prints
// "screenshot PATH" for each step and exits non-zero on the first failure.
import { chromium } from "playwright-core";
import path from "node:path";

const [base, token, outdir, upstream] = process.argv.slice(2);
if (!base || !token || !outdir) {
  console.error("usage: node flow.mjs URL ADMIN_TOKEN OUTDIR [UPSTREAM_URL]");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let step = 0;
const started = Date.now();
function log(msg) { console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`); }
async function shot(page, name) {
  step++;
  const file = path.join(outdir, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}
function check(cond, msg) { if (!cond) throw new Error("check failed: " + msg); }

async function chat(key, deployment) {
  return fetch(`${base}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "api-key": key },
    body: JSON.stringify({ model: deployment, messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
  });
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Console errors, CSP violations included; a 4xx page load (a form the API
  // rejected, the favicon) is expected and not one.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });

  // 1. Sign in.
  await page.goto(`${base}/`);
  check(page.url().includes("/studio/signin"), "signed out, / goes to the sign-in page: " + page.url());
  await shot(page, "signin");
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/studio\/$/);
  log("signed in");

  // 2. Create a project (a bad name first: the API's message shows inline).
  await page.goto(`${base}/studio/projects`);
  await page.getByLabel("Name", { exact: true }).fill("Bad name!");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.locator("#project-name-error").waitFor();
  await shot(page, "project-error");
  await page.getByLabel("Name", { exact: true }).fill("e2e");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.waitForURL(/\/studio\/projects\/e2e\/deployments/);
  await shot(page, "project-created");
  log("project e2e created");

  // 3. Register an upstream model with "+ Add model".
  if (upstream) {
    await page.goto(`${base}/studio/models/new`);
    await page.getByLabel("Name", { exact: true }).fill("upstream-chat");
    await page.getByLabel("Upstream base URL").fill(upstream);
    await page.getByLabel("Upstream model name").fill("gpt-fake");
    await page.getByLabel("Input per 1K tokens", { exact: true }).fill("0.001");
    await page.getByLabel("Output per 1K tokens", { exact: true }).fill("0.002");
    await shot(page, "add-model");
    await page.getByRole("button", { name: "Add model" }).click();
    await page.waitForURL(/\/studio\/models\?flash=/);
    check(await page.getByRole("rowheader", { name: /upstream-chat/ }).count() === 1, "the new model is in the catalog");
    await page.getByRole("link", { name: "Embeddings" }).click();
    await page.waitForURL(/capability=embeddings/);
    await shot(page, "catalog-filtered");
    log("upstream model registered");
  }

  // 4. Deploy the demo model through the wizard.
  await page.goto(`${base}/studio/projects/e2e/deployments`);
  await page.getByRole("link", { name: "+ Deploy model" }).click();
  await page.waitForURL(/\/deploy$/);
  await shot(page, "wizard-pick");
  await page.getByRole("link", { name: "Select demo", exact: true }).click();
  await page.getByLabel(/^Managed compute/).check();
  check(await page.locator("#d-compute").isVisible() && (await page.locator("#d-capacity-unit").innerText()) === "replicas",
    "picking Managed compute shows its fields and counts capacity in replicas");
  await page.getByLabel(/^Standard/).check();
  check(!(await page.locator("#d-compute").isVisible()), "the managed compute fields hide for Standard");
  await page.getByLabel("Deployment name").fill("chat1");
  await page.getByLabel(/^Capacity/).fill("999999");
  await page.getByRole("button", { name: "Deploy" }).click();
  await page.locator("#d-capacity-error").waitFor();
  await shot(page, "wizard-quota-error");
  await page.getByLabel(/^Capacity/).fill("20");
  await page.getByRole("button", { name: "Deploy" }).click();
  await page.waitForURL(/\/deployments\/chat1/);
  log("deployment chat1 submitted");
  for (let i = 0; ; i++) {
    const state = await page.locator("#state").getAttribute("data-state").catch(() => null);
    if (state === "Succeeded") break;
    check(state !== "Failed", "deployment failed: " + (await page.locator("main").innerText()));
    check(i < 60, "deployment did not succeed in 30 s (state " + state + ")");
    await page.waitForTimeout(500);
    await page.goto(`${base}/studio/projects/e2e/deployments/chat1`);
  }
  await shot(page, "deployment-succeeded");
  log("deployment chat1 Succeeded");

  // 5. Chat in the playground, streamed.
  await page.goto(`${base}/studio/projects/e2e/playground?deployment=chat1`);
  await page.getByLabel("Max tokens").fill("24");
  await page.getByLabel("Your message").fill("Tell me a story.");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator(".turn.assistant.streaming").waitFor({ state: "attached" }).catch(() => {});
  await page.waitForFunction(() => /completion tokens/.test(document.getElementById("pg-stats").textContent));
  const answer = await page.locator(".turn.assistant .content").last().innerText();
  check(answer.length > 0 && !answer.startsWith("Error"), "a streamed answer: " + JSON.stringify(answer));
  await page.getByText("View code").click();
  await shot(page, "playground");
  log(`playground answered ${answer.length} characters: ${(await page.locator("#pg-stats").innerText())}`);

  // 6. Regenerate key1: the old key stops working.
  await page.goto(`${base}/studio/projects/e2e/keys`);
  await page.getByText("Show key1").click();
  const oldKey = (await page.locator("#key1-value").textContent()).trim();
  check(oldKey.length > 10, "key1 is shown");
  const before = await chat(oldKey, "chat1");
  check(before.status === 200, "the old key works before it is regenerated, got " + before.status + " " + (await before.text()));
  await page.getByRole("link", { name: "Regenerate key1" }).click();
  await shot(page, "regenerate-confirm");
  await page.getByRole("button", { name: "Regenerate key1" }).click();
  await page.waitForURL(/\/keys\?flash=/);
  const newKey = (await page.locator("#key1-value").textContent()).trim();
  check(newKey.length > 10 && newKey !== oldKey, "key1 changed");
  const rejected = await chat(oldKey, "chat1");
  check(rejected.status === 401, "the old key1 is rejected with 401, got " + rejected.status);
  const accepted = await chat(newKey, "chat1");
  check(accepted.status === 200, "the new key1 works, got " + accepted.status + " " + (await accepted.text()));
  await page.getByText("Show key1").click();
  await shot(page, "key-regenerated");
  log("key1 regenerated: old key answered 401");

  // 7. Usage: the requests above appear (the ledger writes in batches
  // every 200 ms) on the charts.
  for (let i = 0; ; i++) {
    await page.goto(`${base}/studio/projects/e2e/usage?days=7`);
    check(await page.locator("#usage-disabled").count() === 0, "usage reporting is enabled");
    const requests = Number((await page.locator("#usage-total dd").first().innerText()).replace(/,/g, ""));
    if (requests > 0) {
      check(await page.locator("svg.chart").count() === 3, "three usage charts");
      log(`usage shows ${requests} requests`);
      break;
    }
    check(i < 20, "the usage report shows the requests within 10 s");
    await page.waitForTimeout(500);
  }
  await shot(page, "usage");
  await page.goto(`${base}/studio/projects/e2e/alerts`);
  await shot(page, "alerts");

  // 8. Phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/studio/projects/e2e/deployments/chat1`);
  await shot(page, "phone-deployment");
  await page.goto(`${base}/studio/projects/e2e/playground?deployment=chat1`);
  await shot(page, "phone-playground");

  // 9. Back at desktop width: a budget on the alerts page, listed with
  // its progress bar.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/studio/projects/e2e/alerts`);
  check(await page.locator("#alerts-disabled").count() === 0, "the server serves the alerts API");
  await page.getByLabel("Budget name").fill("e2e-monthly");
  await page.getByLabel(/^Amount per month/).fill("25");
  await page.getByLabel("Hard stop").check();
  await page.getByRole("button", { name: "Add budget" }).click();
  await page.waitForURL(/\/alerts\?flash=/);
  const budget = page.locator("li.budget", { hasText: "e2e-monthly" });
  await budget.locator("svg.bar[role=img]").waitFor();
  check(await budget.locator(".badge.hard").count() === 1, "the hard budget has its hard stop badge");
  check(await budget.locator("svg.bar .mark").count() === 3, "the default thresholds are marked on the bar");
  await shot(page, "budget");
  log("budget e2e-monthly listed: " + (await budget.locator(".budget-nums").innerText()));

  // 10. Change the deployment's capacity: over quota first (the API's
  // message shows inline), then within it.
  await page.goto(`${base}/studio/projects/e2e/deployments/chat1`);
  await page.getByLabel(/^Capacity/).fill("999999");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#e-capacity-error").waitFor();
  await page.getByLabel(/^Capacity/).fill("30");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.waitForURL(/\/deployments\/chat1\?flash=/);
  const capacity = await page.locator("#capacity").innerText();
  check(capacity.includes("30 K-TPM"), "the capacity is saved: " + capacity);
  await page.locator("#settings").scrollIntoViewIfNeeded();
  await shot(page, "capacity");
  log("capacity of chat1 changed: " + capacity);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/studio/projects/e2e/alerts`);
  await shot(page, "phone-alerts");
  await page.goto(`${base}/studio/projects/e2e/usage?days=7`);
  check(await page.locator("#budget-project-e2e-monthly").count() === 1, "the usage page shows the budget's bar");
  await shot(page, "phone-usage");

  check(errors.length === 0, "no script errors or CSP violations: " + errors.join("; "));
  log("done");
} catch (e) {
  console.log("FAIL: " + (e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
