// Browser tests: Debian's Chromium, headless, driven by playwright-core.
// Expects the stack of scripts/test at KEYROTA_URL, with a fixture provider
// that takes a moment (KEYROTA_FIXTURE_DELAY_MS) so the running state shows.
//
// Every page (idle, 422 form, running, completed, failed, the error pages,
// admin list, admin detail, evals) is checked with axe-core for WCAG 2.1 AA
// and walked with the keyboard, in light and dark mode; screenshots of each
// in both schemes at 375 and 1280 px go to KEYROTA_ARTIFACTS/screenshots as
// <page>-<scheme>-<width>.png.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const base = process.env.KEYROTA_URL || "http://127.0.0.1:18080";
const shots = join(process.env.KEYROTA_ARTIFACTS || "artifacts", "screenshots");
const VAR = process.env.KEYROTA_VAR || "var/test";
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const SCHEMES = ["light", "dark"];
const WIDTHS = [375, 1280];
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-quic"],
});

let passed = 0, failed = 0;
const STALE = "The CI deploy key of this service account is stale.";
const password = readFileSync(join(VAR, "secrets", "admin.password"), "utf8").trim();
const ADMIN = { httpCredentials: { username: "admin", password } };

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

// Chromium reports a 4xx document itself as a failed load; nothing else
// may appear.
function realProblems(page) {
  return page.problems.filter((p) => !/the server responded with a status of 4\d\d/.test(p));
}

async function fillForm(page, account, report) {
  await page.goto(base + "/");
  await page.fill("#account_id", account);
  await page.fill("#credential_report", report);
}

// axe-core in the page (evaluated through the debugger protocol, so the
// pages' CSP stays as it is): every WCAG 2.0/2.1 A and AA rule.
async function axeCheck(page, label) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
      v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
  }, AXE_TAGS);
  check(violations.length === 0, `${label}: axe found\n  ` + violations.join("\n  "));
}

// Tabs from the top of the page through every control, and checks that
// each is reached once, in document order (which is also the visual order:
// no positive tabindex anywhere).
async function keyboardWalk(page, label) {
  const n = await page.evaluate(() => {
    const sel = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), " +
      "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
    const all = Array.from(document.querySelectorAll(sel)).filter((el) =>
      el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden");
    all.forEach((el, i) => el.setAttribute("data-kw", String(i)));
    const positive = document.querySelectorAll("[tabindex]:not([tabindex='0']):not([tabindex='-1'])");
    if (positive.length) { throw new Error("positive tabindex"); }
    // Start from the top of the document.
    document.body.setAttribute("tabindex", "-1");
    document.body.focus();
    document.body.removeAttribute("tabindex");
    return all.length;
  });
  check(n > 0, `${label}: no controls`);
  const reached = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press("Tab");
    reached.push(await page.evaluate(() => {
      const el = document.activeElement;
      const kw = el && el.getAttribute("data-kw");
      const focusRing = el && getComputedStyle(el).outlineStyle !== "none";
      return kw === null ? "?" + (el ? el.tagName + "#" + el.id : "none") :
        (focusRing ? kw : "no-outline:" + kw);
    }));
  }
  const want = Array.from({ length: n }, (_, i) => String(i));
  check(JSON.stringify(reached) === JSON.stringify(want),
        `${label}: keyboard order ${reached.join(",")} (want 0..${n - 1})`);
}

function psql(sql) {
  const url = execFileSync(join(ROOT, "scripts", "stack"), ["database-url"],
    { encoding: "utf8" }).trim();
  return execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
    { encoding: "utf8" }).trim();
}

// A decision through the JSON API (synchronous): the trace id.
async function decide(account) {
  const ctx = await browser.newContext();
  const r = await ctx.request.post(base + "/rotation/decide", {
    data: { account_id: account, credential_report: STALE },
    headers: { "Content-Type": "application/json" } });
  const id = (await r.json()).trace_id;
  await ctx.close();
  return id;
}

// ---- The pages, each reached the way a person reaches it ----
const completedId = await decide("acct_10234");
const failedId = await decide("acct_10235");
// A trace that stays running while it is looked at: its row, as a worker
// writes it before calling the model (the reaper ends it later, so each
// look gets a fresh one).
function runningTrace() {
  const id = "tr_" + randomBytes(16).toString("base64url");
  psql(`INSERT INTO traces (trace_id, account_id, prompt_version, provider, request_model,
        input_fingerprint, fingerprint_key_id) VALUES ('${id}', 'acct_10234',
        'rotation_decision@2', 'fixture', 'keyrota-fixture-1', 'abcdef012345', 'fk_browser')`);
  return id;
}
// The 403 page, as keyrota renders it for a form post without the token.
const csrfPage = await (async () => {
  const ctx = await browser.newContext();
  const r = await ctx.request.post(base + "/rotation/decide", {
    form: { account_id: "acct_10234", credential_report: STALE },
    headers: { "Sec-Fetch-Site": "same-origin" } });
  const out = { status: r.status(), headers: r.headers(), body: await r.text() };
  await ctx.close();
  return out;
})();

