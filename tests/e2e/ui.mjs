// End-to-end check of the weaksignal web UI in headless Chromium.
//
//   WEAKSIGNAL_URL=http://127.0.0.1:8080 SCREENSHOT_DIR=/tmp/shots node ui.mjs
//
// Env: WEAKSIGNAL_URL (required), SCREENSHOT_DIR (required), SEARCH_QUERY
// (default "coronavirus"), XSS_QUERY (optional: a query whose hits carry
// malicious titles/urls), CHROMIUM (default /usr/bin/chromium), WRITE_URL
// and WRITE_TOKEN (optional: a server on a store of its own, with
// serve.token and a watch "virus" that a run fired, for the analyst's loop:
// watches, alerts and marks).
// Exits 0 with a one-line JSON summary, or 1 naming the step that failed.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";

const WAIT_MS = 15000;
const BASE = (process.env.WEAKSIGNAL_URL || "").replace(/\/+$/, "");
const SHOTS = process.env.SCREENSHOT_DIR || "";
const SEARCH_QUERY = process.env.SEARCH_QUERY || "coronavirus";
const XSS_QUERY = process.env.XSS_QUERY || "";
const WRITE_URL = (process.env.WRITE_URL || "").replace(/\/+$/, "");
const WRITE_TOKEN = process.env.WRITE_TOKEN || "";

class StepFailure extends Error {}

let step = "setup";
function fail(msg) {
  throw new StepFailure(msg);
}
function check(cond, msg) {
  if (!cond) fail(msg);
}

