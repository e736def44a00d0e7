// Real-browser walkthrough of the Gongkai web UI (issue #8), written against
// the page contract in the web UI notes: a clerk uploads a subsidy roll with
// personal data, a reviewer approves and publishes it, a citizen finds,
// filters and downloads it, a researcher counts its rows in the SQL console;
// then accessibility (axe-core), keyboard, security-header, cookie and CSRF
// checks, and screenshots of every main page.
//
//   BASE_URL=http://127.0.0.1:PORT EDITOR_USER=… EDITOR_PASSWORD=… \
//   REVIEWER_USER=… REVIEWER_PASSWORD=… AGENCY=<editor's agency slug> \
//   UPLOAD_FILE=<csv with resident IDs and mobiles> ARTIFACTS=<dir> \
//   [CHROMIUM=/usr/bin/chromium] [E2E_TIMEOUT_MS=240000] \
//   node tests/e2e/walkthrough.mjs
//
// Prints one line per passed step; on failure prints the reason, saves
// failure.png and failure.html into ARTIFACTS and exits 1 (2 for a bad setup).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------ setup

const REQUIRED = [
  'BASE_URL',
  'EDITOR_USER',
  'EDITOR_PASSWORD',
  'REVIEWER_USER',
  'REVIEWER_PASSWORD',
  'AGENCY',
  'UPLOAD_FILE',
  'ARTIFACTS',
];
const missingEnv = REQUIRED.filter((n) => !process.env[n]);
if (missingEnv.length > 0) {
  console.error(`walkthrough: missing environment variable(s): ${missingEnv.join(', ')}`);
  process.exit(2);
}
const BASE = process.env.BASE_URL.replace(/\/+$/, '');
const EDITOR = { user: process.env.EDITOR_USER, password: process.env.EDITOR_PASSWORD };
const REVIEWER = { user: process.env.REVIEWER_USER, password: process.env.REVIEWER_PASSWORD };
const AGENCY = process.env.AGENCY;
const UPLOAD_FILE = path.resolve(process.env.UPLOAD_FILE);
const ARTIFACTS = path.resolve(process.env.ARTIFACTS);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OVERALL_TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 240_000);

const NAV_TIMEOUT = 30_000; // per navigation / action
const UPLOAD_TIMEOUT = 120_000; // upload + ingest until the report page shows

let chromium;
let AXE_PATH;
try {
  ({ chromium } = require('playwright-core'));
  AXE_PATH = require.resolve('axe-core/axe.min.js');
} catch (e) {
  console.error(
    `walkthrough: playwright-core / axe-core are not installed: run \`npm ci\` in tests/e2e (${e.message})`,
  );
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`walkthrough: no Chromium at ${CHROMIUM} (set CHROMIUM)`);
  process.exit(2);
}
if (!fs.existsSync(UPLOAD_FILE)) {
  console.error(`walkthrough: UPLOAD_FILE ${UPLOAD_FILE} does not exist`);
  process.exit(2);
}
fs.mkdirSync(ARTIFACTS, { recursive: true });

// What the upload holds: its data rows and the raw identifiers that must never
// reach a public page, a preview or a download.
const uploadText = fs.readFileSync(UPLOAD_FILE, 'utf8').replace(/^\uFEFF/, '');
const uploadLines = uploadText.split(/\r?\n/).filter((l) => l.trim() !== '');
const DATA_ROWS = uploadLines.length - 1;
const RAW_IDS = [...new Set(uploadText.match(/(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])/g) ?? [])];
const RAW_MOBILES = [...new Set(uploadText.match(/(?<![0-9])1[3-9][0-9]{9}(?![0-9])/g) ?? [])];
const SECRETS = [...RAW_IDS, ...RAW_MOBILES];
if (DATA_ROWS < 1 || SECRETS.length === 0) {
  console.error(
    `walkthrough: UPLOAD_FILE must have a header, ≥1 data row and resident IDs or mobiles ` +
      `(found ${DATA_ROWS} data rows, ${RAW_IDS.length} IDs, ${RAW_MOBILES.length} mobiles)`,
  );
  process.exit(2);
}

const STAMP = Date.now();
const SLUG = `e2e-subsidy-${STAMP}`;
const TITLE = '2024年低保发放名册（测试）';
const SEARCH_TERM = '低保发放名册';
const VERSION_PATH = `/agency/datasets/${SLUG}/versions/1`;
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SUBMIT = ':is(button:not([type]), button[type="submit"], input[type="submit"])';
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// ------------------------------------------------------------- machinery

class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

let browser = null;
let lastPage = null; // the page captured into failure.png / failure.html
const openedPages = [];
const scriptErrors = []; // {where, message}: uncaught page errors and CSP violations (app bugs)
const screenshots = [];
let stepNo = 0;

