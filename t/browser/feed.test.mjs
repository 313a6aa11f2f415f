// Browser test: Debian's Chromium (driven by playwright-core) against a real Apache with the
// module and a real Redis, both started by the harness. Covers the live feed between two
// visitors, a refused post, resuming after a lost stream (three ways), and the page without
// JavaScript. Every request must stay on 127.0.0.1 and no page may log an error or violate
// the module's own Content-Security-Policy, except the few named, phase-limited allowances
// below.
//
// Run: node --test t/browser/feed.test.mjs   (a screenshot goes to /tmp/tweetsse-browser.png)
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { DEFAULT_CSP, launchChromium, reportCspViolations } from '../lib/browser.mjs';
import { request, post, startApache, startRedis } from '../lib/harness.mjs';

const SCREENSHOT = '/tmp/tweetsse-browser.png';
const NAME_RE = /^[A-Z][a-z]+[A-Z][a-z]+\d+$/; // tw_name_generate: e.g. GentleBadger970

let redis, web, other, browser;
const pages = {}; // A, B: live pages; N: JavaScript off
const scripted = new Set(); // the pages that run scripts (all but N)
const requests = []; // every URL any page asked for
const problems = []; // this test's console errors / page errors not covered by an allowance
let allowances = []; // [{why, match(msg)}], set for the length of one phase

before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr });
  // A second server on the same Redis: posts are made through it while `web` is down.
  other = await startApache({ redis: redis.addr });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await web?.stop();
  await other?.stop();
  await redis?.stop();
});

// A page in its own, fresh browser context (own cookies, so its own visitor name).
async function openPage(label, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 },
    ...contextOptions });
  await reportCspViolations(context);
  const page = await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const msg = { page: label, text: m.text(), url: m.location().url };
    if (!allowances.some((a) => a.match(msg))) {
      problems.push(`${label}: console error: ${msg.text} (${msg.url})`);
    }
  });
  pages[label] = page;
  if (contextOptions.javaScriptEnabled !== false) scripted.add(page);
  return page;
}

allowances = [];

// Console messages reach this process asynchronously, but each page's in the order it logged
// them: once a marker logged by the page now has arrived, so has everything it logged before.
let markers = 0;
async function consoleSettled(page) {
  const marker = `tweetsse-test-marker-${++markers}`;
  const seen = page.waitForEvent('console',
    { predicate: (m) => m.text() === marker, timeout: 10000 });
  await page.evaluate((text) => console.debug(text), marker);
  await seen;
}

// Run `fn` with extra allowances; they stay until every page's messages of that time are in.
// (When fn failed, its error is the one reported.)
async function allowing(extra, fn) {
  allowances = [...extra];
  let done = false;
  try {
    const v = await fn();
    done = true;
    return v;
  } finally {
    const settled = Promise.all([...scripted].map(consoleSettled));
    await (done ? settled : settled.catch(() => {}));
    allowances = [];
  }
}

beforeEach(() => { problems.length = 0; });

function assertNoProblems() {
  assert.deepEqual(problems, [], 'console errors or page errors');
}

// Post ids on a page, top first.
const feedIds = (page) => page.$$eval('#feed > article', (as) => as.map((a) => a.id));

// A card's author line: the name, then the tag of the author's identity (8 characters of
// src/tw_identity.h's base32).
const byline = (name) => new RegExp(`^${name} #[0-9a-hjkmnp-tv-z]{8}$`);

// Post ids the server shows on a fresh page, top first (fewer than the page size here).
async function serverIds() {
  const res = await request('GET', web.base);
  assert.equal(res.status, 200);
  return [...res.body.matchAll(/<article [^>]*id="(post-[^"]+)"/g)].map((m) => m[1]);
}

