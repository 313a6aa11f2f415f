// Browser test of HTTP/2 at the edge: HAProxy's HTTPS front end from conf/haproxy.cfg.example
// (TLS with ALPN h2; scripts/cluster.sh with TLS=1 enables it with a self-signed certificate)
// in front of two instances, which it speaks HTTP/1.1 to. The tabs of one browser profile
// do not share their stream here (Web Locks removed, the fallback of older browsers), so
// every tab has an EventSource of its own. Over HTTP/1.1 six of them take every connection
// the browser allows to the host and the seventh tab does not load; over h2 all ten tabs
// load within 2 s each, on one connection to HAProxy, and a post from the last tab reaches
// all ten within 1 s. The instances see ten streams, each over HTTP/1.1 with
// X-Forwarded-Proto https.
//
// Run: node --test t/browser/h2.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { within } from '../lib/harness.mjs';
import { postId, waitUntil } from '../lib/helpers.mjs';
import { connections, startCluster } from '../lib/cluster.mjs';

const TABS = 10;
// mod_log_forensic logs each request as it starts (+id|request line|headers) and as it ends
// (-id), in each instance's own directory (its ServerRoot).
const FORENSIC = [
  'LoadModule log_forensic_module /usr/lib/apache2/modules/mod_log_forensic.so',
  'ForensicLog forensic.log',
].join('\n');

let cluster, browser;
const problems = []; // console errors, page errors
const requests = []; // every URL any tab asked for

before(async () => {
  cluster = await startCluster({ instances: 2, tls: true, extraConf: FORENSIC });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await cluster?.stop();
});

// A browser profile whose tabs cannot share a stream: without Web Locks, every tab keeps
// its own (htdocs/tweetsse.js's fallback). The certificate is self-signed.
async function perTabContext() {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true,
    viewport: { width: 1024, height: 720 } });
  await ctx.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });
  });
  ctx.on('request', (r) => requests.push(r.url()));
  return ctx;
}

function watch(page, label) {
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
}

// Open a tab on `url` and wait for its own stream to be answered; resolves with the page
// and the ms the page took to load.
async function openTab(ctx, url, label) {
  const page = await ctx.newPage();
  watch(page, label);
  const stream = page.waitForResponse((r) => r.url().includes('/home/sse'), { timeout: 5000 });
  const start = Date.now();
  await page.goto(url, { timeout: 2000 });
  const ms = Date.now() - start;
  assert.equal((await stream).status(), 200, `${label}: its stream`);
  return { page, ms };
}

// The streams the instances were asked for, from their forensic logs' + lines (a stream
// that the delivery thread takes over is logged as ended at once): [{protocol, proto}] with
// the request line's protocol and the X-Forwarded-Proto header of each.
function streamsAsked() {
  const streams = [];
  for (const i of cluster.instances) {
    let text = '';
    try { text = fs.readFileSync(path.join(i.dir, 'forensic.log'), 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      const m = /^\+[^|]+\|GET ([^| ]+) ([^|]+)(.*)$/.exec(line);
      if (!m || !new URL(m[1], i.base).pathname.endsWith('/home/sse')) continue;
      const proto = /\|X-Forwarded-Proto:([^|]*)/i.exec(m[3]);
      streams.push({ protocol: m[2], proto: proto ? proto[1] : null });
    }
  }
  return streams;
}
// HAProxy's open connections to the instances: one per open stream, besides a moment's
// health check (each request has a connection of its own: option http-server-close).
const instanceConns = () => connections(cluster.instances.map((i) => i.port));

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

test('over HTTP/1.1 the seventh tab with a stream of its own does not load', async () => {
  // The control: the plain front end, same example, same instances.
  const ctx = await perTabContext();
  try {
    for (let i = 0; i < 6; i++) await openTab(ctx, cluster.balancer, `http tab ${i + 1}`);
    const seventh = await ctx.newPage();
    await assert.rejects(seventh.goto(cluster.balancer, { timeout: 2000 }), /Timeout/);
  } finally {
    await ctx.close();
  }
  const asked = streamsAsked();
  assert.equal(asked.length, 6);
  assert.deepEqual(asked.filter((s) => s.protocol !== 'HTTP/1.1' || s.proto !== 'http'), []);
  await waitUntil(async () => (await instanceConns()).length === 0, 5000,
    'the instances to close the streams');
});

const tabs = [];

test(`over h2 ${TABS} tabs, each with a stream of its own, load within 2 s each, on one ` +
  'connection', async (t) => {
  assert.match(cluster.balancerTls, /^https:/);
  await postId(cluster.instances[0].base, 'Seed', 'something to show');
  const ctx = await perTabContext();
  const loads = [];
  for (let i = 0; i < TABS; i++) {
    const { page, ms } = await openTab(ctx, cluster.balancerTls, `h2 tab ${i + 1}`);
    tabs.push(page);
    loads.push(ms);
  }
  t.diagnostic(`h2 tab load times (ms): ${loads.join(', ')}`);
  assert.ok(Math.max(...loads) < 2000, `slowest load: ${Math.max(...loads)} ms`);
  // Every page and every resource it fetched came over h2 (the streams are still open, so
  // they have no resource timing entry yet).
  for (const [i, p] of tabs.entries()) {
    const protocols = await p.evaluate(() => [...new Set(
      [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
        .map((e) => e.nextHopProtocol))]);
    assert.deepEqual(protocols, ['h2'], `tab ${i + 1}`);
  }
  // One TLS connection from the browser to HAProxy carries them all.
  const clientConns = await connections([cluster.tlsPort]);
  assert.equal(clientConns.length, 1, `client connections: ${clientConns.join('; ')}`);
  // Ten streams asked of the instances (leastconn spreads them), each over HTTP/1.1, marked
  // https, and open.
  const streams = streamsAsked().filter((s) => s.proto !== 'http'); // the control's are http
  assert.equal(streams.length, TABS);
  assert.deepEqual(streams.filter((s) => s.protocol !== 'HTTP/1.1' || s.proto !== 'https'), []);
  await waitUntil(async () => (await instanceConns()).length === TABS, 5000,
    `${TABS} connections from HAProxy to the instances`);
  assert.deepEqual(problems, []);
});

test(`a post from tab ${TABS} over h2 reaches all ${TABS} tabs within 1 s`, async (t) => {
  assert.equal(tabs.length, TABS);
  const text = `From tab ${TABS} over h2 at ${new Date().toISOString()}`;
  const landed = arrivals(tabs, text);
  const last = tabs[TABS - 1];
  await last.fill('#message', text);
  const posted = last.waitForResponse((r) => r.request().method() === 'POST');
  const clicked = Date.now();
  await last.getByRole('button', { name: 'Tweet' }).click();
  const res = await within(posted, 1000, 'the POST to be answered');
  assert.equal(res.status(), 204);
  const latencies = (await within(landed, 5000, 'the post to reach every tab'))
    .map((x) => x - clicked);
  t.diagnostic(`post -> all ${TABS} tabs over h2 (ms): ${latencies.join(', ')}`);
  assert.ok(Math.max(...latencies) < 1000, `slowest tab: ${Math.max(...latencies)} ms`);
  assert.equal((await connections([cluster.tlsPort])).length, 1, 'still one connection');
  assert.deepEqual(problems, []);
});

test('every request stayed on 127.0.0.1; the instances logged no errors', () => {
  assert.ok(requests.length > TABS);
  assert.deepEqual(requests.filter((u) => new URL(u).hostname !== '127.0.0.1'), []);
  for (const i of cluster.instances) assert.deepEqual(cluster.badLogLines(i), [], i.name);
});