async function step(name, fn) {
  const started = Date.now();
  try {
    const note = await fn();
    stepNo += 1;
    const ms = Date.now() - started;
    console.log(`ok ${stepNo} - ${name}${note ? ` (${note})` : ''} [${ms} ms]`);
  } catch (e) {
    e.step = name;
    throw e;
  }
}

const url = (p) => `${BASE}${p}`;
const pathOf = (page) => new URL(page.url()).pathname;
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const hidden = (s) => `${s.slice(0, 3)}…${s.slice(-2)}`; // for messages about leaked identifiers

function leaked(text) {
  return SECRETS.filter((s) => text.includes(s));
}

function checkNoLeak(text, where) {
  const found = leaked(text);
  check(
    found.length === 0,
    `${where} contains ${found.length} raw identifier(s) from UPLOAD_FILE (e.g. ${hidden(found[0] ?? '')})`,
  );
}

async function newContext(options = {}) {
  const context = await browser.newContext({
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    ...options,
  });
  context.setDefaultNavigationTimeout(NAV_TIMEOUT);
  context.setDefaultTimeout(NAV_TIMEOUT);
  return context;
}

async function newPage(context, who) {
  const page = await context.newPage();
  page.on('pageerror', (err) => scriptErrors.push({ where: `${who} on ${page.url()}`, message: `uncaught ${err.message}` }));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) {
      scriptErrors.push({ where: `${who} on ${page.url()}`, message: msg.text() });
    }
  });
  lastPage = page;
  openedPages.push(page);
  return page;
}

/** Text of the visible error messages, for failure messages. */
async function alertText(page) {
  const texts = await page
    .locator('[role="alert"]')
    .allInnerTexts()
    .catch(() => []);
  const s = texts
    .map((t) => t.trim().replace(/\s+/g, ' '))
    .filter(Boolean)
    .join(' | ');
  return s ? ` — the page says: ${s}` : '';
}

async function visit(page, p, { allowError = false } = {}) {
  lastPage = page;
  const response = await page.goto(url(p), { waitUntil: 'load' });
  check(response, `GET ${p}: no response`);
  if (!allowError) {
    check(response.status() < 400, `GET ${p} answered ${response.status()}${await alertText(page)}`);
  }
  return response;
}

/** Clicks `locator` and waits for the navigation it causes (form submit or link). */
async function clickAndWait(page, locator, what, timeout = NAV_TIMEOUT) {
  lastPage = page;
  check((await locator.count()) > 0, `${what}: nothing to click on ${pathOf(page)}`);
  const navigation = page.waitForNavigation({ timeout, waitUntil: 'load' });
  await locator.first().click();
  try {
    return await navigation;
  } catch (e) {
    throw new Failure(`${what}: no page load after clicking (${e.message.split('\n')[0]})${await alertText(page)}`);
  }
}

async function submit(page, formSelector, timeout = NAV_TIMEOUT) {
  const form = page.locator(formSelector);
  check((await form.count()) === 1, `${formSelector} not found on ${pathOf(page)}`);
  return clickAndWait(page, form.locator(SUBMIT), `submitting ${formSelector}`, timeout);
}

async function expectPath(page, re, what) {
  check(re.test(pathOf(page)), `${what}: expected a path matching ${re}, the browser is on ${page.url()}${await alertText(page)}`);
}

async function expectStatus(page, want) {
  const el = page.locator('#version-status').first();
  check((await el.count()) === 1, `#version-status missing on ${pathOf(page)}${await alertText(page)}`);
  const text = (await el.innerText()).trim().replace(/\s+/g, ' ');
  const data = (await el.getAttribute('data-status')) ?? '';
  check(
    new RegExp(`\\b${want}\\b`, 'i').test(`${data} ${text}`),
    `#version-status shows "${text}", expected ${want}${await alertText(page)}`,
  );
  return `#version-status: ${text}`;
}

/** Header and body cell texts of the table at (or inside) `selector`. */
async function tableData(page, selector) {
  const el = page.locator(selector).first();
  check((await el.count()) === 1, `${selector} missing on ${pathOf(page)}`);
  const data = await el.evaluate((node) => {
    const table = node.tagName === 'TABLE' ? node : node.querySelector('table');
    if (!table) return null;
    let header = [];
    const rows = [];
    for (const row of table.rows) {
      const cells = [...row.cells];
      const isHeader =
        row.parentElement.tagName === 'THEAD' ||
        (rows.length === 0 && header.length === 0 && cells.every((c) => c.tagName === 'TH'));
      if (isHeader) {
        if (header.length === 0) header = cells.map((c) => c.innerText.trim());
        continue;
      }
      rows.push(cells.map((c) => c.innerText.trim()));
    }
    return { header, rows };
  });
  check(data, `${selector} holds no table`);
  return data;
}

async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  screenshots.push(name);
}