// Wait until the page shows exactly what the server has, in order, each post once: the page
// checks on every change of its document, and gives up after timeoutMs (the assertions
// then say what it shows).
async function assertFeedComplete(page, timeoutMs = 5000) {
  const want = await serverIds();
  await page.evaluate(({ ids, ms }) => new Promise((resolve) => {
    const complete = () => {
      const got = [...document.querySelectorAll('#feed > article')].map((a) => a.id);
      return got.length === ids.length && got.every((id, i) => id === ids[i]);
    };
    if (complete()) { resolve(); return; }
    const done = () => { obs.disconnect(); clearTimeout(timer); resolve(); };
    const obs = new MutationObserver(() => { if (complete()) done(); });
    obs.observe(document.documentElement, { childList: true, subtree: true, attributes: true,
      attributeFilter: ['id'] });
    const timer = setTimeout(done, ms);
  }), { ids: want, ms: timeoutMs });
  const got = await feedIds(page);
  assert.equal(new Set(got).size, got.length, `duplicate post ids on the page: ${got}`);
  assert.deepEqual(got, want, 'the page shows every post once, newest first');
  return got;
}

// Open a live page and wait until its event stream is open.
async function openLive(label) {
  const page = await openPage(label);
  const stream = page.waitForResponse((r) => r.url().includes('/home/sse'));
  const loaded = page.goto(web.base);
  const [doc, res] = await Promise.all([loaded, stream]);
  assert.equal(doc.headers()['content-security-policy'], DEFAULT_CSP, 'the module\'s policy');
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/event-stream/);
  return page;
}

// What the browser received on event streams (Network.eventSourceMessageReceived).
async function watchStream(page) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Network.eventSourceMessageReceived', (e) => events.push({ id: e.eventId,
    event: e.eventName }));
  await cdp.send('Network.enable');
  return events;
}

const postIds = (events) => events.filter((e) => e.event === 'post').map((e) => `post-${e.id}`);

let nameA, nameB;
let streamB; // SSE events received by B

test('two visitors: a post from A appears at the top of B within 1 s; B keeps its draft',
  async (t) => {
    const A = await openLive('A');
    const B = await openLive('B');
    streamB = await watchStream(B);
    nameA = (await A.textContent('#whoami')).trim();
    nameB = (await B.textContent('#whoami')).trim();
    assert.match(nameA, NAME_RE);
    assert.match(nameB, NAME_RE);
    assert.notEqual(nameA, nameB, 'separate contexts get separate visitor names');
    assert.ok(await A.isVisible('#whoami') && await B.isVisible('#whoami'));
    assert.deepEqual(await feedIds(B), [], 'fresh Redis, empty feed');
    assert.ok(await B.isVisible('#feed-empty'), 'an empty feed says so');

    // B is half-way through writing something, caret not at the end.
    const draft = 'Draft in B: a thought not yet finished';
    await B.click('#message');
    await B.keyboard.insertText(draft);
    for (let i = 0; i < 9; i++) await B.keyboard.press('ArrowLeft');
    const caret = draft.length - 9;
    const stateB = () => B.evaluate(() => {
      const ta = document.getElementById('message');
      return { value: ta.value, focused: document.activeElement === ta,
        start: ta.selectionStart, end: ta.selectionEnd };
    });
    assert.deepEqual(await stateB(), { value: draft, focused: true, start: caret, end: caret });

    // B notes (with the wall clock, shared with this process) when the post lands on top.
    const text = `Hello from A at ${new Date().toISOString()} <b>not bold</b> & co`;
    await B.evaluate((want) => {
      const feed = document.getElementById('feed');
      window.twArrival = new Promise((resolve) => {
        const obs = new MutationObserver(() => {
          const top = feed.firstElementChild;
          if (top && top.querySelector('.tw-msg')?.textContent === want) {
            obs.disconnect();
            resolve(Date.now());
          }
        });
        obs.observe(feed, { childList: true });
      });
    }, text);

    await A.fill('#message', text);
    // A notes when its page sees the click (the in-page view, without the driver's overhead).
    await A.evaluate(() => document.getElementById('compose').querySelector('button')
      .addEventListener('click', () => { window.twClicked = Date.now(); }, { once: true }));
    const posted = A.waitForResponse((r) => r.request().method() === 'POST');
    const clicked = Date.now();
    await A.getByRole('button', { name: 'Tweet' }).click();
    const arrived = await B.evaluate(() => Promise.race([window.twArrival,
      new Promise((resolve, reject) => setTimeout(
        () => reject(new Error('the post did not reach B within 5 s')), 5000))]));
    const latency = arrived - clicked;
    const inPage = arrived - (await A.evaluate(() => window.twClicked));
    t.diagnostic(`post -> display latency: ${latency} ms from the driver's click, ` +
      `${inPage} ms from the click event in A's page`);
    assert.ok(latency < 1000, `post took ${latency} ms to reach B`);

    const res = await posted;
    assert.equal(res.status(), 204);
    const id = res.headers()['x-post-id'];
    assert.match(id, /^\d+-\d+$/);

    // The card: at the top of B, A's name, the text as text (escaped, not markup).
    const card = B.locator('#feed > article').first();
    assert.equal(await card.getAttribute('id'), `post-${id}`);
    assert.match((await card.locator('.tw-user').textContent()).trim(), byline(nameA));
    assert.equal(await card.locator('.tw-msg').textContent(), text);
    assert.equal(await card.locator('.tw-msg b').count(), 0);
    assert.ok(await card.isVisible());
    assert.ok(await B.isHidden('#feed-empty'), 'the empty note goes with the first live card');

    // B's draft, focus and caret are untouched; typing goes on where it was.
    assert.deepEqual(await stateB(), { value: draft, focused: true, start: caret, end: caret });
    await B.screenshot({ path: SCREENSHOT, animations: 'disabled' });
    t.diagnostic(`screenshot of B after the live post: ${SCREENSHOT}`);
    await B.keyboard.type('!');
    assert.equal(await B.inputValue('#message'),
      `${draft.slice(0, caret)}!${draft.slice(caret)}`);

    // A: the form is cleared after the accepted post, no error shown, and A sees it too.
    await A.waitForFunction(() => document.getElementById('message').value === '', null,
      { timeout: 2000 });
    assert.equal((await A.textContent('#compose-error')).trim(), '');
    await assertFeedComplete(A);
    await assertFeedComplete(B);
    assert.deepEqual(postIds(streamB), [`post-${id}`]);

    assertNoProblems();
  });