const PAGES = [
  { name: "idle", go: (p) => p.goto(base + "/"), ready: "#report-form" },
  { name: "invalid-422", ready: "#error-summary", go: async (p) => {
      await fillForm(p, "acct_1", "short");
      await p.click("#submit");
    } },
  { name: "running", go: (p) => p.goto(base + "/rotation/traces/" + runningTrace()),
    ready: "text=Checking policy P-7..." },
  { name: "completed", go: (p) => p.goto(base + "/rotation/traces/" + completedId),
    ready: "text=Eligible under P-7" },
  { name: "failed", go: (p) => p.goto(base + "/rotation/traces/" + failedId),
    ready: "text=Decision unavailable; retry safely." },
  { name: "error-404", go: (p) => p.goto(base + "/rotation/traces/tr_" + "A".repeat(22)),
    ready: "text=Not found" },
  { name: "error-405", go: (p) => p.goto(base + "/rotation/decide"),
    ready: "text=Method not allowed" },
  { name: "error-403", ready: "text=This form could not be verified", go: async (p) => {
      check(csrfPage.status === 403, "csrf page status " + csrfPage.status);
      await p.route(base + "/csrf-refused", (route) => route.fulfill({
        status: 403, headers: csrfPage.headers, body: csrfPage.body }));
      await p.goto(base + "/csrf-refused");
    } },
  { name: "admin-list", admin: true, go: (p) => p.goto(base + "/admin/traces"),
    ready: "#trace-table" },
  { name: "admin-list-422", admin: true, go: (p) => p.goto(base + "/admin/traces?status=done"),
    ready: "#filter-error" },
  { name: "admin-detail", admin: true, go: (p) => p.goto(base + "/admin/traces/" + failedId),
    ready: "#trace-fields" },
  { name: "evals", admin: true, go: (p) => p.goto(base + "/admin/evals"), ready: "h1" },
];
// The run page of the newest eval run, when scripts/test recorded one.
const runId = psql("SELECT run_id FROM eval_runs ORDER BY started_at DESC LIMIT 1");
if (runId) {
  PAGES.push({ name: "eval-run", admin: true, ready: "#eval-cases",
    go: (p) => p.goto(base + "/admin/evals?run=" + encodeURIComponent(runId)) });
}

for (const scheme of SCHEMES) {
  for (const pg of PAGES) {
    await test(`${pg.name}_${scheme}_axe_keyboard_screens`, async () => {
      const { context, page } = await newPage({ colorScheme: scheme,
        viewport: { width: WIDTHS[0], height: 800 }, ...(pg.admin ? ADMIN : {}) });
      await pg.go(page);
      await page.waitForSelector(pg.ready);
      check(await page.evaluate(() => matchMedia("(prefers-color-scheme: dark)").matches) ===
            (scheme === "dark"), "colour scheme not applied");
      await axeCheck(page, `${pg.name} ${scheme}`);
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 800 });
        // Small screens: nothing but a table's own box scrolls sideways.
        const over = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth);
        check(over <= 0, `${pg.name} ${scheme} ${width}px: page scrolls sideways by ${over}px`);
        await page.screenshot({ path: join(shots, `${pg.name}-${scheme}-${width}.png`),
                                fullPage: true });
      }
      await keyboardWalk(page, `${pg.name} ${scheme}`);
      check(realProblems(page).length === 0, realProblems(page).join("\n"));
      await context.close();
    });
  }
}

// The check above can fail: a page with a field without a label and grey
// text on white is refused.
await test("axe_refuses_an_inaccessible_page", async () => {
  const { context, page } = await newPage();
  await page.goto(base + "/");
  await page.evaluate(() => {
    const p = document.createElement("p");
    p.textContent = "faint";
    p.style.color = "#c0c0c0";
    p.style.background = "#ffffff";
    document.getElementById("main").appendChild(p);
    document.getElementById("main").appendChild(document.createElement("input"));
  });
  let message = "";
  try { await axeCheck(page, "spoiled idle"); } catch (e) { message = e.message; }
  check(/color-contrast/.test(message) && /label/.test(message), "axe missed: " + message);
  await context.close();
});