async function login(page, who, shot) {
  await visit(page, '/agency/login');
  const form = page.locator('form#login-form');
  check((await form.count()) === 1, 'form#login-form missing on /agency/login');
  if (shot) await screenshot(page, shot);
  await form.locator('input[name="user"]').fill(who.user);
  await form.locator('input[name="password"]').fill(who.password);
  await submit(page, 'form#login-form');
  await expectPath(page, /^\/agency\/?$/, `signing in as ${who.user}`);
  check(
    (await page.locator('form#logout-form').count()) === 1,
    `signed in as ${who.user}, but there is no form#logout-form in the header`,
  );
}

/** Watches progress#upload-progress; what it saw survives the navigation in sessionStorage. */
function watchProgress() {
  const KEY = 'gongkai-e2e-progress';
  sessionStorage.removeItem(KEY);
  const shown = (el) =>
    !!el &&
    el.isConnected &&
    (typeof el.checkVisibility === 'function'
      ? el.checkVisibility({ opacityProperty: true, visibilityProperty: true })
      : el.getClientRects().length > 0);
  const first = document.getElementById('upload-progress');
  const state = {
    initiallyVisible: shown(first),
    initialValue: first && first.hasAttribute('value') ? Number(first.value) : null,
    visible: false,
    value: null,
    max: first ? first.max : null,
  };
  const record = () => {
    const el = document.getElementById('upload-progress');
    if (!el || !window.__gongkaiE2eSubmitted) return;
    let changed = false;
    if (shown(el) && !state.visible) {
      state.visible = true;
      changed = true;
    }
    if (el.hasAttribute('value')) {
      const v = Number(el.value);
      if (state.value === null || v > state.value) {
        state.value = v;
        state.max = el.max;
        changed = true;
      }
    }
    if (changed) sessionStorage.setItem(KEY, JSON.stringify(state));
  };
  window.__gongkaiE2eSubmitted = false;
  document.addEventListener(
    'submit',
    () => {
      window.__gongkaiE2eSubmitted = true;
      queueMicrotask(record);
      setTimeout(record, 0);
    },
    true,
  );
  new MutationObserver(record).observe(document.documentElement, {
    attributes: true,
    childList: true,
    subtree: true,
  });
  setInterval(record, 5);
  window.addEventListener('pagehide', record);
  sessionStorage.setItem(KEY, JSON.stringify(state));
}

// ------------------------------------------------------------- the walk