// What A's failed post logs: Chromium's failed-resource line for the POST, and htmx's
// console.error of its own error events (htmx:afterRequest + htmx:sendError for a network
// error, "Response Status Error Code ..." for an error status).
const failedPostFromA = (resource, htmxLines) => [
  { why: 'the failed POST', match: (m) => m.page === 'A' && m.url === `${web.base}home` &&
      m.text === `Failed to load resource: ${resource}` },
  { why: 'htmx logs the failure', match: (m) => m.page === 'A' &&
      new URL(m.url).pathname.endsWith('/lib/htmx.min.js') && htmxLines.includes(m.text) },
];

test('a refused post shows the server\'s reason and keeps the text', async () => {
  const A = pages.A;
  const stored = await serverIds();
  // A text only the server refuses (a bidirectional override; one too long the page itself
  // does not send: t/browser/compose.test.mjs).
  const bidi = 'txt.\u202Ecod.exe';
  await A.fill('#message', bidi);
  // A refusal is a 400: Chromium reports the failed resource, and htmx logs
  // "Response Status Error Code 400 from home" with console.error. Both expected here only.
  const res = await allowing([
    ...failedPostFromA('the server responded with a status of 400 (Bad Request)',
      ['Response Status Error Code 400 from home']),
  ], async () => {
    const posted = A.waitForResponse((r) => r.request().method() === 'POST');
    await A.getByRole('button', { name: 'Tweet' }).click();
    const r = await posted;
    await A.waitForFunction(() => document.getElementById('compose-error').textContent !== '',
      null, { timeout: 2000 });
    return r;
  });
  assert.equal(res.status(), 400);
  const reason = await res.text();
  assert.ok(reason.length > 0);
  assert.equal((await A.textContent('#compose-error')).trim(), reason);
  assert.ok(await A.isVisible('#compose-error'));
  assert.equal(await A.inputValue('#message'), bidi, 'the text is kept for editing');
  assert.deepEqual(await serverIds(), stored, 'nothing was stored');

  // Fixing the text and posting again clears the error.
  await A.fill('#message', 'Shorter, and accepted');
  const posted = A.waitForResponse((r) => r.request().method() === 'POST');
  await A.getByRole('button', { name: 'Tweet' }).click();
  assert.equal((await posted).status(), 204);
  await A.waitForFunction(() => document.getElementById('message').value === '', null,
    { timeout: 2000 });
  assert.equal((await A.textContent('#compose-error')).trim(), '');
  await assertFeedComplete(A);
  await assertFeedComplete(B());
  assertNoProblems();
});