await test("dark_mode_uses_the_dark_palette", async () => {
  const colours = {};
  for (const scheme of SCHEMES) {
    const { context, page } = await newPage({ colorScheme: scheme });
    await page.goto(base + "/");
    colours[scheme] = await page.evaluate(() => ({
      bg: getComputedStyle(document.body).backgroundColor,
      ink: getComputedStyle(document.body).color,
      field: getComputedStyle(document.getElementById("account_id")).backgroundColor,
      scheme: getComputedStyle(document.documentElement).colorScheme }));
    await context.close();
  }
  check(colours.light.bg === "rgb(246, 248, 250)", "light bg " + colours.light.bg);
  check(colours.dark.bg === "rgb(17, 21, 26)", "dark bg " + colours.dark.bg);
  check(colours.dark.ink !== colours.light.ink, "text colour is the same in both");
  check(colours.dark.field !== colours.light.field, "fields are the same in both");
  check(colours.light.scheme === "light dark", "color-scheme " + colours.light.scheme);
});

await test("keyboard_only_report_in_order", async () => {
  const { context, page } = await newPage();
  await page.goto(base + "/");
  const order = [];
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement.id ||
      document.activeElement.className));
  }
  check(JSON.stringify(order) ===
        JSON.stringify(["skip", "brand", "account_id", "credential_report", "item", "submit"]),
        "tab order " + order.join(", "));
  // Fill it in with the keyboard alone and send it with Enter.
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  check(await page.evaluate(() => document.activeElement.id) === "account_id", "back to account");
  await page.keyboard.type("acct_10234");
  await page.keyboard.press("Tab");
  await page.keyboard.type(STALE);
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/rotation\/traces\/tr_/);
  await page.waitForSelector("text=Eligible under P-7", { timeout: 15000 });
  // The result takes focus when it is swapped in.
  check(await page.evaluate(() => document.activeElement.id) === "trace-title", "focus on result");
  check(page.problems.length === 0, page.problems.join("\n"));
  await context.close();
});

await test("running_is_announced_once_by_a_region_that_survives_the_swap", async () => {
  const { context, page } = await newPage();
  await fillForm(page, "acct_10234", STALE);
  // The button is disabled as soon as the form is submitted.
  const disabledOnSubmit = page.waitForFunction(
    () => document.getElementById("submit") && document.getElementById("submit").disabled);
  await page.click("#submit");
  await disabledOnSubmit;
  await page.waitForURL(/\/rotation\/traces\/tr_/);
  await page.waitForSelector("text=Checking policy P-7...");
  check(await page.locator("#submit").count() === 0, "stale submit button while running");
  check(await page.locator("button").count() === 0, "a button while running");
  // Record every text the live region takes, on the node itself.
  await page.evaluate(() => {
    const region = document.getElementById("announcer");
    region.dataset.mark = "original";
    // A reload (even of the same URL) would drop this page's JS state.
    window.__sameDocument = "before-the-swap";
    window.__said = [];
    new MutationObserver(() => window.__said.push(region.textContent))
      .observe(region, { childList: true, characterData: true, subtree: true });
  });
  const url = page.url();
  await page.waitForSelector("text=Eligible under P-7", { timeout: 15000 });
  await page.waitForFunction(() => window.__said.length >= 2 ||
    (window.__said.length === 1 && window.__said[0] !== "Checking policy P-7..."));
  check(page.url() === url, "navigated away instead of updating in place");
  check(await page.evaluate(() => window.__sameDocument) === "before-the-swap",
        "the page was reloaded instead of updated in place");
  const region = await page.evaluate(() => ({
    mark: document.getElementById("announcer").dataset.mark,
    live: document.getElementById("announcer").getAttribute("aria-live"),
    said: window.__said }));
  check(region.mark === "original", "the live region was replaced by the swap");
  check(region.live === "polite", "not a live region");
  const running = region.said.filter((t) => t === "Checking policy P-7...").length;
  check(running <= 1, "running announced more than once: " + JSON.stringify(region.said));
  check(region.said[region.said.length - 1] === "Eligible under P-7",
        "result not announced: " + JSON.stringify(region.said));
  check(await page.isVisible("text=No rotation job has been created."), "no-job statement");
  check(await page.isVisible("text=Eligibility is not approval"), "not-approval statement");
  check(page.problems.length === 0, page.problems.join("\n"));
  await context.close();
});

await test("running_page_announces_on_load", async () => {
  const { context, page } = await newPage();
  await page.goto(base + "/rotation/traces/" + runningTrace());
  await page.waitForFunction(() =>
    document.getElementById("announcer").textContent === "Checking policy P-7...",
    null, { timeout: 3000 });
  check(await page.locator("[aria-live]").count() === 1, "one live region");
  await context.close();
});