async function walkthrough() {
  const clerk = {};
  const reviewer = {};
  const citizen = {};

  // a. Clerk --------------------------------------------------------------
  await step('clerk signs in at /agency/login and lands on /agency', async () => {
    clerk.context = await newContext();
    clerk.page = await newPage(clerk.context, 'clerk');
    await login(clerk.page, EDITOR, 'login.png');
  });

  await step(`clerk creates dataset ${SLUG} through a#new-dataset and form#dataset-form`, async () => {
    const page = clerk.page;
    await clickAndWait(page, page.locator('a#new-dataset'), 'a#new-dataset');
    await expectPath(page, /^\/agency\/datasets\/new\/?$/, 'a#new-dataset');
    const form = page.locator('form#dataset-form');
    check((await form.count()) === 1, 'form#dataset-form missing on /agency/datasets/new');
    check((await form.locator('input[name="csrf"]').count()) === 1, 'form#dataset-form has no hidden csrf field');
    await form.locator('input[name="slug"]').fill(SLUG);
    await form.locator('input[name="title"]').fill(TITLE);
    const description = form.locator('textarea[name="description"]');
    if ((await description.count()) > 0) {
      await description.fill('浏览器端到端测试创建的数据集。Created by the browser walkthrough.');
    }
    const select = form.locator('select[name="agency"]');
    check((await select.count()) === 1, 'form#dataset-form has no select[name="agency"]');
    const options = await select
      .locator('option')
      .evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent.trim() })));
    const option = options.find((o) => o.value === AGENCY) ?? options.find((o) => o.text.includes(AGENCY));
    check(option, `select[name="agency"] offers no ${AGENCY}; options: ${JSON.stringify(options)}`);
    await select.selectOption(option.value);
    const today = new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }); // YYYY-MM-DD
    await form.locator('input[name="decision_date"]').fill(today);
    await submit(page, 'form#dataset-form');
    await expectPath(page, new RegExp(`^/agency/datasets/${escapeRe(SLUG)}/?$`), 'creating the dataset');
    return `agency ${option.value}, decision date ${today}`;
  });

  await step('clerk uploads the CSV in form#upload-form: progress bar shown, lands on …/versions/1', async () => {
    const page = clerk.page;
    const form = page.locator('form#upload-form');
    check((await form.count()) === 1, `form#upload-form missing on ${pathOf(page)}`);
    const input = form.locator('input[type="file"][name="file"]');
    check((await input.count()) === 1, 'form#upload-form has no input[type=file][name="file"]');
    check((await page.locator('progress#upload-progress').count()) === 1, 'progress#upload-progress missing');
    await input.setInputFiles(UPLOAD_FILE);
    await page.evaluate(watchProgress);
    // Slow the upload down (~2 s) so that the progress bar has time to show.
    let cdp = null;
    try {
      cdp = await clerk.context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 20,
        downloadThroughput: -1,
        uploadThroughput: Math.max(512, Math.ceil(fs.statSync(UPLOAD_FILE).size / 2)),
      });
    } catch {
      cdp = null; // throttling is a nicety; the check below still runs
    }
    const versionRe = new RegExp(`^/agency/datasets/${escapeRe(SLUG)}/versions/1/?$`);
    const landed = page.waitForURL((u) => versionRe.test(u.pathname), { timeout: UPLOAD_TIMEOUT, waitUntil: 'load' });
    await form.locator(SUBMIT).first().click();
    try {
      await landed;
    } catch (e) {
      throw new Failure(
        `after the upload the browser is on ${page.url()}, not ${VERSION_PATH} (${e.message.split('\n')[0]})${await alertText(page)}`,
      );
    } finally {
      if (cdp) {
        await cdp
          .send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
          .catch(() => {});
        await cdp.detach().catch(() => {});
      }
    }
    const seen = JSON.parse((await page.evaluate(() => sessionStorage.getItem('gongkai-e2e-progress'))) ?? 'null');
    check(seen, 'could not observe progress#upload-progress during the upload');
    const grew = seen.value !== null && seen.value > (seen.initialValue ?? 0);
    check(
      seen.visible && (!seen.initiallyVisible || grew),
      `progress#upload-progress was not shown during the upload (seen: ${JSON.stringify(seen)})`,
    );
    return seen.value === null ? 'indeterminate progress shown' : `progress reached ${seen.value}/${seen.max}`;
  });

  await step('ingest report lists personal columns in #pii-findings; #redacted-preview holds no raw ID or mobile', async () => {
    const page = clerk.page;
    await page.locator('#pii-findings').first().waitFor({ state: 'attached', timeout: UPLOAD_TIMEOUT });
    for (const id of ['#shape', '#columns', '#redacted-preview']) {
      check((await page.locator(id).count()) > 0, `${id} missing on the ingest report`);
    }
    const findings = await tableData(page, '#pii-findings');
    const personal = findings.rows.filter((r) => r.length >= 2);
    check(personal.length >= 1, `#pii-findings lists no personal column (rows: ${JSON.stringify(findings.rows)})`);
    const preview = await tableData(page, '#redacted-preview');
    check(preview.rows.length >= 1, '#redacted-preview shows no rows');
    checkNoLeak(await page.locator('#redacted-preview').first().evaluate((e) => e.outerHTML), '#redacted-preview');
    await screenshot(page, 'report.png');
    const kinds = personal.map((r) => r.slice(0, 2).join(':')).join(', ');
    return `${personal.length} personal column(s): ${kinds}; ${preview.rows.length} redacted row(s)`;
  });

  await step('clerk submits the version for review (form#submit-form): #version-status shows submitted', async () => {
    const page = clerk.page;
    const form = page.locator('form#submit-form');
    check((await form.count()) === 1, 'form#submit-form missing on the ingest report');
    const note = form.locator(':is(textarea, input[name="change_note"])');
    if ((await note.count()) > 0) await note.first().fill('端到端测试提交 / e2e submission');
    await submit(page, 'form#submit-form');
    await expectPath(page, new RegExp(`^/agency/datasets/${escapeRe(SLUG)}/versions/1/?$`), 'submitting for review');
    return expectStatus(page, 'submitted');
  });

  await step('clerk dashboard #my-datasets links to the new dataset', async () => {
    const page = clerk.page;
    await visit(page, '/agency');
    const link = page.locator(`#my-datasets a[href*="/agency/datasets/${SLUG}"]`);
    check((await link.count()) > 0, `#my-datasets has no link to /agency/datasets/${SLUG}`);
    await screenshot(page, 'dashboard.png');
  });

  // b. Reviewer -----------------------------------------------------------
  await step('reviewer signs in and finds the version in #review-queue', async () => {
    reviewer.context = await newContext();
    reviewer.page = await newPage(reviewer.context, 'reviewer');
    const page = reviewer.page;
    await login(page, REVIEWER);
    check((await page.locator('#review-queue-link').count()) > 0, 'the reviewer dashboard has no #review-queue-link');
    await visit(page, '/agency/review');
    const link = page.locator(`#review-queue a[href*="/agency/datasets/${SLUG}/versions/1"]`);
    check((await link.count()) > 0, `#review-queue has no link to ${VERSION_PATH}`);
    await screenshot(page, 'review.png');
    await clickAndWait(page, link, 'the review queue link');
    await expectPath(page, new RegExp(`^/agency/datasets/${escapeRe(SLUG)}/versions/1/?$`), 'opening the queued version');
  });

  await step('reviewer approves (form#approve-form, both confirmations) and publishes now (form#publish-form)', async () => {
    const page = reviewer.page;
    const approve = page.locator('form#approve-form');
    check((await approve.count()) === 1, 'form#approve-form missing for the reviewer');
    await approve.locator('input[name="confidentiality_reviewed"]').check();
    await approve.locator('input[name="redaction_confirmed"]').check();
    await submit(page, 'form#approve-form');
    await expectStatus(page, 'approved');
    const publish = page.locator('form#publish-form');
    check((await publish.count()) === 1, 'form#publish-form missing after approval');
    const at = publish.locator('input[name="at"]');
    if ((await at.count()) > 0) await at.fill('');
    await submit(page, 'form#publish-form');
    return expectStatus(page, 'published');
  });

  // c. Citizen ------------------------------------------------------------
  await step(`citizen searches for "${SEARCH_TERM}" from / and finds the dataset in #results`, async () => {
    citizen.context = await newContext();
    citizen.page = await newPage(citizen.context, 'citizen');
    const page = citizen.page;
    await visit(page, '/');
    await screenshot(page, 'home.png');
    const form = page.locator('form[role="search"]');
    check((await form.count()) > 0, 'no form[role="search"] on /');
    await form.locator('input#q').fill(SEARCH_TERM);
    await clickAndWait(page, form.locator(SUBMIT), 'the search button');
    await expectPath(page, /^\/datasets\/?$/, 'searching');
    const hit = page.locator(`#results article.result a[href$="/datasets/${SLUG}"]`);
    // The search index may trail the publication by a moment.
    for (let attempt = 0; attempt < 10 && (await hit.count()) === 0; attempt += 1) {
      await page.waitForTimeout(1000);
      await page.reload({ waitUntil: 'load' });
    }
    check((await hit.count()) > 0, `#results has no article.result linking to /datasets/${SLUG}`);
    const count = await page.locator('#result-count').first().innerText().catch(() => '');
    await screenshot(page, 'search.png');
    await clickAndWait(page, hit, 'the search result');
    await expectPath(page, new RegExp(`^/datasets/${escapeRe(SLUG)}/?$`), 'opening the result');
    return count.trim() ? `#result-count: ${count.trim().replace(/\s+/g, ' ')}` : undefined;
  });

  await step('dataset page shows the title, a preview and no raw identifiers', async () => {
    const page = citizen.page;
    const h1 = (await page.locator('h1').first().innerText()).trim();
    check(h1.includes(TITLE), `the dataset page h1 is "${h1}", expected it to contain ${TITLE}`);
    const preview = await tableData(page, '#preview-table');
    check(preview.rows.length >= 1, '#preview-table shows no rows');
    checkNoLeak(await page.content(), `the public page /datasets/${SLUG}`);
    const ld = await page.locator('script[type="application/ld+json"]').allTextContents();
    check(ld.length > 0, 'no script[type="application/ld+json"] on the dataset page');
    for (const text of ld) {
      try {
        JSON.parse(text);
      } catch (e) {
        throw new Failure(`the JSON-LD does not parse: ${e.message}`);
      }
    }
    check(ld.join('').includes('Dataset'), 'the JSON-LD describes no schema.org Dataset');
    await screenshot(page, 'dataset.png');
    return `${preview.rows.length} preview row(s), ${preview.header.length} column(s)`;
  });

  await step('citizen filters the preview (form#preview-filter, op eq): every row matches', async () => {
    const page = citizen.page;
    const before = await tableData(page, '#preview-table');
    const form = page.locator('form#preview-filter');
    check((await form.count()) === 1, 'form#preview-filter missing');
    const options = await form
      .locator('select[name="column"] option')
      .evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent.trim() })));
    check(options.length > 0, 'select[name="column"] offers no columns');
    const norm = (s) => s.replace(/[\s▲▼↑↓⇅⇵]/g, '');
    // A column option matches the preview header showing its label or its (ASCII) name.
    const headerIndex = (header, o) => {
      const h = header.map(norm);
      const tokens = header.map((x) => x.split(/\s+/).filter(Boolean));
      const text = norm(o.text);
      const value = norm(o.value);
      const tries = [
        (i) => h[i] === text,
        (i) => h[i] === value,
        (i) => tokens[i].includes(o.value),
        (i) => value !== '' && h[i].includes(value),
        (i) => text !== '' && h[i] !== '' && (h[i].includes(text) || text.includes(h[i])),
      ];
      for (const t of tries) {
        const i = h.findIndex((_, j) => t(j));
        if (i >= 0) return i;
      }
      return -1;
    };
    const first = before.rows[0];
    const candidates = options
      .map((o) => ({ ...o, index: headerIndex(before.header, o) }))
      .filter((o) => o.index >= 0 && (first[o.index] ?? '') !== '')
      .map((o) => ({ ...o, sample: first[o.index] }))
      .map((o) => ({
        ...o,
        rank:
          (/村|社区/.test(o.text + before.header[o.index]) ? 0 : 2) +
          (/^[-+]?[\d.,\s]+$/.test(o.sample) || o.sample.includes('*') ? 1 : 0),
      }))
      .sort((a, b) => a.rank - b.rank);
    check(
      candidates.length > 0,
      `no filterable column: options ${JSON.stringify(options)}, preview header ${JSON.stringify(before.header)}`,
    );
    const pick = candidates[0];
    await form.locator('select[name="column"]').selectOption(pick.value);
    await form.locator('select[name="op"]').selectOption('eq');
    await form.locator('input[name="value"]').fill(pick.sample);
    await clickAndWait(page, form.locator(SUBMIT), 'the preview filter');
    const after = await tableData(page, '#preview-table');
    check(after.rows.length >= 1, `filtering ${pick.text} = "${pick.sample}" left no rows${await alertText(page)}`);
    const idx = headerIndex(after.header, pick);
    check(idx >= 0, `after filtering, the preview has no column for ${pick.text}`);
    const bad = after.rows.filter((r) => (r[idx] ?? '') !== pick.sample);
    check(
      bad.length === 0,
      `${bad.length} of ${after.rows.length} filtered row(s) do not have ${pick.text} = "${pick.sample}": ${JSON.stringify(bad.slice(0, 3))}`,
    );
    return `${pick.text} = "${pick.sample}": ${after.rows.length} of ${before.rows.length} row(s)`;
  });

  await step('citizen downloads data.csv from #downloads: header + every row, no raw identifiers', async () => {
    const page = citizen.page;
    const link = page.locator('#downloads a[href$="data.csv"]');
    check((await link.count()) > 0, '#downloads has no link ending data.csv');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: NAV_TIMEOUT }),
      link.first().click(),
    ]);
    const saved = path.join(ARTIFACTS, 'download-data.csv');
    await download.saveAs(saved);
    const text = fs.readFileSync(saved, 'utf8').replace(/^\uFEFF/, '');
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    check(lines.length >= 2, `the downloaded CSV has ${lines.length} line(s), expected a header and ≥1 data row`);
    check(lines[0].includes(','), `the downloaded CSV's first line is not a header: ${lines[0]}`);
    check(
      lines.length - 1 === DATA_ROWS,
      `the downloaded CSV has ${lines.length - 1} data row(s), UPLOAD_FILE has ${DATA_ROWS}`,
    );
    checkNoLeak(text, 'the downloaded data.csv');
    return `${download.suggestedFilename()}: ${lines.length - 1} data row(s)`;
  });

  // d. Researcher ---------------------------------------------------------
  await step('researcher counts the rows in the SQL console (/sql, textarea#sql, button#run)', async () => {
    const context = await newContext();
    const page = await newPage(context, 'researcher');
    await visit(page, '/sql');
    const sql = `SELECT count(*) AS n FROM "${SLUG}"`;
    await page.locator('textarea#sql').fill(sql);
    await clickAndWait(page, page.locator('button#run'), 'button#run');
    const result = await tableData(page, 'table#result').catch(async (e) => {
      throw new Failure(`${e.message}${await alertText(page)}`);
    });
    check(result.rows.length === 1, `table#result has ${result.rows.length} row(s), expected 1`);
    const col = Math.max(0, result.header.findIndex((h) => h.trim() === 'n'));
    const n = Number((result.rows[0][col] ?? '').replace(/[,\s]/g, ''));
    check(n === DATA_ROWS, `${sql} answered ${result.rows[0][col]}, UPLOAD_FILE has ${DATA_ROWS} data rows`);
    await screenshot(page, 'sql.png');

    await page.locator('textarea#sql').fill('SELEC 1');
    await clickAndWait(page, page.locator('button#run'), 'button#run (invalid query)');
    const alert = page.locator('[role="alert"]').filter({ hasText: /\S/ });
    check((await alert.count()) > 0, 'the invalid query SELEC 1 shows no [role="alert"] error');
    await alert.first().waitFor({ state: 'visible' });
    const message = (await alert.first().innerText()).trim().replace(/\s+/g, ' ');
    await context.close();
    return `count = ${n}; SELEC 1 → "${message.slice(0, 80)}"`;
  });

  // e. Accessibility ------------------------------------------------------
  await step('axe-core (WCAG 2.1 A/AA): no serious or critical violations', async () => {
    const anonymous = await newContext({ bypassCSP: true });
    const signedIn = await newContext({ bypassCSP: true });
    const signedInPage = await newPage(signedIn, 'a11y clerk');
    await login(signedInPage, EDITOR);
    const reviewing = await newContext({ bypassCSP: true });
    const reviewingPage = await newPage(reviewing, 'a11y reviewer');
    await login(reviewingPage, REVIEWER);
    const anonymousPage = await newPage(anonymous, 'a11y');
    const targets = [
      [anonymousPage, '/'],
      [anonymousPage, '/datasets'],
      [anonymousPage, `/datasets/${SLUG}`],
      [anonymousPage, '/sql'],
      [anonymousPage, '/agency/login'],
      [signedInPage, '/agency'],
      [signedInPage, VERSION_PATH],
      [reviewingPage, '/agency/review'],
    ];
    const all = {};
    const serious = [];
    const summary = [];
    for (const [page, p] of targets) {
      await visit(page, p);
      await page.addScriptTag({ path: AXE_PATH });
      const results = await page.evaluate(
        (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
        AXE_TAGS,
      );
      all[p] = results;
      const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      for (const v of bad) serious.push({ page: p, v });
      summary.push(`${p}: ${results.violations.length} violation(s), ${bad.length} serious/critical`);
    }
    fs.writeFileSync(path.join(ARTIFACTS, 'axe-results.json'), JSON.stringify(all, null, 2));
    await Promise.all([anonymous.close(), signedIn.close(), reviewing.close()]);
    for (const line of summary) console.log(`   axe ${line}`);
    if (serious.length > 0) {
      for (const { page, v } of serious) {
        const targetsText = v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join(' ; ');
        console.error(`   ${page}: ${v.id} [${v.impact}] ${v.help} — ${targetsText}`);
      }
      throw new Failure(`${serious.length} serious/critical accessibility violation(s) (details above; axe-results.json)`);
    }
    return `${targets.length} pages; results in axe-results.json`;
  });

  // f. Keyboard -----------------------------------------------------------
  await step('keyboard: the first Tab focuses a.skip-link, which leads into main; further Tabs reach visible elements', async () => {
    const context = await newContext();
    const page = await newPage(context, 'keyboard');
    await visit(page, '/');
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => {
      const a = document.activeElement;
      const r = a.getBoundingClientRect();
      return {
        isSkip: a.matches('a.skip-link'),
        href: a.getAttribute('href'),
        describe: `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}.${[...a.classList].join('.')}`,
        onScreen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
      };
    });
    check(skip.isSkip, `the first Tab focuses ${skip.describe}, not a.skip-link`);
    check(skip.href === '#main', `a.skip-link points to ${skip.href}, not #main`);
    check(skip.onScreen, 'a.skip-link is not visible on screen when focused');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    const intoMain = await page.evaluate(() => ({
      hash: location.hash,
      inMain: !!document.getElementById('main')?.contains(document.activeElement),
    }));
    check(intoMain.hash === '#main', `activating the skip link leaves the URL hash at "${intoMain.hash}"`);
    check(intoMain.inMain, 'after the skip link, Tab does not move focus into main#main');

    await visit(page, '/');
    const reached = [];
    for (let i = 0; i < 5; i += 1) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const a = document.activeElement;
        const visible =
          a && a !== document.body && (typeof a.checkVisibility === 'function' ? a.checkVisibility() : a.getClientRects().length > 0);
        return {
          body: !a || a === document.body || a === document.documentElement,
          visible,
          describe: a ? `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}` : 'nothing',
        };
      });
      check(!f.body, `Tab #${i + 1} leaves focus on the document body`);
      check(f.visible, `Tab #${i + 1} focuses an invisible element (${f.describe})`);
      reached.push(f.describe);
    }
    await context.close();
    return reached.join(' → ');
  });

  // g. Security -----------------------------------------------------------
  await step('security headers: CSP default-src \'self\' + frame-ancestors \'none\', nosniff', async () => {
    const page = clerk.page;
    lastPage = page;
    for (const p of ['/', '/agency/login', `/datasets/${SLUG}`]) {
      const r = await page.request.get(url(p), { maxRedirects: 0, timeout: NAV_TIMEOUT });
      const h = r.headers();
      const csp = h['content-security-policy'] ?? '';
      check(csp.includes("default-src 'self'"), `${p}: content-security-policy "${csp}" lacks default-src 'self'`);
      check(csp.includes("frame-ancestors 'none'"), `${p}: content-security-policy "${csp}" lacks frame-ancestors 'none'`);
      check(
        (h['x-content-type-options'] ?? '').toLowerCase() === 'nosniff',
        `${p}: x-content-type-options is "${h['x-content-type-options'] ?? ''}", expected nosniff`,
      );
    }
  });

  await step('session cookie is HttpOnly and SameSite=Strict', async () => {
    lastPage = clerk.page;
    const cookies = await clerk.context.cookies(BASE);
    const sessions = cookies.filter((c) => /sess/i.test(c.name));
    check(
      sessions.length > 0,
      `no session cookie after signing in (cookies: ${cookies.map((c) => c.name).join(', ') || 'none'})`,
    );
    for (const c of sessions) {
      check(c.httpOnly === true, `cookie ${c.name} is not HttpOnly`);
      check(c.sameSite === 'Strict', `cookie ${c.name} has SameSite=${c.sameSite}, expected Strict`);
    }
    return sessions.map((c) => c.name).join(', ');
  });

  await step('a signed-in POST to /agency/datasets/new without the csrf field is refused with 403', async () => {
    const page = clerk.page;
    await visit(page, '/agency');
    await expectPath(page, /^\/agency\/?$/, 'the clerk is still signed in');
    const forged = `e2e-forged-${STAMP}`;
    const r = await page.request.post(url('/agency/datasets/new'), {
      form: { slug: forged, title: '伪造请求', agency: AGENCY, decision_date: '2024-01-01' },
      maxRedirects: 0,
      timeout: NAV_TIMEOUT,
    });
    check(r.status() === 403, `POST /agency/datasets/new without csrf answered ${r.status()}, expected 403`);
    const after = await page.request.get(url(`/agency/datasets/${forged}`), { maxRedirects: 0, timeout: NAV_TIMEOUT });
    check(after.status() >= 400, `the forged dataset ${forged} exists anyway (GET answered ${after.status()})`);
  });

  // h. Language and screenshots ------------------------------------------
  await step('html lang is zh-CN by default and en with ?lang=en', async () => {
    const context = await newContext();
    const page = await newPage(context, 'english');
    await visit(page, '/');
    const zh = await page.evaluate(() => document.documentElement.lang);
    check(zh === 'zh-CN', `/ has html lang="${zh}", expected zh-CN`);
    check((await page.locator('a#lang-switch').count()) > 0, 'no a#lang-switch on /');
    await visit(page, '/?lang=en');
    const en = await page.evaluate(() => document.documentElement.lang);
    check(en === 'en', `/?lang=en has html lang="${en}", expected en`);
    await screenshot(page, 'home-en.png');
    await context.close();
  });

  await step('no uncaught script errors or CSP violations in any page', async () => {
    const unique = new Map(); // message → pages it happened on
    for (const { where, message } of scriptErrors) {
      if (!unique.has(message)) unique.set(message, []);
      unique.get(message).push(where);
    }
    const lines = [...unique].slice(0, 8).map(([message, wheres]) => {
      const more = wheres.length > 1 ? ` (and ${wheres.length - 1} more page(s))` : '';
      return `${wheres[0]}${more}: ${message.slice(0, 300)}`;
    });
    check(
      scriptErrors.length === 0,
      `${scriptErrors.length} script error(s) / CSP violation(s), ${unique.size} distinct:\n   ${lines.join('\n   ')}`,
    );
  });

  await step('screenshots saved', async () => {
    const wanted = ['home.png', 'search.png', 'dataset.png', 'sql.png', 'login.png', 'dashboard.png', 'report.png', 'review.png', 'home-en.png'];
    for (const name of wanted) {
      const file = path.join(ARTIFACTS, name);
      check(fs.existsSync(file) && fs.statSync(file).size > 0, `screenshot ${name} is missing`);
    }
    return `${wanted.length} in ${ARTIFACTS}`;
  });
}