function B() { return pages.B; }

// While Apache is down, a page's event stream fails: the open response is cut (Apache's
// SIGTERM stop ends it without the last chunk; under load Chromium may report the cut as
// "socket not connected"), reconnects are refused or (with a stand-in)
// answered 503, and htmx-ext-sse logs each EventSource error event with console.error (shown
// as "Event"). Allowed only for the stream URL, only during the outage.
const STREAM_FAILURES = [
  'net::ERR_CONNECTION_REFUSED', 'net::ERR_INCOMPLETE_CHUNKED_ENCODING',
  'net::ERR_EMPTY_RESPONSE', 'net::ERR_CONNECTION_RESET', 'net::ERR_SOCKET_NOT_CONNECTED',
  'the server responded with a status of 503 (Service Unavailable)',
].map((e) => `Failed to load resource: ${e}`);
const OUTAGE = [
  { why: 'stream cut or refused', match: (m) => new URL(m.url).pathname === '/home/sse' &&
      STREAM_FAILURES.includes(m.text) },
  { why: 'htmx-ext-sse logs htmx:sseError', match: (m) => m.text === 'Event' &&
      new URL(m.url).pathname.endsWith('/lib/htmx.min.js') },
];

// A stand-in on Apache's port while it is down, answering 503 with an HTML page like a
// proxy in maintenance.
function standIn(port) {
  const srv = http.createServer((req, res) => {
    res.writeHead(503, { 'Content-Type': 'text/html', 'Retry-After': '1', Connection: 'close' });
    res.end('<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>\n');
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

// Take `web` down, post through `other`, run `during`, wait until B has really been turned
// away, bring `web` back. Returns the ids posted during the outage and B's first successful
// stream response.
async function outage({ with503 = false, posts = 3, during = async () => {}, allow = [] }) {
  const page = B();
  return allowing([...OUTAGE, ...allow], async () => {
    let srv = null;
    try {
      const turnedAway = with503
        ? page.waitForResponse((r) => r.url().includes('/home/sse') && r.status() === 503,
          { timeout: 10000 })
        : page.waitForEvent('requestfailed', { timeout: 10000, predicate: (r) =>
          r.url().includes('/home/sse') && /CONNECTION_REFUSED/.test(r.failure()?.errorText) });
      await web.stop();
      if (with503) srv = await standIn(web.port);
      const ids = [];
      for (let i = 0; i < posts; i++) {
        const res = await post(other.base, { username: 'Offline',
          message: `while B is away ${i}` });
        assert.equal(res.status, 201);
        ids.push(`post-${JSON.parse(res.body).id}`);
      }
      await during();
      await turnedAway;
      if (srv) {
        srv.closeAllConnections();
        await new Promise((r) => srv.close(r));
        srv = null;
      }
      const back = page.waitForResponse((r) => r.url().includes('/home/sse') &&
        r.status() === 200, { timeout: 15000 });
      await web.start();
      const res = await back;
      await assertFeedComplete(page, 10000);
      return { ids, res };
    } finally {
      // Whatever failed, leave the server up for the next tests.
      if (srv) {
        srv.closeAllConnections();
        await new Promise((r) => srv.close(r));
      }
      if (!web.proc) await web.start();
    }
  });
}

// A tries to post while the server is away: the error says so, and the text stays.
async function postFromAWhileDown(text, want) {
  const A = pages.A;
  await A.fill('#message', text);
  await A.getByRole('button', { name: 'Tweet' }).click();
  await A.waitForFunction(() => document.getElementById('compose-error').textContent !== '',
    null, { timeout: 5000 });
  assert.equal((await A.textContent('#compose-error')).trim(), want);
  assert.equal(await A.inputValue('#message'), text);
}

test('resume after Apache restarts: the browser reconnects with Last-Event-ID', async () => {
  const page = B();
  const last = (await feedIds(page))[0].slice('post-'.length);
  const n = streamB.length;
  const draft = 'Written while the server is down';
  const { ids, res } = await outage({
    during: () => postFromAWhileDown(draft, 'Could not post: the server cannot be reached.'),
    allow: failedPostFromA('net::ERR_CONNECTION_REFUSED',
      ['htmx:afterRequest', 'htmx:sendError']),
  });
  const headers = await res.request().allHeaders();
  assert.equal(headers['last-event-id'], last, 'the reconnect names the last post B had');
  // The replay held exactly the missed posts; the page shows them once, in order.
  assert.deepEqual(postIds(streamB.slice(n)), ids);
  assert.deepEqual((await feedIds(page)).slice(0, ids.length), [...ids].reverse());
  await assertFeedComplete(pages.A);

  // Back up: A's kept text goes through on the next click, and the error clears.
  const A = pages.A;
  const posted = A.waitForResponse((r) => r.request().method() === 'POST');
  await A.getByRole('button', { name: 'Tweet' }).click();
  assert.equal((await posted).status(), 204);
  await A.waitForFunction(() => document.getElementById('message').value === '', null,
    { timeout: 2000 });
  assert.equal((await A.textContent('#compose-error')).trim(), '');
  const top = await assertFeedComplete(page);
  assert.equal(await page.locator(`#${top[0]} .tw-msg`).textContent(), draft);
  assertNoProblems();
});

test('resume after a 503: htmx-ext-sse rebuilds the stream from sse-connect', async () => {
  const page = B();
  const last = (await feedIds(page))[0].slice('post-'.length);
  // tweetsse.js keeps the resume point in sse-connect, since a rebuilt EventSource sends no
  // Last-Event-ID.
  assert.equal(await page.getAttribute('#live', 'sse-connect'), `home/sse?last_event_id=${last}`);
  const n = streamB.length;
  // A's post meets the stand-in's HTML error page: summed up, not shown as markup.
  const { ids, res } = await outage({
    with503: true,
    during: () => postFromAWhileDown('Meets the maintenance page',
      'Could not post: the server answered 503 Service Unavailable.'),
    allow: failedPostFromA('the server responded with a status of 503 (Service Unavailable)',
      ['Response Status Error Code 503 from home']),
  });
  assert.equal(new URL(res.url()).searchParams.get('last_event_id'), last);
  assert.equal((await res.request().allHeaders())['last-event-id'], undefined,
    'a new EventSource, not the browser\'s own reconnect');
  assert.deepEqual(postIds(streamB.slice(n)), ids);
  assert.deepEqual((await feedIds(page)).slice(0, ids.length), [...ids].reverse());
  const newest = ids.at(-1).slice('post-'.length);
  assert.equal(await page.getAttribute('#live', 'sse-connect'),
    `home/sse?last_event_id=${newest}`);
  await pages.A.fill('#message', '');
  assertNoProblems();
});

test('a replay overlapping the page adds nothing twice', async () => {
  const page = B();
  const shown = await feedIds(page);
  // A stale resume point (as a page restored from an old state would have): three posts
  // that B already shows come again in the replay, and tweetsse.js must drop them.
  const stale = shown[3].slice('post-'.length);
  await page.evaluate((id) => document.getElementById('live')
    .setAttribute('sse-connect', `home/sse?last_event_id=${id}`), stale);
  const n = streamB.length;
  const { ids, res } = await outage({ with503: true, posts: 2 });
  assert.equal(new URL(res.url()).searchParams.get('last_event_id'), stale);
  assert.deepEqual(postIds(streamB.slice(n)), [...shown.slice(0, 3).reverse(), ...ids],
    'the server replayed the overlap');
  const got = await feedIds(page);
  assert.deepEqual(got, [...[...ids].reverse(), ...shown]);
  assert.equal(await page.getAttribute('#live', 'sse-connect'),
    `home/sse?last_event_id=${ids.at(-1).slice('post-'.length)}`);
  assertNoProblems();
});

test('without JavaScript: the page reads, and the form posts and comes back (303)', async () => {
  const page = await openPage('N', { javaScriptEnabled: false });
  await page.goto(web.base);
  const want = await serverIds();
  assert.ok(want.length > 0);
  assert.deepEqual(await feedIds(page), want, 'posts are in the page itself');
  assert.ok(await page.locator('#feed > article').first().isVisible());
  const name = (await page.textContent('#whoami')).trim();
  assert.match(name, NAME_RE);
  assert.notEqual(name, nameA);
  assert.notEqual(name, nameB);

  const text = 'Posted with JavaScript off';
  await page.fill('#message', text);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST');
  await Promise.all([page.waitForURL(`${web.base}home`),
    page.getByRole('button', { name: 'Tweet' }).click()]);
  const res = await posted;
  assert.equal(res.status(), 303);
  assert.equal(res.headers().location, '/home');
  await page.waitForLoadState('load');
  const top = page.locator('#feed > article').first();
  assert.equal(await top.locator('.tw-msg').textContent(), text);
  assert.match((await top.locator('.tw-user').textContent()).trim(), byline(name));
  assert.equal(await page.inputValue('#message'), '');
  assert.deepEqual(await feedIds(page), await serverIds());
  // The live pages got it too.
  await assertFeedComplete(B());
  await assertFeedComplete(pages.A);
  assertNoProblems();
});

test('layout: the longest name stays inside its card on a phone-sized screen', async () => {
  const page = B();
  const res = await post(web.base, { username: 'W'.repeat(32), message: 'widest name' });
  assert.equal(res.status, 201);
  const id = `post-${JSON.parse(res.body).id}`;
  await page.waitForSelector(`#${id}`);
  const size = page.viewportSize();
  await page.setViewportSize({ width: 375, height: 700 });
  try {
    const box = await page.evaluate((cardId) => {
      const card = document.getElementById(cardId).getBoundingClientRect();
      const inner = [...document.querySelectorAll(`#${cardId} *`)].map((e) =>
        e.getBoundingClientRect());
      return { page: document.documentElement.scrollWidth, card: card.right,
        widest: Math.max(...inner.map((r) => r.right)) };
    }, id);
    assert.ok(box.page <= 375, `the page scrolls sideways (${box.page} px)`);
    assert.ok(box.widest <= box.card,
      `content sticks out of the card (${box.widest} > ${box.card})`);
  } finally {
    await page.setViewportSize(size);
  }
  await assertFeedComplete(page);
  assertNoProblems();
});

// The pages above ran under the module's policy with no violation; this shows the check can
// fail: inline code added to a page is refused by the policy and reported as a problem.
test('the policy refuses inline style and script, and a violation fails the test', async () => {
  const A = pages.A;
  assert.equal(await A.evaluate(() => htmx.config.includeIndicatorStyles), false,
    'htmx read its config from the page (no inline indicator styles)');
  assert.equal(await A.evaluate(() => document.querySelectorAll('style').length), 0);
  await A.evaluate(() => {
    const style = document.createElement('style');
    style.textContent = 'body { color: red; }';
    document.head.append(style);
    const script = document.createElement('script');
    script.textContent = 'window.twInline = 1;';
    document.head.append(script);
  });
  await consoleSettled(A);
  assert.equal(await A.evaluate(() => window.twInline), undefined, 'the inline script did not run');
  const found = problems.splice(0);
  assert.ok(found.some((p) => /^A: console error: CSP violation: style-src-elem blocked inline/
    .test(p)), found.join('\n'));
  assert.ok(found.some((p) => /^A: console error: CSP violation: script-src-elem blocked inline/
    .test(p)), found.join('\n'));
});

test('every request stayed on 127.0.0.1; Apache logged no errors', () => {
  assert.ok(requests.length > 10);
  const away = requests.filter((u) => new URL(u).hostname !== '127.0.0.1');
  assert.deepEqual(away, [], 'requests that left 127.0.0.1');
  assert.deepEqual(web.badLogLines(), []);
  assert.deepEqual(other.badLogLines(), []);
});