await test("failed_path", async () => {
  const { context, page } = await newPage();
  await fillForm(page, "acct_10235", STALE);
  await page.click("#submit");
  await page.waitForSelector("text=Decision unavailable; retry safely.", { timeout: 15000 });
  check(await page.isVisible("text=policy_conflict"), "error code shown");
  check(await page.isVisible("#trace-id"), "trace id shown");
  await page.click("text=Back to the form");
  await page.waitForSelector("#report-form");
  check(page.problems.length === 0, page.problems.join("\n"));
  await context.close();
});

await test("invalid_input_focuses_the_error_summary", async () => {
  const { context, page } = await newPage();
  await fillForm(page, "acct_1", "<script>alert(1)</script>");
  let dialogs = 0;
  page.on("dialog", (d) => { dialogs++; d.dismiss(); });
  await page.click("#submit");
  await page.waitForSelector("#error-summary");
  await page.waitForFunction(() => document.activeElement &&
    document.activeElement.id === "error-summary", null, { timeout: 3000 });
  check(await page.inputValue("#credential_report") === "<script>alert(1)</script>",
        "input kept");
  check(dialogs === 0, "script ran");
  check(await page.getAttribute("#account_id", "aria-invalid") === "true", "aria-invalid");
  // From the summary, Tab reaches its first link and Enter puts focus in
  // the field.
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.getAttribute("href")) ===
        "#account_id", "first summary link");
  await page.keyboard.press("Enter");
  check(await page.evaluate(() => document.activeElement.id) === "account_id",
        "Enter on the summary link did not focus the field");
  check(realProblems(page).length === 0, realProblems(page).join("\n"));
  await context.close();
});

await test("works_without_javascript", async () => {
  const { context, page } = await newPage({ javaScriptEnabled: false });
  await fillForm(page, "acct_10236", STALE);
  await page.click("#submit");
  await page.waitForSelector("text=Checking policy P-7...");
  check(await page.isVisible("#check-again"), "Check again link");
  // The page refreshes itself (noscript meta refresh) until terminal.
  await page.waitForSelector("text=Eligible under P-7", { timeout: 15000 });
  // Times stay in UTC without the script.
  check(/UTC$/.test((await page.textContent("time")).trim()), "time shown in UTC");
  await context.close();
});

await test("times_in_the_viewers_zone", async () => {
  const { context, page } = await newPage({ ...ADMIN, timezoneId: "Asia/Kolkata",
    locale: "en-GB", viewport: { width: 1280, height: 900 } });
  await page.goto(base + "/admin/traces/" + completedId);
  const t = page.locator("#trace-fields time").first();
  await page.waitForFunction(() => document.querySelector("time[data-local]"));
  const shown = (await t.textContent()).trim();
  const utc = await t.getAttribute("title");
  const iso = await t.getAttribute("datetime");
  check(/Z$/.test(iso), "datetime not UTC: " + iso);
  check(/UTC$/.test(utc), "UTC text kept as the title: " + utc);
  check(!/UTC/.test(shown) && /GMT\+5:30|IST/.test(shown), "not local time: " + shown);
  await context.close();
});

await test("admin_list_to_detail_and_back", async () => {
  const { context, page } = await newPage({ ...ADMIN, viewport: { width: 1100, height: 900 } });
  await page.goto(base + "/admin/traces");
  await page.selectOption("#f_status", "failed");
  await page.selectOption("#f_error_code", "policy_conflict");
  await page.fill("#f_account_id", "acct_10235");
  await page.click("button[type=submit]");
  await page.waitForSelector("#trace-table");
  check(page.url().includes("status=failed") && page.url().includes("error_code=policy_conflict"),
        "filters in the address: " + page.url());
  const first = page.locator("#trace-table tbody a").first();
  const id = (await first.textContent()).trim();
  await first.click();
  await page.waitForSelector("#trace-fields");
  check((await page.textContent("h1")).includes(id), "detail of the clicked trace");
  check((await page.textContent("#d-error")).includes("policy_conflict"), "error shown");
  await page.click("#back-to-list");
  await page.waitForSelector("#filters");
  check(page.problems.length === 0, page.problems.join("\n"));
  await context.close();
});

await test("admin_table_scrolls_inside_its_box_on_a_phone", async () => {
  const { context, page } = await newPage({ ...ADMIN, viewport: { width: 375, height: 800 } });
  await page.goto(base + "/admin/traces");
  await page.waitForSelector("#trace-table");
  const box = await page.evaluate(() => {
    const s = document.querySelector(".table-scroll");
    return { inner: s.scrollWidth, outer: s.clientWidth,
             page: document.documentElement.scrollWidth };
  });
  check(box.inner > box.outer, "the table fits a phone, so nothing was tested: " + JSON.stringify(box));
  check(box.page <= 375, "the page itself scrolls sideways: " + JSON.stringify(box));
  await context.close();
});

await browser.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
