// Helpers of the browser tests of the page as people use it (t/browser/arrivals, status,
// compose, times, a11y, phone, weight): pages watched for console errors, page errors and
// Content-Security-Policy violations, posts with text like people's, the live status, and
// the directory the suite writes its screenshots to.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { reportCspViolations } from './browser.mjs';
import { TOP, cookieFor, request } from './harness.mjs';

// Screenshots of the page (desktop and phone, light and dark) for a person to look at.
export const SHOTS = process.env.TWEETSSE_SCREENSHOTS || path.join(TOP, 'build/screenshots');

export function shotPath(name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  return path.join(SHOTS, `${name}.png`);
}

// A page in a fresh context of `browser` (its own visitor), under the module's own policy.
// Console errors, page errors and policy violations go to `problems`, unless a function of
// `allow` (given {text, url}) accepts them. Returns the page; page.allow is that list, which a
// test may change for a while.
export async function openPage(browser, problems, label, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 },
    ...contextOptions });
  await reportCspViolations(context);
  return watchedPage(context, problems, label);
}

// A new page of an existing context, watched as openPage's are.
export async function watchedPage(context, problems, label) {
  const page = await context.newPage();
  page.allow = [];
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const msg = { text: m.text(), url: m.location().url || '' };
    if (!page.allow.some((f) => f(msg))) problems.push(`${label}: console error: ${msg.text} (${msg.url})`);
  });
  return page;
}

// What a failed request and htmx's report of it log (allowances for page.allow).
export const failedLoad = (what) => (m) => m.text.startsWith('Failed to load resource') &&
  (!what || m.text.includes(what));
export const htmxLogs = (m) => /\/lib\/htmx\.min\.js/.test(m.url) &&
  (m.text === 'Event' || /^htmx:|^Response Status Error Code/.test(m.text));

// Console messages arrive asynchronously, in the order the page logged them: once a marker
// logged now is in, so is everything logged before.
let markers = 0;
export async function consoleSettled(page) {
  const marker = `tweetsse-test-marker-${++markers}`;
  const seen = page.waitForEvent('console', { predicate: (m) => m.text() === marker,
    timeout: 10000 });
  await page.evaluate((text) => console.debug(text), marker);
  await seen;
}

// Text like people's: sentences of different lengths from a vocabulary, the same every run.
const WORDS = ('the a to of and in is it you that for on was with as I his they be at one '
  + 'have this from or had by hot word but what some we can out other were all there when up '
  + 'use your how said an each she which do their time if will way about many then them write '
  + 'would like so these her long make thing see him two has look more day could go come did '
  + 'number sound no most people my over know water than call first who may down side been '
  + 'now find coffee train weather Monday tonight meeting release finally great idea anyone '
  + 'really thanks lunch deploy server browser stream feed page latency Redis Apache morning')
  .split(' ');
export function sentence(i) {
  let x = (i + 1) * 2654435761 % 4294967296;
  const next = () => { x = (x * 1664525 + 1013904223) % 4294967296; return x; };
  const n = 4 + (next() % 22);
  const words = [];
  for (let k = 0; k < n; k++) words.push(WORDS[next() % WORDS.length]);
  const text = words.join(' ');
  return `${text[0].toUpperCase()}${text.slice(1)}${['.', '!', '?', '...'][next() % 4]}`;
}

// Post n posts like people's through `base` (JSON), ten an author (the shipped rate limit
// allows bursts of ten). Returns their ids, oldest first.
export async function seed(base, n, prefix = 'Seeder') {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const username = `${prefix}${Math.floor(i / 10)}`;
    const res = await request('POST', `${base}home`, {
      headers: { 'Content-Type': 'application/json', Cookie: cookieFor(username) },
      body: JSON.stringify({ username, message: sentence(i) }),
    });
    if (res.status !== 201) throw new Error(`seed: ${res.status} ${res.body}`);
    ids.push(JSON.parse(res.body).id);
  }
  return ids;
}

// Wait until the page's live status says `state` (data-state of #live-status).
export function waitState(page, state, timeout = 10000) {
  return page.waitForFunction((s) => document.getElementById('live-status')
    ?.getAttribute('data-state') === s, state, { timeout });
}

// Wait until the polite live region says something matching `re` (a RegExp source).
export function waitAnnounced(page, re, timeout = 10000) {
  return page.waitForFunction((src) => new RegExp(src).test(
    document.getElementById('announce')?.textContent ?? ''), re.source, { timeout });
}

// Resolve once the page has painted twice more (layout shifts are reported with a frame).
export const frames = (page) => page.evaluate(() => new Promise((r) =>
  requestAnimationFrame(() => requestAnimationFrame(() => r()))));

export const sha12 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file))
  .digest('hex').slice(0, 12);

// axe-core (pinned in package.json), WCAG 2.1 A/AA and best practices: the violations it finds
// on the page as it is now, [{id, impact, nodes}]. It is added with page.addScriptTag, which
// the module's policy refuses: the page's context must bypass it (bypassCSP).
const AXE = path.join(TOP, 'node_modules/axe-core/axe.min.js');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
export async function axe(page) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ path: AXE });
  const res = await page.evaluate((values) => window.axe.run(document,
    { runOnly: { type: 'tag', values } }), TAGS);
  return res.violations.map((v) => ({ id: v.id, impact: v.impact,
    nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`) }));
}
