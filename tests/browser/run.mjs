// Browser tests: Debian's Chromium, headless, driven by playwright-core.
// Expects the stack of scripts/test at KEYROTA_URL, with a fixture provider
// that takes a moment (KEYROTA_FIXTURE_DELAY_MS) so the running state shows.
// Screenshots of every state go to KEYROTA_ARTIFACTS/screenshots.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const base = process.env.KEYROTA_URL || "http://127.0.0.1:18080";
const shots = join(process.env.KEYROTA_ARTIFACTS || "artifacts", "screenshots");
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-quic"],
});

let passed = 0, failed = 0;
const STALE = "The CI deploy key of this service account is stale.";

function check(cond, message) { if (!cond) throw new Error(message); }

// A page that records console errors, page errors and CSP violations.
async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 }, ...options });
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (m) => { if (m.type() === "error") page.problems.push("console: " + m.text()); });
  page.on("pageerror", (e) => page.problems.push("pageerror: " + e.message));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
    });
  });
  return { context, page };
}

async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`PASS browser.${name} (${((Date.now() - started) / 1000).toFixed(2)}s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL browser.${name}: ${e.stack || e}`);
  }
}

async function fillForm(page, account, report) {
  await page.goto(base + "/");
  await page.fill("#account_id", account);
  await page.fill("#credential_report", report);
}

await test("idle_running_completed", async () => {
  const { context, page } = await newPage();
  await fillForm(page, "acct_10234", STALE);
  await page.screenshot({ path: join(shots, "1-idle.png"), fullPage: true });
  // The button is disabled as soon as the form is submitted.
  const disabledOnSubmit = page.waitForFunction(
    () => document.getElementById("submit") && document.getElementById("submit").disabled);
  await page.click("#submit");
  await disabledOnSubmit;
  await page.waitForURL(/\/rotation\/traces\/tr_/);
  await page.waitForSelector("text=Checking policy P-7...");
  check(await page.isDisabled("#submit"), "button enabled while running");
  await page.screenshot({ path: join(shots, "2-running.png"), fullPage: true });
  const url = page.url();
  // The script swaps the result in without a reload.
  await page.waitForSelector("text=Eligible under P-7", { timeout: 15000 });
  check(page.url() === url, "navigated away instead of updating in place");
  check(await page.isVisible("text=No rotation job has been created."), "no-job statement");
  check(await page.isVisible("text=Eligibility is not approval"), "not-approval statement");
  await page.screenshot({ path: join(shots, "3-completed.png"), fullPage: true });
  check(page.problems.length === 0, page.problems.join("\n"));
  await context.close();
});

await test("failed_path", async () => {
  const { context, page } = await newPage();
  await fillForm(page, "acct_10235", STALE);
  await page.click("#submit");
  await page.waitForSelector("text=Decision unavailable; retry safely.", { timeout: 15000 });
  check(await page.isVisible("text=policy_conflict"), "error code shown");
  check(await page.isVisible("#trace-id"), "trace id shown");
  await page.screenshot({ path: join(shots, "4-failed.png"), fullPage: true });
  await page.click("text=Back to the form");
  await page.waitForSelector("#report-form");
  check(page.problems.length === 0, page.problems.join("\n"));
  await context.close();
});

await test("invalid_input_is_shown_beside_fields", async () => {
  const { context, page } = await newPage();
  await fillForm(page, "acct_1", "<script>alert(1)</script>");
  let dialogs = 0;
  page.on("dialog", (d) => { dialogs++; d.dismiss(); });
  await page.click("#submit");
  await page.waitForSelector("text=The account ID must look like acct_12345");
  check(await page.inputValue("#credential_report") === "<script>alert(1)</script>",
        "input kept");
  check(dialogs === 0, "script ran");
  check(await page.getAttribute("#account_id", "aria-invalid") === "true", "aria-invalid");
  await page.screenshot({ path: join(shots, "5-invalid.png"), fullPage: true });
  // Chromium reports the 422 document itself as a failed load; nothing else
  // may appear.
  const others = page.problems.filter((p) => !/status of 422/.test(p));
  check(others.length === 0, others.join("\n"));
  await context.close();
});

await test("works_without_javascript", async () => {
  const { context, page } = await newPage({ javaScriptEnabled: false });
  await fillForm(page, "acct_10236", STALE);
  await page.click("#submit");
  await page.waitForSelector("text=Checking policy P-7...");
  // The page refreshes itself (noscript meta refresh) until terminal.
  await page.waitForSelector("text=Eligible under P-7", { timeout: 15000 });
  await page.screenshot({ path: join(shots, "6-completed-no-js.png"), fullPage: true });
  await context.close();
});

await test("not_found_page", async () => {
  const { context, page } = await newPage();
  const r = await page.goto(base + "/rotation/traces/tr_AAAAAAAAAAAAAAAAAAAAAA");
  check(r.status() === 404, "status " + r.status());
  check(await page.isVisible("text=Back to the form"), "way back");
  await page.screenshot({ path: join(shots, "7-not-found.png"), fullPage: true });
  await context.close();
});

await test("admin_list_to_detail_and_back", async () => {
  const password = readFileSync(join(process.env.KEYROTA_VAR || "var/test", "secrets",
    "admin.password"), "utf8").trim();
  const { context, page } = await newPage({
    httpCredentials: { username: "admin", password },
    viewport: { width: 1100, height: 900 },
  });
  await page.goto(base + "/admin/traces?account_id=acct_10235");
  await page.waitForSelector("#trace-table");
  await page.screenshot({ path: join(shots, "8-admin-list.png"), fullPage: true });
  const first = page.locator("#trace-table tbody a").first();
  const id = (await first.textContent()).trim();
  await first.click();
  await page.waitForSelector("#trace-fields");
  check((await page.textContent("h1")).includes(id), "detail of the clicked trace");
  check((await page.textContent("#d-error")).includes("policy_conflict"), "error shown");
  await page.screenshot({ path: join(shots, "9-admin-detail.png"), fullPage: true });
  await page.click("#back-to-list");
  await page.waitForSelector("#filters");
  check(page.problems.length === 0, page.problems.join("\n"));
  await context.close();
});

await browser.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
