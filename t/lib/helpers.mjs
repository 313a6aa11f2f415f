// Small helpers shared by the integration tests (on top of harness.mjs): reading the Redis
// stream, parsing the page, bounded waits, writers and raw SSE reads.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { openStream, post, sleep } from './harness.mjs';

export const STREAM_KEY = 'tweetsse:feed';

// Every entry of the Redis stream, oldest first: [{id, u, m}] (through the harness's client).
export async function xrange(redis, key = STREAM_KEY) {
  const entries = await redis.client.xRange(key, '-', '+');
  return entries.map(({ id, message }) => ({ id, ...message }));
}

export async function xlen(redis, key = STREAM_KEY) {
  return redis.client.xLen(key);
}

// Compare two stream ids ("<ms>-<seq>") numerically.
export function cmpId(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

// Poll check() (sync or async) every `every` ms until it returns a truthy value; that value
// is returned. Throws after timeoutMs.
export async function waitUntil(check, timeoutMs, what, every = 50) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        `${last ? `: ${last.message}` : ''}`);
    }
    await sleep(every);
  }
}

// Run send(i) for i = 0, 1, 2, ... back to back (each call awaits the previous one) until
// stop() is called: w.count calls have completed, w.results holds what they resolved with.
// w.reached(n) resolves once w.count >= n; stop() resolves with the count once the call in
// flight has finished. A failing call rejects stop() and every pending reached(), as does a
// stop before the count is reached.
export function backToBack(send) {
  const w = { count: 0, results: [] };
  let running = true;
  let failure = null;
  let waiters = [];
  const settle = () => {
    waiters = waiters.filter((x) => {
      if (w.count >= x.n) x.resolve(w.count);
      else if (failure || !running) {
        x.reject(failure ?? new Error(`the writer stopped after ${w.count} of ${x.n} calls`));
      } else return true;
      return false;
    });
  };
  const loop = (async () => {
    try {
      while (running) {
        w.results.push(await send(w.count));
        w.count++;
        settle();
      }
      return w.count;
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      running = false;
      settle();
    }
  })();
  loop.catch(() => {}); // surfaced by stop() and reached()
  w.reached = (n) => new Promise((resolve, reject) => {
    waiters.push({ n, resolve, reject });
    settle();
  });
  w.stop = () => {
    running = false;
    return loop;
  };
  return w;
}

// POST a JSON post and return its id; fails loudly on anything but 201.
export async function postId(base, username, message) {
  const res = await post(base, { username, message });
  if (res.status !== 201) throw new Error(`POST ${base}home: ${res.status} ${res.body}`);
  return JSON.parse(res.body).id;
}

// Post n posts with at most `parallel` requests in flight. Returns the ids sorted as stored.
export async function postMany(base, n, { parallel = 8, username = 'bulk', prefix = 'bulk' } = {}) {
  const ids = [];
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      ids.push(await postId(base, username, `${prefix} ${i}`));
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return ids.sort(cmpId);
}

// The post cards of a page (or of any HTML), in document order: [{id, html}].
export function cards(html) {
  const out = [];
  const re = /<article\b[^>]*\bid="post-(\d+-\d+)"[\s\S]*?<\/article>/g;
  let m;
  while ((m = re.exec(html))) out.push({ id: m[1], html: m[0] });
  return out;
}

// Text of the element with this id attribute, e.g. textById(html, 'whoami').
export function textById(html, id) {
  const m = html.match(new RegExp(`id="${id}"[^>]*>([^<]*)<`));
  return m ? m[1] : undefined;
}

// The Set-Cookie tw_name=... header: {value (signed: "<name>.<mac>"), name, attrs, raw}.
export function nameCookie(res) {
  const list = res.headers['set-cookie'] ?? [];
  const raw = list.find((c) => c.startsWith('tw_name='));
  if (!raw) return undefined;
  const [pair, ...attrs] = raw.split(';').map((x) => x.trim());
  const value = pair.slice('tw_name='.length);
  const [name, id] = value.split('.');
  return { value, name, id, attrs, raw };
}

// The first bytes of a GET (for "the stream starts with ..." checks), then the connection
// is closed. Resolves {status, headers, text}.
export function firstBytes(url, headers = {}, minBytes = 1, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false },
      (res) => {
        let text = '';
        const done = () => {
          clearTimeout(t);
          req.destroy();
          resolve({ status: res.statusCode, headers: res.headers, text });
        };
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; if (text.length >= minBytes) done(); });
        res.on('end', done);
      });
    const t = setTimeout(() => req.destroy(new Error(`firstBytes: timeout ${url}`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

// Record the arrival time (performance.now()) of each event of an open stream, in
// s.arrivals (same indexes as s.events). Uses the stream's waiter list, which the harness
// runs on every event.
export function recordArrivals(s) {
  s.arrivals = s.events.map(() => performance.now());
  s.waiters.push(() => {
    while (s.arrivals.length < s.events.length) s.arrivals.push(performance.now());
    return false;
  });
  return s;
}

export const postIds = (s) => s.posts().map((e) => e.id);

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// A one-line description of what a stream received, for assertion messages.
export function streamSummary(s) {
  return `${s.events.length} events [${s.events.map((e) => `${e.event}:${e.id}`).join(', ')}]`;
}

// Streams opened through tracker.open() are closed by tracker.closeAll(), even when a test
// fails half-way.
export function streamTracker() {
  const streams = [];
  return {
    async open(url, headers) {
      const s = await openStream(url, headers);
      streams.push(s);
      return s;
    },
    closeAll() {
      for (const s of streams.splice(0)) s.close();
    },
  };
}

// Wait for the stream's first line (retry:), i.e. until the server has taken the client in.
export const ready = (s) => s.until((x) => x.retries.length > 0, 5000, 'retry line');
