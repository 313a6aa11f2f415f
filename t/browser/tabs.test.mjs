// Browser test: many tabs of one browser profile (one playwright context) share one event
// stream. Ten tabs load at once within 2 s each, a post from any tab reaches all of them
// within 1 s, the server sees one stream for the whole browser, and the stream changes
// hands when its tab closes, with no gap and no duplicate. The page runs under the module's
// own Content-Security-Policy; no page may violate it, log an error or ask for anything off
// 127.0.0.1.
//
// Run: node --test t/browser/tabs.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_CSP, launchChromium, reportCspViolations } from '../lib/browser.mjs';
import { post, request, startApache, startRedis, tempDir, waitForLines, within }
  from '../lib/harness.mjs';

const TABS = 10;

let redis, web, browser, context, forensicLog;
const tabs = [];
const requests = []; // every URL any tab asked for
const problems = []; // console errors, page errors, CSP violations

before(async () => {
  redis = await startRedis();
  // mod_log_forensic logs each request as it starts (+id|request line) and as it ends (-id):
  // the streams open on the server are its + lines for home/sse without their - line yet.
  // That holds while each stream is a request in progress, i.e. on its worker thread
  // (TweetsseDelivery thread): a stream handed to the delivery thread ends its request.
  forensicLog = path.join(tempDir('tabs-log'), 'forensic.log');
  web = await startApache({ redis: redis.addr, extraConf: [
    'LoadModule log_forensic_module /usr/lib/apache2/modules/mod_log_forensic.so',
    `ForensicLog "${forensicLog}"`,
    'TweetsseDelivery thread',
  ].join('\n') });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  await reportCspViolations(context);
  context.on('request', (r) => requests.push(r.url()));
});

after(async () => {
  await browser?.close();
  await web?.stop();
  await redis?.stop();
});

// The server's streams from forensic log lines: how many were asked for, how many are open.
function streams(lines) {
  const open = new Set();
  let started = 0;
  for (const l of lines) {
    const m = /^([+-])([^|]+)(?:\|GET (\S+))?/.exec(l);
    if (!m) continue;
    if (m[1] === '+' && m[3] && new URL(m[3], web.base).pathname === '/home/sse') {
      started++;
      open.add(m[2]);
    } else if (m[1] === '-') open.delete(m[2]);
  }
  return { started, open: open.size };
}
const readLines = () => fs.readFileSync(forensicLog, 'utf8').split('\n').filter(Boolean);
const serverStreams = () => streams(readLines());
// Wait until the server's stream counts are `want` (a closed stream's end is logged as soon
// as the server notices the hang-up).
const serverStreamsAre = (want, what) => waitForLines(forensicLog, (lines) => {
  const s = streams(lines);
  const started = Array.isArray(want.started) ? want.started : [want.started, want.started];
  return s.started >= started[0] && s.started <= started[1] && s.open === want.open;
}, { timeoutMs: 5000, what }).catch((e) => {
  throw new Error(`${e.message}: ${JSON.stringify(serverStreams())}`);
});
const streamsRequested = () => requests.filter((u) => new URL(u).pathname === '/home/sse');

function watch(page, label) {
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
}

// Post ids on a page, top first.
const feedIds = (page) => page.$$eval('#feed > article', (as) => as.map((a) => a.id));

async function serverIds() {
  const res = await request('GET', web.base);
  assert.equal(res.status, 200);
  return [...res.body.matchAll(/<article [^>]*id="(post-[^"]+)"/g)].map((m) => m[1]);
}

// In every page: resolve with Date.now() once a card with this text is the feed's top card.
function arrivals(pages, text) {
  return Promise.all(pages.map((p) => p.evaluate((want) => new Promise((resolve) => {
    const feed = document.getElementById('feed');
    const check = () => feed.firstElementChild?.querySelector('.tw-msg')?.textContent === want;
    if (check()) { resolve(Date.now()); return; }
    const obs = new MutationObserver(() => {
      if (check()) { obs.disconnect(); resolve(Date.now()); }
    });
    obs.observe(feed, { childList: true });
  }), text)));
}

// Post `text` from `page` with its form; resolves with the latency to the slowest of `pages`.
async function postAndMeasure(page, pages, text) {
  const landed = arrivals(pages, text);
  await page.fill('#message', text);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  const clicked = Date.now();
  await page.getByRole('button', { name: 'Tweet' }).click();
  const res = await within(posted, 1000, 'the POST to be answered');
  assert.equal(res.status(), 204);
  const times = await within(landed, 5000, 'the post to reach every tab');
  return { id: `post-${res.headers()['x-post-id']}`, latencies: times.map((t) => t - clicked) };
}

async function assertAllComplete(pages) {
  const want = await serverIds();
  for (const [i, p] of pages.entries()) {
    const got = await feedIds(p);
    assert.equal(new Set(got).size, got.length, `tab ${i}: duplicate cards: ${got}`);
    assert.deepEqual(got, want, `tab ${i} shows every post once, newest first`);
  }
}

test(`${TABS} tabs of one browser load within 2 s each and share one stream`, async (t) => {
  // Something to show, so that the pages are not empty.
  for (let i = 0; i < 3; i++) {
    assert.equal((await post(web.base, { username: 'Seed', message: `seed ${i}` })).status, 201);
  }
  const loads = [];
  for (let i = 0; i < TABS; i++) {
    const page = await context.newPage();
    watch(page, `tab ${i + 1}`);
    tabs.push(page);
    // The first tab's stream must be open before the rest: with one stream per tab the
    // seventh tab would then wait for a free connection forever.
    const stream = i === 0 ? page.waitForResponse((r) => r.url().includes('/home/sse')) : null;
    const start = Date.now();
    const res = await page.goto(web.base, { timeout: 2000 });
    loads.push(Date.now() - start);
    assert.equal(res.headers()['content-security-policy'], DEFAULT_CSP);
    if (stream) assert.equal((await within(stream, 2000, 'the first stream')).status(), 200);
  }
  t.diagnostic(`tab load times (ms): ${loads.join(', ')}`);
  assert.ok(Math.max(...loads) < 2000);
  assert.equal(streamsRequested().length, 1, 'one stream for the whole browser');
  assert.deepEqual(serverStreams(), { started: 1, open: 1 }, 'the server has one stream');
  await assertAllComplete(tabs);
  assert.deepEqual(problems, []);
});