async function main() {
  check(BASE, "WEAKSIGNAL_URL is not set (e.g. http://127.0.0.1:8080)");
  check(SHOTS, "SCREENSHOT_DIR is not set");
  let origin;
  try {
    origin = new URL(BASE).origin;
  } catch (e) {
    fail(`WEAKSIGNAL_URL is not a URL: ${BASE}`);
  }
  fs.mkdirSync(SHOTS, { recursive: true });

  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  check(fs.existsSync(executablePath), `no Chromium at ${executablePath} (set CHROMIUM)`);
  // A fresh, empty profile for every run (removed at the end).
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "weaksignal-e2e-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });

  const consoleErrors = [];
  const pageErrors = [];
  const foreignRequests = [];
  const dialogs = [];
  const checked = { url: BASE, search_query: SEARCH_QUERY, xss_query: XSS_QUERY || null, screenshots: [] };

  try {
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);

    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(`[${step}] ${msg.text()}`);
    });
    page.on("pageerror", (err) => pageErrors.push(`[${step}] ${err && err.message ? err.message : err}`));
    page.on("request", (req) => {
      const u = req.url();
      if (u.startsWith("data:") || u.startsWith("blob:") || u === "about:blank") return;
      let o = "";
      try {
        o = new URL(u).origin;
      } catch (_) {
        o = "";
      }
      if (o !== origin) foreignRequests.push(`[${step}] ${req.method()} ${u}`);
    });
    page.on("dialog", async (d) => {
      dialogs.push(`[${step}] ${d.type()}: ${d.message()}`);
      await d.dismiss().catch(() => {});
    });

    // No stray network, console errors or exceptions at any step.
    const assertClean = () => {
      check(!foreignRequests.length, `the UI made requests to other hosts than ${origin}:\n  ${foreignRequests.join("\n  ")}`);
      check(!pageErrors.length, `uncaught page errors:\n  ${pageErrors.join("\n  ")}`);
      check(!consoleErrors.length, `console errors:\n  ${consoleErrors.join("\n  ")}`);
    };

    // Wait for the UI to finish rendering; an error box means the API said no.
    // `selector`: an element only the expected page has, so that the previous
    // page (still "ready" until hashchange arrives) is not mistaken for it.
    const waitReady = async (what, selector) => {
      try {
        await page.waitForFunction(
          (sel) => document.body && document.body.dataset.state === "ready" && (!sel || document.querySelector(sel) !== null || document.querySelector("main .error") !== null),
          selector || null,
          { timeout: WAIT_MS, polling: 50 }
        );
      } catch (e) {
        const state = await page.evaluate(() => document.body && document.body.dataset.state).catch(() => "?");
        fail(`${what}: page did not become ready within ${WAIT_MS / 1000} s (body[data-state]=${state})`);
      }
      const err = await page.locator("main .error").first().textContent({ timeout: 200 }).catch(() => null);
      check(err === null, `${what}: the page shows an error box: ${err && err.trim()}`);
    };

    const shot = async (name) => {
      const file = path.join(SHOTS, name);
      await page.screenshot({ path: file, fullPage: true });
      checked.screenshots.push(file);
    };

    // Step 1: the landing page is the signals page with a drawn emergence map.
    step = "1-load";
    const resp = await page.goto(BASE + "/", { waitUntil: "domcontentloaded" });
    check(resp && resp.ok(), `GET ${BASE}/ answered ${resp ? resp.status() : "nothing"}`);
    await waitReady("loading /", "#signal-list, #emergence-map");
    const mapCount = await page.locator("#emergence-map").count();
    check(mapCount === 1, "loading /: no #emergence-map on the landing page (expected the signals page)");
    const points = await page.locator("#emergence-map .signal-point").count();
    check(points >= 1, "loading /: the emergence map has no .signal-point");
    const rows = await page.locator("#signal-list .signal").count();
    check(rows >= 1, "loading /: #signal-list has no .signal rows");
    // The futures radar: one per page, its sectors the first tagged taxonomy's categories.
    check((await page.locator("#futures-radar").count()) === 1, "loading /: no #futures-radar on the signals page");
    const sectors = await page.locator(".radar-list li").count();
    check(sectors === 6, `loading /: the radar lists ${sectors} sectors (expected STEEP's 6)`);
    assertClean();
    checked.signal_points = points;
    checked.signal_rows = rows;
    await shot("signals.png");

    // Step 2: search.
    step = "2-search";
    await page.click('nav a[data-nav="search"]');
    await waitReady("opening the search page", "#search-form");
    await page.fill("#q", SEARCH_QUERY);
    await page.press("#q", "Enter"); // the submit handler marks the page "loading" at once
    await waitReady(`searching "${SEARCH_QUERY}"`, "#results");
    const qParam = await page.evaluate(() => new URLSearchParams(location.hash.split("?")[1] || "").get("q"));
    check(qParam === SEARCH_QUERY, `searching: the route has q=${JSON.stringify(qParam)}, expected ${JSON.stringify(SEARCH_QUERY)}`);
    const hits = await page.locator("#results .hit").count();
    check(hits >= 1, `searching "${SEARCH_QUERY}": no .hit in #results`);
    const bars = await page.locator("#histogram .bar").count();
    check(bars >= 1, `searching "${SEARCH_QUERY}": #histogram has no bars`);
    const facetButtons = await page.locator("#facets button").count();
    check(facetButtons >= 1, `searching "${SEARCH_QUERY}": #facets has no values`);
    const totalText = (await page.locator(".total").first().textContent()) || "";
    assertClean();
    checked.search_hits = hits;
    checked.histogram_bars = bars;
    checked.search_total = totalText.trim();
    await shot("search.png");

    // Step 3: from the map to a topic, then to a document.
    step = "3-topic";
    await page.click('nav a[data-nav="signals"]');
    await waitReady("back to the signals page", "#emergence-map");
    const topicPoint = page.locator('#emergence-map .signal-point[data-id^="topic-"]').first();
    check((await topicPoint.count()) === 1, "signals page: no .signal-point with a data-id starting with topic-");
    const topicId = await topicPoint.getAttribute("data-id");
    await topicPoint.click();
    await page.waitForFunction(() => location.hash.startsWith("#/topics/"), null, { timeout: WAIT_MS });
    await waitReady(`opening ${topicId}`, "#topic");
    const topicTitle = ((await page.locator("#topic h1").textContent()) || "").trim();
    check(topicTitle.length > 0, `${topicId}: #topic h1 is empty`);
    const docRows = await page.locator("#documents li").count();
    check(docRows >= 1, `${topicId}: #documents has no rows`);
    const timelineBars = await page.locator("#timeline .bar").count();
    check(timelineBars >= 1, `${topicId}: #timeline has no bars`);
    assertClean();
    checked.topic = { id: topicId, title: topicTitle, documents: docRows, timeline_bars: timelineBars };
    await shot("topic.png");

    step = "3-doc";
    const firstDoc = page.locator('#documents a[href^="#/docs/"]').first();
    check((await firstDoc.count()) === 1, `${topicId}: #documents has no link to a document`);
    const docLinkText = ((await firstDoc.textContent()) || "").trim();
    await firstDoc.click();
    await page.waitForFunction(() => location.hash.startsWith("#/docs/"), null, { timeout: WAIT_MS });
    await waitReady("opening a document", "#doc");
    const docTitle = ((await page.locator("#doc h1").textContent()) || "").trim();
    check(docTitle.length > 0, "document page: #doc h1 (title) is empty");
    assertClean();
    checked.doc = { title: docTitle, linked_as: docLinkText };
    await shot("doc.png");

    // Step 4: malicious titles stay text.
    if (XSS_QUERY) {
      step = "4-xss";
      await page.goto(BASE + "/#/search?q=" + encodeURIComponent(XSS_QUERY), { waitUntil: "domcontentloaded" });
      await waitReady(`searching the XSS query "${XSS_QUERY}"`, "#results");
      const xssHits = await page.locator("#results .hit").count();
      check(xssHits >= 1, `XSS query "${XSS_QUERY}": no .hit in #results (the check needs malicious hits)`);
      // Give any injected handler (img onerror) a chance to fire before judging.
      await page.waitForLoadState("load").catch(() => {});
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 100))));
      const xss = await page.evaluate(() => typeof window.__xss === "undefined" ? null : String(window.__xss));
      check(xss === null, `XSS: window.__xss was set to ${xss}: API text ran as code`);
      check(!dialogs.length, `XSS: a dialog opened:\n  ${dialogs.join("\n  ")}`);
      const literal = await page.evaluate(() => [...document.querySelectorAll("#results .hit")].some((h) => h.textContent.includes("<script>")));
      check(literal, "XSS: no .hit shows the literal text <script> (malicious titles must be shown as text)");
      const injected = await page.evaluate(() => document.querySelectorAll("#results script, #results img, #results iframe, #results [onerror], #results [onclick]").length);
      check(injected === 0, `XSS: ${injected} injected element(s) (script/img/iframe/on* attributes) inside #results`);
      const badHrefs = await page.evaluate(() =>
        [...document.querySelectorAll("#results a")].map((a) => a.getAttribute("href") || "").filter((h) => !/^(#|https?:\/\/)/i.test(h.trim()))
      );
      check(badHrefs.length === 0, `XSS: links in #results with non-http(s) hrefs: ${JSON.stringify(badHrefs)}`);
      const jsHrefs = await page.evaluate(() => [...document.querySelectorAll("#results a")].filter((a) => (a.getAttribute("href") || "").trim().toLowerCase().startsWith("javascript:")).length);
      check(jsHrefs === 0, "XSS: a link in #results has a javascript: href");
      await shot("xss.png");
      assertClean();
      checked.xss = { hits: xssHits, window_xss: "undefined", dialogs: 0, literal_script_text: true, javascript_hrefs: 0 };
    }

    // Step 5: the analyst's loop on a server that wants a token.
    if (WRITE_URL) {
      step = "5-token";
      check(WRITE_TOKEN, "WRITE_URL is set but WRITE_TOKEN is not");
      const wp = await context.newPage(); // a new tab: no token in its sessionStorage
      wp.setDefaultTimeout(WAIT_MS);
      const prompts = [];
      const writeErrors = [];
      wp.on("dialog", async (d) => {
        prompts.push(`[${step}] ${d.type()}: ${d.message()}`);
        if (d.type() === "prompt" && /token/i.test(d.message())) await d.accept(WRITE_TOKEN);
        else await d.dismiss();
      });
      wp.on("pageerror", (err) => writeErrors.push(`[${step}] ${err && err.message ? err.message : err}`));
      wp.on("console", (msg) => {
        // the first request is refused until the token is given: that 401 is expected
        if (msg.type() === "error" && !/status of 401/.test(msg.text())) writeErrors.push(`[${step}] ${msg.text()}`);
      });
      const writeOrigin = new URL(WRITE_URL).origin;
      wp.on("request", (req) => {
        const u = req.url();
        if (!u.startsWith("data:") && !u.startsWith("blob:") && u !== "about:blank" && new URL(u).origin !== writeOrigin) writeErrors.push(`[${step}] request to ${u}`);
      });
      const ready = async (what, selector) => {
        await wp.waitForFunction((sel) => document.body && document.body.dataset.state === "ready" && (document.querySelector(sel) !== null || document.querySelector("main .error") !== null), selector, { timeout: WAIT_MS, polling: 50 }).catch(() => fail(`${what}: not ready within ${WAIT_MS / 1000} s`));
        const err = await wp.locator("main .error").first().textContent({ timeout: 200 }).catch(() => null);
        check(err === null, `${what}: the page shows an error box: ${err && err.trim()}`);
      };
      await wp.goto(WRITE_URL + "/", { waitUntil: "domcontentloaded" });
      await ready("loading / with a token", "#signal-list");
      check(prompts.length === 1, `the token was asked ${prompts.length} times (expected once): ${prompts.join("; ")}`);

      // A watch from a signal card: the form comes prefilled.
      step = "5-watch-card";
      await wp.fill("#analyst", "e2e analyst");
      await wp.press("#analyst", "Tab");
      const card = wp.locator("#signal-list .signal").first();
      const cardId = await card.getAttribute("data-id");
      await card.locator(".watch-signal").click();
      await ready("opening the watch form from a card", "#watch-form");
      const prefilled = await wp.inputValue("#watch-text");
      check(prefilled.length > 0, `the watch form from ${cardId} has no target`);
      const cardWatch = (await wp.inputValue("#watch-name")) || "from a card";
      check((await wp.inputValue("#watch-owner")) === "e2e analyst", "the owner is not the analyst's name");
      await wp.click('#watch-form button[type="submit"]');
      await ready("adding a watch from a card", "#watch-list .watch");
      check((await wp.locator("#watch-list .watch", { hasText: cardWatch }).count()) === 1, `the watch ${JSON.stringify(cardWatch)} is not listed`);

      // A watch from a search.
      step = "5-watch-search";
      await wp.goto(WRITE_URL + "/#/search?q=" + encodeURIComponent(SEARCH_QUERY), { waitUntil: "domcontentloaded" });
      await ready("searching on the token server", "#results");
      await wp.click("#watch-search");
      await ready("opening the watch form from a search", "#watch-form");
      check((await wp.inputValue("#watch-text")) === SEARCH_QUERY, "the watch form does not carry the search query");
      check((await wp.inputValue("#watch-kind")) === "query", "a search's watch is not a query watch");
      await wp.fill("#watch-name", "e2e search");
      await wp.click('#watch-form button[type="submit"]');
      await ready("adding a watch from a search", '#watch-list .watch[data-name="e2e search"]');
      // The run's alerts are listed under their watch.
      const fired = await wp.locator('#watch-list .watch[data-name="virus"] .watch-alert').count();
      check(fired >= 1, 'the watch "virus" shows no alerts (the test run fired some)');
      await wp.screenshot({ path: path.join(SHOTS, "watches.png"), fullPage: true });
      checked.screenshots.push(path.join(SHOTS, "watches.png"));

      // A mark: the signal is hidden at the next look, and listed as hidden.
      step = "5-mark";
      await wp.goto(WRITE_URL + "/#/signals", { waitUntil: "domcontentloaded" });
      await ready("back to the signals", "#signal-list");
      const target = wp.locator(`#signal-list .signal[data-id="${cardId}"]`);
      check((await target.count()) === 1, `${cardId} is not on the signals page`);
      await target.locator('button[data-verdict="irrelevant"]').click();
      await wp.waitForFunction((id) => (document.querySelector(`#signal-list .signal[data-id="${id}"] .mark-status`) || {}).textContent === "marked irrelevant", cardId, { timeout: WAIT_MS }).catch(() => fail(`marking ${cardId} irrelevant did not say so`));
      await wp.reload({ waitUntil: "domcontentloaded" });
      await ready("the signals after the mark", "#signal-list");
      check((await wp.locator(`#signal-list .signal[data-id="${cardId}"]`).count()) === 0, `${cardId} is still shown after it was marked irrelevant`);
      const hiddenRow = ((await wp.locator(`#hidden-list li[data-id="${cardId}"]`).textContent().catch(() => "")) || "").trim();
      check(hiddenRow.includes("e2e analyst"), `the hidden list does not name who marked ${cardId}: ${JSON.stringify(hiddenRow)}`);
      check(prompts.length === 1, `the token was asked again: ${prompts.join("; ")}`);
      check(!writeErrors.length, `errors on the token server's pages:\n  ${writeErrors.join("\n  ")}`);
      checked.writes = { watch_from_card: cardWatch, watch_from_search: "e2e search", alerts_listed: fired, marked: cardId, token_prompts: prompts.length };
      await wp.close();
    }

    step = "done";
    assertClean();
    checked.console_errors = 0;
    checked.page_errors = 0;
    checked.foreign_requests = 0;
    console.log(JSON.stringify({ ok: true, ...checked }));
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    if (err instanceof StepFailure) {
      console.error(`FAIL (step ${step}): ${err.message}`);
    } else {
      console.error(`FAIL (step ${step}): unexpected error: ${err && err.stack ? err.stack : err}`);
    }
    process.exit(1);
  }
);
