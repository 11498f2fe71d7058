// monban's pages in a real browser (issue 13): Debian's Chromium, headless, driven by
// playwright-core; run by crates/monban-cli/tests/web_browser.rs, which starts
// `monban serve` on a loopback port and passes:
//   MONBAN_URL          the server's base URL (http://127.0.0.1:PORT)
//   MONBAN_EXAMPLES     the folder of the bundled sample messages
//   MONBAN_SCREENSHOTS  where the screenshots of every page go
// Each page must render, make no request off 127.0.0.1, work without JavaScript and
// with the keyboard alone, and have no WCAG 2.2 AA violation axe-core can find.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const BASE = process.env.MONBAN_URL;
const EXAMPLES = process.env.MONBAN_EXAMPLES;
const SHOTS = process.env.MONBAN_SCREENSHOTS;
assert.ok(BASE && EXAMPLES && SHOTS, "MONBAN_URL, MONBAN_EXAMPLES and MONBAN_SCREENSHOTS");
mkdirSync(SHOTS, { recursive: true });
const HOST = new URL(BASE).host;

let browser;

before(async () => {
  // playwright gives the browser a fresh, empty --user-data-dir of its own each launch.
  browser = await chromium.launch({
    executablePath: process.env.MONBAN_CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** A page that records every request it makes. */
async function open(options = {}) {
  const context = await browser.newContext({ locale: "en-US", ...options });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return { context, page, requests, errors };
}

/** Every request went to this server, and nothing failed in the page. */
function stayedHome({ requests, errors }) {
  for (const url of requests) {
    const u = new URL(url);
    assert.ok(u.protocol === "data:" || u.host === HOST, `a request left the server: ${url}`);
  }
  assert.deepEqual(errors, [], "errors in the page");
}

/** axe-core over the page: no WCAG 2.0/2.1/2.2 A or AA violation. */
async function accessible(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
    }));
  const found = result.violations.map((v) =>
    `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("\n  ")}`);
  assert.deepEqual(found, [], `${what}: axe-core violations`);
}

const sample = (name) => readFileSync(join(EXAMPLES, name), "utf8");

/** Submits the analyzer's form with `message` (verify when asked). */
async function analyze(page, message, verify = false) {
  await page.goto(`${BASE}/analyze`);
  await page.fill("#message", message);
  if (verify) await page.check("#verify");
  await Promise.all([page.waitForNavigation(), page.click("form button[type=submit]")]);
}

const PAGES = [
  ["start", "/"],
  ["analyze", "/analyze"],
  ["check", "/check"],
  ["check-example.com", "/check?domain=example.com&selector=s2026"],
  ["reports", "/reports"],
];

test("every page renders, in English and Japanese, and asks nothing of other hosts", async () => {
  for (const lang of ["en", "ja"]) {
    const s = await open({ locale: lang === "ja" ? "ja-JP" : "en-US" });
    for (const [name, path] of PAGES) {
      const response = await s.page.goto(`${BASE}${path}`);
      assert.equal(response.status(), 200, path);
      assert.equal(await s.page.getAttribute("html", "lang"), lang, path);
      assert.ok(await s.page.isVisible("h1"), `${path}: a heading`);
      // Nothing wider than the window (WCAG 1.4.10 reflow asks for 320 px; a desktop
      // window must at least not scroll sideways).
      const [scroll, client] = await s.page.evaluate(() =>
        [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      assert.ok(scroll <= client, `${path}: ${scroll} px wide in a ${client} px window`);
      await s.page.screenshot({ path: join(SHOTS, `${name}-${lang}.png`), fullPage: true });
    }
    stayedHome(s);
    await s.context.close();
  }
});

test("the analyzer shows the bundled samples right", async () => {
  const s = await open();
  await analyze(s.page, sample("via-mailing-list.eml"), true);
  const body = await s.page.textContent("main");
  assert.match(body, /\[lunch-club\] tag was added to the Subject/);
  assert.match(body, /Proven:/);
  assert.match(body, /Alignment with the From domain/);
  await s.page.screenshot({ path: join(SHOTS, "analyze-result-en.png"), fullPage: true });
  await accessible(s.page, "the analysis of via-mailing-list.eml");

  await analyze(s.page, sample("spoofed-ceo.eml"), true);
  const spoof = await s.page.textContent("main");
  assert.match(spoof, /The message has no DKIM signature/);
  assert.match(spoof, /dmarc/);
  await accessible(s.page, "the analysis of spoofed-ceo.eml");

  // The permalink shows the same analysis again.
  await analyze(s.page, sample("alice-to-bob.eml"));
  const link = await s.page.getAttribute("#permalink", "href");
  await s.page.goto(`${BASE}${link}`);
  assert.match(await s.page.textContent("main"), /Lunch on Thursday\?/);
  stayedHome(s);
  await s.context.close();
});

test("a Japanese Subject renders", async () => {
  const s = await open({ locale: "ja-JP" });
  const message = [
    "From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@example.com>",
    "To: hanako@example.org",
    "Subject: =?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN44Gn44GZ?=",
    "Date: Sun, 22 Nov 2026 10:00:00 +0900",
    "Message-ID: <ja-1@example.com>",
    "",
    "本文",
    "",
  ].join("\r\n");
  await analyze(s.page, message);
  const main = await s.page.textContent("main");
  assert.match(main, /日本語の件名です/);
  assert.match(main, /山田太郎/);
  assert.match(main, /ヘッダー解析/);
  await s.page.screenshot({ path: join(SHOTS, "analyze-result-ja.png"), fullPage: true });
  await accessible(s.page, "the Japanese analysis");
  stayedHome(s);
  await s.context.close();
});

test("the pages work with JavaScript disabled", async () => {
  const s = await open({ javaScriptEnabled: false });
  await analyze(s.page, sample("via-mailing-list.eml"));
  assert.match(await s.page.textContent("main"), /\[lunch-club\]/);
  await s.page.goto(`${BASE}/check`);
  await s.page.fill("#domain", "example.com");
  await Promise.all([s.page.waitForNavigation(), s.page.click("form button[type=submit]")]);
  assert.match(await s.page.textContent("h1"), /example\.com/);
  // The tree of networks opens without a script (<details>).
  await s.page.click("details summary");
  await s.page.goto(`${BASE}/reports`);
  assert.ok(await s.page.isVisible("h1"));
  stayedHome(s);
  await s.context.close();
});

test("a keyboard-only walk reaches and submits the forms", async () => {
  const s = await open();
  await s.page.goto(`${BASE}/check`);
  // The first Tab stop is the skip link; following it lands in the content.
  await s.page.keyboard.press("Tab");
  assert.equal(await s.page.evaluate(() => document.activeElement.className), "skip");
  await s.page.keyboard.press("Enter");
  // Tab until the domain field has the focus.
  for (let i = 0; i < 30; i++) {
    if (await s.page.evaluate(() => document.activeElement.id) === "domain") break;
    await s.page.keyboard.press("Tab");
  }
  assert.equal(await s.page.evaluate(() => document.activeElement.id), "domain");
  await s.page.keyboard.type("example.com");
  await Promise.all([s.page.waitForNavigation(), s.page.keyboard.press("Enter")]);
  assert.match(await s.page.textContent("h1"), /example\.com/);
  // The analyzer: into the text area, type, then Tab to the button and press it.
  await s.page.goto(`${BASE}/analyze`);
  for (let i = 0; i < 30; i++) {
    if (await s.page.evaluate(() => document.activeElement.id) === "message") break;
    await s.page.keyboard.press("Tab");
  }
  assert.equal(await s.page.evaluate(() => document.activeElement.id), "message");
  await s.page.keyboard.insertText(sample("alice-to-bob.eml"));
  for (let i = 0; i < 10; i++) {
    await s.page.keyboard.press("Tab");
    if (await s.page.evaluate(() => document.activeElement.type) === "submit") break;
  }
  assert.equal(await s.page.evaluate(() => document.activeElement.type), "submit");
  // The focused button shows it has the focus (an outline).
  const outline = await s.page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none");
  await Promise.all([s.page.waitForNavigation(), s.page.keyboard.press("Enter")]);
  assert.match(await s.page.textContent("main"), /Lunch on Thursday\?/);
  stayedHome(s);
  await s.context.close();
});

test("the dashboard drills down to a report and its document", async () => {
  for (const locale of ["en-US", "ja-JP"]) {
    const lang = locale.slice(0, 2);
    const s = await open({ locale });
    await s.page.goto(`${BASE}/reports`);
    await Promise.all([s.page.waitForNavigation(), s.page.click("a[href^='/reports/list']")]);
    await accessible(s.page, `the report list (${locale})`);
    await s.page.screenshot({ path: join(SHOTS, `reports-list-${lang}.png`), fullPage: true });
    await Promise.all([s.page.waitForNavigation(), s.page.click("a[href^='/reports/report/']")]);
    assert.match(await s.page.textContent("main"), /feedback/);
    await accessible(s.page, `a report (${locale})`);
    await s.page.screenshot({ path: join(SHOTS, `reports-report-${lang}.png`) });
    // From the overview to one domain's sources and advice.
    await s.page.goto(`${BASE}/reports`);
    await Promise.all([s.page.waitForNavigation(), s.page.click("table a[href^='/reports?domain=']")]);
    assert.ok(await s.page.isVisible("section h2"));
    await accessible(s.page, `a domain's dashboard (${locale})`);
    await s.page.screenshot({ path: join(SHOTS, `reports-domain-${lang}.png`), fullPage: true });
    stayedHome(s);
    await s.context.close();
  }
});

test("axe-core finds no WCAG 2.2 AA violation on any page", async () => {
  for (const locale of ["en-US", "ja-JP"]) {
    const s = await open({ locale });
    for (const [, path] of PAGES) {
      await s.page.goto(`${BASE}${path}`);
      await accessible(s.page, `${path} (${locale})`);
    }
    await s.context.close();
  }
});