test('a post from the last tab reaches all tabs within 1 s; a draft elsewhere stays', async (t) => {
  const drafter = tabs[4];
  const draft = 'A draft in tab 5, not finished';
  await drafter.click('#message');
  await drafter.keyboard.insertText(draft);
  for (let i = 0; i < 6; i++) await drafter.keyboard.press('ArrowLeft');
  const caret = draft.length - 6;
  const state = () => drafter.evaluate(() => {
    const ta = document.getElementById('message');
    return { value: ta.value, start: ta.selectionStart, end: ta.selectionEnd };
  });
  assert.deepEqual(await state(), { value: draft, start: caret, end: caret });

  const { latencies } = await postAndMeasure(tabs[TABS - 1], tabs,
    `From tab ${TABS} at ${new Date().toISOString()} <i>as text</i>`);
  t.diagnostic(`post -> all ${TABS} tabs (ms): ${latencies.join(', ')}`);
  assert.ok(Math.max(...latencies) < 1000, `slowest tab: ${Math.max(...latencies)} ms`);
  assert.deepEqual(await state(), { value: draft, start: caret, end: caret });
  assert.equal(await tabs[0].locator('#feed > article').first().locator('.tw-msg i').count(), 0);
  await assertAllComplete(tabs);
  assert.deepEqual(serverStreams(), { started: 1, open: 1 });
  assert.deepEqual(problems, []);
});

test('a tab gets the posts made between its render and joining the shared stream', async () => {
  // Hold the new tab's script back until a post has reached the other tabs.
  const page = await context.newPage();
  watch(page, 'late tab');
  let postedId = null;
  await page.route((url) => url.pathname.endsWith('/lib/tweetsse.js'), async (route) => {
    const res = await post(web.base, { username: 'Between', message: 'after the render' });
    postedId = `post-${JSON.parse(res.body).id}`;
    await tabs[0].waitForSelector(`#${postedId}`, { timeout: 2000 });
    await route.continue();
  });
  await page.goto(web.base, { timeout: 2000 });
  assert.ok(postedId);
  await page.waitForSelector(`#${postedId}`, { timeout: 1000 });
  await assertAllComplete([...tabs, page]);
  await page.close();
  assert.deepEqual(serverStreams(), { started: 1, open: 1 });
  assert.deepEqual(problems, []);
});

test('closing tabs, the first among them, hands the stream on; no gap, no duplicate',
  async (t) => {
    const closing = [tabs[0], tabs[1], tabs[6]];
    const takeover = context.waitForEvent('response',
      { predicate: (r) => r.url().includes('/home/sse'), timeout: 5000 });
    for (const p of closing) await p.close();
    const rest = tabs.filter((p) => !closing.includes(p));
    const res = await takeover;
    assert.equal(res.status(), 200);
    // The new stream resumes from the newest post its tab has.
    const newest = (await feedIds(rest[0]))[0].slice('post-'.length);
    assert.equal(new URL(res.url()).searchParams.get('last_event_id'), newest);

    const { latencies } = await postAndMeasure(rest[rest.length - 1], rest, 'After the closes');
    t.diagnostic(`post -> the ${rest.length} remaining tabs (ms): ${latencies.join(', ')}`);
    assert.ok(Math.max(...latencies) < 1000, `slowest tab: ${Math.max(...latencies)} ms`);
    await assertAllComplete(rest);
    // The lock may pass through a tab that is closing too (the tabs wait for it in the order
    // they asked): one new stream, or one more for each closed tab that held it on the way.
    const asked = streamsRequested().length;
    assert.ok(asked >= 2 && asked <= 1 + closing.length, `${asked} streams asked for`);
    await serverStreamsAre({ started: [2, 1 + closing.length], open: 1 },
      'the closed tabs\' streams closed, one open');
    assert.deepEqual(problems, []);
  });

test('without Web Locks every tab keeps its own stream (the fallback)', async () => {
  const ctx = await browser.newContext();
  await ctx.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });
  });
  const pages = [await ctx.newPage(), await ctx.newPage()];
  const before = serverStreams();
  for (const [i, p] of pages.entries()) {
    watch(p, `fallback ${i}`);
    p.on('request', (r) => requests.push(r.url()));
    const stream = p.waitForResponse((r) => r.url().includes('/home/sse'));
    await p.goto(web.base, { timeout: 2000 });
    assert.equal((await stream).status(), 200);
  }
  assert.deepEqual(serverStreams(), { started: before.started + 2, open: before.open + 2 });
  const res = await post(web.base, { username: 'Fallback', message: 'to both tabs' });
  const id = `post-${JSON.parse(res.body).id}`;
  for (const p of pages) await p.waitForSelector(`#${id}`, { timeout: 1000 });
  await assertAllComplete(pages);
  await ctx.close();
  assert.deepEqual(problems, []);
});

test('every request stayed on 127.0.0.1; Apache logged no errors', () => {
  assert.ok(requests.length > TABS);
  assert.deepEqual(requests.filter((u) => new URL(u).hostname !== '127.0.0.1'), []);
  assert.deepEqual(web.badLogLines(), []);
});