// ------------------------------------------------------------------ main

async function captureFailure() {
  const page = [lastPage, ...openedPages.slice().reverse()].find((p) => p && !p.isClosed());
  if (!page) return;
  try {
    await page.screenshot({ path: path.join(ARTIFACTS, 'failure.png'), fullPage: true, timeout: 10_000 });
    fs.writeFileSync(path.join(ARTIFACTS, 'failure.html'), await page.content());
    console.error(`   the browser was on ${page.url()}; saved failure.png and failure.html in ${ARTIFACTS}`);
  } catch (e) {
    console.error(`   could not save the failure page: ${e.message.split('\n')[0]}`);
  }
}

let failed = false;
let deadline;
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: NAV_TIMEOUT });
  console.log(`# Chromium ${browser.version()} against ${BASE}; dataset ${SLUG}; ${DATA_ROWS} data rows, ${RAW_IDS.length} IDs, ${RAW_MOBILES.length} mobiles`);
  await Promise.race([
    walkthrough(),
    new Promise((_, reject) => {
      deadline = setTimeout(() => reject(new Failure(`the walkthrough took longer than ${OVERALL_TIMEOUT} ms`)), OVERALL_TIMEOUT);
    }),
  ]);
  console.log(`# all ${stepNo} steps passed; screenshots in ${ARTIFACTS}`);
} catch (e) {
  failed = true;
  const where = e.step ? `step "${e.step}"` : 'setup';
  console.error(`not ok - ${where}: ${e.message}`);
  if (!(e instanceof Failure) && e.stack) console.error(e.stack.split('\n').slice(1, 6).join('\n'));
  await captureFailure();
} finally {
  clearTimeout(deadline);
  if (browser) await browser.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
