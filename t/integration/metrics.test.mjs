// The figures for operators: the Prometheus metrics (SetHandler tweetsse-metrics at /metrics)
// and the module's section of mod_status's server-status (HTML and ?auto), as
// conf/httpd.conf.in mounts them, against a real Apache (2 children) and Redis.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { post, request, startApache, startRedis } from '../lib/harness.mjs';
import { postId, postMany, ready, streamTracker, waitUntil } from '../lib/helpers.mjs';
import { parsePrometheus } from '../lib/prometheus.mjs';

const tracker = streamTracker();
const open = tracker.open;

// The metrics of the Apache at `origin()`: scrape() parses one GET /metrics; until(check)
// scrapes until check(metrics) holds (then returns them), or fails after timeoutMs.
function scraper(origin) {
  const scrape = async () => {
    const res = await request('GET', `${origin()}/metrics`);
    assert.equal(res.status, 200, res.body);
    return parsePrometheus(res.body);
  };
  const until = (check, what, timeoutMs = 10000) =>
    waitUntil(async () => { const m = await scrape(); return check(m) ? m : undefined; },
      timeoutMs, what);
  return { scrape, until };
}

describe('the Prometheus parser of these tests is strict', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total 1\n';
  test('a well-formed exposition parses', () => {
    assert.equal(parsePrometheus(ok).value('a_total'), 1);
  });
  for (const [what, text] of [
    ['a malformed line', `${ok}a_total{x="1" 2\n`],
    ['a duplicate series', `${ok}a_total 2\n`],
    ['a family without HELP', '# TYPE b gauge\nb 1\n'],
    ['a family without TYPE', '# HELP b B.\nb 1\n'],
    ['a counter without _total', '# HELP b B.\n# TYPE b counter\nb 1\n'],
    ['a sample of no family', `${ok}c 1\n`],
    ['buckets that are not cumulative', '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 3\n'
      + 'h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'],
    ['a histogram without +Inf', '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 3\n'
      + 'h_sum 1\nh_count 3\n'],
    ['a _count that is not the +Inf bucket', '# HELP h H.\n# TYPE h histogram\n'
      + 'h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
    ['no final newline', ok.trimEnd()],
  ]) {
    test(`it rejects ${what}`, () => assert.throws(() => parsePrometheus(text)));
  }
});

describe('metrics and server-status', () => {
  let redis, web, origin;
  const { scrape, until } = scraper(() => origin);
  // server-status?auto as {key: value} (the last of a repeated key) and the TweetsseChild lines.
  const auto = async () => {
    const res = await request('GET', `${origin}/server-status?auto`);
    assert.equal(res.status, 200);
    const keys = {};
    const children = [];
    for (const line of res.body.split('\n')) {
      const m = line.match(/^(\w+): (.*)$/);
      if (!m) continue;
      if (m[1] === 'TweetsseChild') {
        children.push(Object.fromEntries(m[2].split(' ').map((kv) => kv.split('='))));
      } else {
        keys[m[1]] = m[2];
      }
    }
    return { keys, children, body: res.body };
  };
  const streams = (m) => m.sum('tweetsse_streams');
  const children = (m) => m.value('tweetsse_children');

  before(async () => {
    redis = await startRedis();
    web = await startApache({ redis: redis.addr, logLevel: 'warn tweetsse:debug',
      extraConf: 'TweetsseRedisTimeout 500ms' });
    origin = `http://127.0.0.1:${web.port}`;
    await web.waitForLog((lines) => lines.filter((l) => /TW0106: subscribed/.test(l)).length
      >= 2, { what: 'both children subscribed' });
    await until((m) => children(m) === 2 && m.sum('tweetsse_subscribed') === 2,
      'both children reporting, subscribed');
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
    await redis?.stop();
  });

  test('GET /metrics: the text format 0.0.4, every family with HELP and TYPE', async () => {
    const res = await request('GET', `${origin}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const m = parsePrometheus(res.body);
    for (const [name, type] of [['tweetsse_children', 'gauge'], ['tweetsse_streams', 'gauge'],
      ['tweetsse_subscribed', 'gauge'], ['tweetsse_subscription_changed_timestamp_seconds', 'gauge'],
      ['tweetsse_last_post_timestamp_seconds', 'gauge'], ['tweetsse_ring_head', 'gauge'],
      ['tweetsse_redis_connections_in_use', 'gauge'],
      ['tweetsse_frames_delivered_total', 'counter'], ['tweetsse_streams_cut_total', 'counter'],
      ['tweetsse_posts_accepted_total', 'counter'], ['tweetsse_posts_refused_total', 'counter'],
      ['tweetsse_publish_latency_seconds', 'histogram'],
      ['tweetsse_delivery_lag_seconds', 'histogram']]) {
      assert.equal(m.families.get(name)?.type, type, name);
    }
    assert.match(m.families.get('tweetsse_delivery_lag_seconds').help, /one observation per post per child, not per stream/);
    const pids = (await web.childPids()).map(String).sort();
    const labelled = m.samples('tweetsse_subscribed').map((s) => s.labels.child).sort();
    assert.deepEqual(labelled, pids, 'one series per living child, labelled with its pid');
    for (const pid of pids) {
      assert.equal(m.value('tweetsse_redis_connections_in_use', { child: pid }), 0, 'idle pool');
    }
  });

  test('only GET and HEAD: 405 with Allow otherwise; the feed keeps its own paths', async () => {
    const head = await request('HEAD', `${origin}/metrics`);
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await request(method, `${origin}/metrics`, { body: method === 'POST' ? 'x' : undefined });
      assert.equal(res.status, 405, method);
      assert.match(res.headers.allow, /\bGET\b/);
      assert.match(res.headers.allow, /\bHEAD\b/);
      assert.doesNotMatch(res.headers.allow, /POST/);
    }
    const page = await request('GET', web.base);
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html/);
    const status = await request('GET', `${origin}/server-status`);
    assert.equal(status.status, 200);
    assert.match(status.body, /Apache Server Status/, 'mod_status answers, not the feed');
  });

  test('10 open streams: the streams gauge, summed over children, goes up 10 and back', async () => {
    const base = streams(await scrape());
    const ss = [];
    for (let i = 0; i < 10; i++) ss.push(await open(`${web.base}home/sse`));
    await Promise.all(ss.map(ready));
    const m = await until((x) => streams(x) === base + 10, 'streams +10');
    assert.equal(m.sum('tweetsse_streams', { engine: 'socket' }), base + 10,
      'written by the delivery threads');
    const a = await auto();
    assert.equal(Number(a.keys.TweetsseStreams), base + 10, '?auto agrees');
    assert.equal(a.children.reduce((n, c) => n + Number(c.streams), 0), base + 10,
      'and so do its per-child lines');
    for (const s of ss) s.close();
    await until((x) => streams(x) === base, 'streams back down');
  });

  test('5 posts: accepted +5, publish latency +5, one lag observation per post per child',
    async () => {
      const s = await open(`${web.base}home/sse`);
      await ready(s);
      const m0 = await scrape();
      const n = children(m0);
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await postId(web.base, 'metric', `post ${i}`));
      const lastMs = Number(ids.at(-1).split('-')[0]);
      const m = await until((x) => x.value('tweetsse_delivery_lag_seconds_count')
        === m0.value('tweetsse_delivery_lag_seconds_count') + 5 * n
        && x.samples('tweetsse_last_post_timestamp_seconds').every((v) => v.value * 1000 === lastMs),
      'every child to take the 5 posts');
      assert.equal(m.value('tweetsse_posts_accepted_total'), m0.value('tweetsse_posts_accepted_total') + 5);
      assert.equal(m.value('tweetsse_publish_latency_seconds_count'),
        m0.value('tweetsse_publish_latency_seconds_count') + 5);
      assert.ok(m.value('tweetsse_publish_latency_seconds_sum')
        > m0.value('tweetsse_publish_latency_seconds_sum'), 'the round trips took some time');
      for (const sample of m.samples('tweetsse_ring_head')) {
        const before0 = m0.value('tweetsse_ring_head', sample.labels);
        assert.equal(sample.value, before0 + 5, `child ${sample.labels.child}: 5 frames pushed`);
      }
      await s.until((x) => x.posts().length >= 5, 5000, 'the 5 posts on the stream');
      await until((x) => x.value('tweetsse_frames_delivered_total')
        >= m0.value('tweetsse_frames_delivered_total') + 5, 'the frames counted as delivered');
      const a = await auto();
      assert.ok(a.children.some((c) => c.last_post === ids.at(-1)), `?auto names the last post: ${a.body}`);
      assert.equal(Number(a.keys.TweetssePostsAccepted), m.value('tweetsse_posts_accepted_total'));
      s.close();
    });

  test('refusals are counted by reason: cross-site 403, bad input 400, an idempotent replay',
    async () => {
      const m0 = await scrape();
      const refused = (m, reason) => m.value('tweetsse_posts_refused_total', { reason });
      const cross = await post(web.base, { message: 'from elsewhere' }, 'json',
        { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' });
      assert.equal(cross.status, 403);
      const empty = await post(web.base, { message: '   ' });
      assert.equal(empty.status, 400);
      const key = { 'Idempotency-Key': `k${Date.now()}` };
      assert.equal((await post(web.base, { message: 'once' }, 'json', key)).status, 201);
      const again = await post(web.base, { message: 'once' }, 'json', key);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      const m = await scrape();
      assert.equal(refused(m, 'forbidden'), refused(m0, 'forbidden') + 1);
      assert.equal(refused(m, 'bad_input'), refused(m0, 'bad_input') + 1);
      assert.equal(refused(m, 'replayed'), refused(m0, 'replayed') + 1);
      assert.equal(refused(m, 'rate_limited'), refused(m0, 'rate_limited'));
      assert.equal(m.value('tweetsse_posts_accepted_total'),
        m0.value('tweetsse_posts_accepted_total') + 1, 'the replay is not a second post');
      assert.equal(m.value('tweetsse_publish_latency_seconds_count'),
        m0.value('tweetsse_publish_latency_seconds_count') + 2, 'only those that reached Redis');
      const a = await auto();
      assert.equal(Number(a.keys.TweetssePostsRefusedForbidden), refused(m, 'forbidden'));
    });

  test('Redis stopped: every child reconnecting, in metrics and ?auto; back when it returns',
    async () => {
      const m0 = await scrape();
      const n = children(m0);
      const t0 = Date.now() / 1000;
      await redis.stop();
      const m = await until((x) => x.sum('tweetsse_subscribed') === 0 && children(x) === n,
        'every child reconnecting');
      for (const s of m.samples('tweetsse_subscription_changed_timestamp_seconds')) {
        assert.ok(s.value >= t0 - 1, `child ${s.labels.child} went down after the stop`);
      }
      const down = await waitUntil(async () => {
        const a = await auto();
        return Number(a.keys.TweetsseReconnecting) === n ? a : undefined;
      }, 5000, '?auto to say reconnecting');
      assert.equal(Number(down.keys.TweetsseSubscribed), 0);
      assert.ok(down.children.every((c) => c.subscriber === 'reconnecting'), down.body);
      const html = await request('GET', `${origin}/server-status`);
      assert.match(html.body, /reconnecting since /);
      const failed = await post(web.base, { message: 'while Redis is away' });
      assert.equal(failed.status, 503);
      assert.equal((await scrape()).value('tweetsse_posts_refused_total', { reason: 'store_failure' }),
        m0.value('tweetsse_posts_refused_total', { reason: 'store_failure' }) + 1);

      await redis.start();
      await until((x) => x.sum('tweetsse_subscribed') === n, 'every child subscribed again', 20000);
      const up = await auto();
      assert.equal(Number(up.keys.TweetsseReconnecting), 0, up.body);
      assert.ok(up.children.every((c) => c.subscriber === 'subscribed'), up.body);
    });

  test('under load (200 streams, a burst of posts) every scrape parses and counters only grow',
    async () => {
      const base = streams(await scrape());
      const ss = [];
      for (let i = 0; i < 200; i++) ss.push(open(`${web.base}home/sse`));
      const opened = await Promise.all(ss);
      await Promise.all(opened.map(ready));
      let scraping = true;
      let scrapes = 0;
      let last = null;
      const scraper = (async () => {
        while (scraping) {
          const m = await scrape(); // throws if a scrape does not parse
          const a = await auto();
          assert.ok(Number(a.keys.TweetsseStreams) >= 0);
          if (last) {
            for (const name of ['tweetsse_posts_accepted_total', 'tweetsse_frames_delivered_total',
              'tweetsse_publish_latency_seconds_count', 'tweetsse_delivery_lag_seconds_count']) {
              assert.ok(m.value(name) >= last.value(name), `${name} went back`);
            }
          }
          last = m;
          scrapes++;
        }
      })();
      try {
        const m0 = await until((x) => streams(x) === base + 200, 'streams +200');
        await postMany(web.base, 100, { parallel: 8, username: 'burst' });
        await Promise.all(opened.map((s) => s.until((x) => x.posts().length >= 100, 15000,
          'the burst on every stream')));
        const m = await until((x) => x.value('tweetsse_frames_delivered_total')
          >= m0.value('tweetsse_frames_delivered_total') + 200 * 100, 'every frame counted');
        assert.equal(m.value('tweetsse_posts_accepted_total'),
          m0.value('tweetsse_posts_accepted_total') + 100);
      } finally {
        scraping = false;
        await scraper;
        for (const s of opened) s.close();
      }
      assert.ok(scrapes >= 3, `scraped ${scrapes} times during the load`);
      await until((x) => streams(x) === base, 'streams back down');
    });

  test('server-status shows the section, escaped HTML, with the same figures as ?auto',
    async () => {
      const html = await request('GET', `${origin}/server-status`);
      assert.equal(html.status, 200);
      assert.match(html.body, /<h2>mod_tweetsse<\/h2>/);
      const pids = await web.childPids();
      for (const pid of pids) assert.match(html.body, new RegExp(`<tr><td>${pid}</td>`));
      const m = await scrape();
      const a = await auto();
      assert.equal(Number(a.keys.TweetsseChildren), children(m));
      assert.equal(Number(a.keys.TweetsseStreams), streams(m));
      assert.equal(Number(a.keys.TweetssePublishCount), m.value('tweetsse_publish_latency_seconds_count'));
      const accepted = html.body.match(/Posts accepted<\/th><td>(\d+)</);
      assert.equal(Number(accepted?.[1]), m.value('tweetsse_posts_accepted_total'));
      assert.deepEqual(web.badLogLines([/TW0107|TW0108|TW0109|TW0119|TW0402|TW0301/]), []);
    });
});

describe('metrics under prefork with worker-thread streams', () => {
  let redis, web, origin;
  const { scrape, until } = scraper(() => origin);
  const pidsOf = (m) => m.samples('tweetsse_subscribed').map((s) => Number(s.labels.child))
    .sort((a, b) => a - b);

  before(async () => {
    redis = await startRedis();
    web = await startApache({ redis: redis.addr, mpm: 'prefork',
      extraConf: 'TweetsseDelivery thread' });
    origin = `http://127.0.0.1:${web.port}`;
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
    await redis?.stop();
  });

  test('streams held by worker threads count as engine="thread"', async () => {
    const ss = [];
    for (let i = 0; i < 3; i++) ss.push(await open(`${web.base}home/sse`));
    await Promise.all(ss.map(ready));
    const m = await until((x) => x.sum('tweetsse_streams', { engine: 'thread' }) === 3,
      'three thread streams');
    assert.equal(m.sum('tweetsse_streams', { engine: 'socket' }), 0);
    const id = await postId(web.base, 'pre', 'to the threads');
    await Promise.all(ss.map((s) => s.until((x) => x.posts().some((e) => e.id === id), 5000,
      'the post')));
    await until((x) => x.value('tweetsse_frames_delivered_total') >= 3, 'three frames delivered');
    for (const s of ss) s.close();
    await until((x) => x.sum('tweetsse_streams') === 0, 'the streams gone');
  });

  test('a killed child leaves the report; the counters it made stay in the sums', async () => {
    const m0 = await until((x) => pidsOf(x).length >= 2, 'children reporting');
    const victim = pidsOf(m0)[0];
    process.kill(victim, 'SIGKILL');
    const m = await until((x) => !pidsOf(x).includes(victim), 'the dead child gone from the report');
    assert.ok(m.value('tweetsse_frames_delivered_total') >= m0.value('tweetsse_frames_delivered_total'),
      'frames delivered never go back');
    assert.equal(m.value('tweetsse_posts_accepted_total'), m0.value('tweetsse_posts_accepted_total'));
    // prefork starts another child in its place; it reports under its own pid.
    const pids = await waitUntil(async () => {
      const live = (await web.childPids()).sort((a, b) => a - b);
      const x = await scrape();
      return live.length >= 2 && JSON.stringify(pidsOf(x)) === JSON.stringify(live) ? live : undefined;
    }, 15000, 'the report to list exactly the living children');
    assert.ok(!pids.includes(victim));
  });
});

// A raw client of web's stream that sends its request and never reads.
async function stalledClient(web) {
  const sock = net.connect(web.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(`GET ${web.mount}home/sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  sock.pause();
  return sock;
}

describe('streams cut and the Redis pool, as they happen', () => {
  let redis, web, origin;
  const { scrape, until } = scraper(() => origin);
  const cut = (m, reason) => m.value('tweetsse_streams_cut_total', { reason });
  const inUse = (m) => m.sum('tweetsse_redis_connections_in_use');

  before(async () => {
    redis = await startRedis();
    // A small send buffer, so that a client that stops reading is soon behind; a 1 s keepalive,
    // after which a stream whose socket takes nothing while frames wait is cut; a Redis timeout
    // long enough to see a post holding its pooled connection.
    web = await startApache({ redis: redis.addr, mpm: 'worker', keepalive: 1,
      logLevel: 'warn tweetsse:info',
      extraConf: 'SendBufferSize 4096\nTweetsseRedisTimeout 5s' });
    origin = `http://127.0.0.1:${web.port}`;
  });
  after(async () => {
    try { process.kill(redis.proc.pid, 'SIGCONT'); } catch { /* gone already */ }
    tracker.closeAll();
    await web?.stop();
    await redis?.stop();
  });

  test('a client that stops reading: streams_cut_total{reason="stalled"} +1, lagged unchanged',
    async () => {
      const m0 = await until((x) => x.sum('tweetsse_streams') === 0, 'no stream open');
      const sock = await stalledClient(web);
      await until((x) => x.sum('tweetsse_streams') === 1, 'the stalled client\'s stream');
      const mark = web.logMark();
      // 600 posts of ~1 KB: more than the socket buffers take, fewer than a ring (1024).
      await postMany(web.base, 600, { prefix: 'x'.repeat(250) });
      await web.waitForLog((lines) => lines.some((l) => /TW0602: /.test(l)),
        { from: mark, timeoutMs: 5000, what: 'the stalled stream cut (TW0602)' });
      const m = await until((x) => cut(x, 'stalled') === cut(m0, 'stalled') + 1,
        'stalled cuts +1');
      assert.equal(cut(m, 'lagged'), cut(m0, 'lagged'));
      await until((x) => x.sum('tweetsse_streams') === 0, 'the cut stream gone from the gauge');
      sock.destroy();
    });

  test('a post waiting on a hung Redis holds a pooled connection: in use 1, then 0', async () => {
    await until((x) => inUse(x) === 0, 'an idle pool');
    process.kill(redis.proc.pid, 'SIGSTOP');
    let answer;
    try {
      answer = post(web.base, { message: 'while Redis hangs' });
      await until((x) => inUse(x) === 1, 'one connection in use', 4000);
    } finally {
      process.kill(redis.proc.pid, 'SIGCONT');
    }
    assert.equal((await answer).status, 201, 'stored once Redis runs again');
    await until((x) => inUse(x) === 0, 'the connection back in the pool');
  });
});

describe('a client more than a ring behind', () => {
  let redis, web, origin;
  const { scrape, until } = scraper(() => origin);
  const cut = (m, reason) => m.value('tweetsse_streams_cut_total', { reason });

  before(async () => {
    redis = await startRedis();
    // A keepalive long enough that a client that does not read is a ring behind before it
    // counts as stalled.
    web = await startApache({ redis: redis.addr, mpm: 'worker', keepalive: 30,
      logLevel: 'warn tweetsse:info', extraConf: 'SendBufferSize 4096' });
    origin = `http://127.0.0.1:${web.port}`;
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
    await redis?.stop();
  });

  test('streams_cut_total{reason="lagged"} +1, stalled unchanged', async () => {
    const m0 = await scrape();
    const sock = await stalledClient(web);
    await until((x) => x.sum('tweetsse_streams') === 1, 'the client\'s stream');
    const mark = web.logMark();
    // 1,500 posts while it does not read: the ring holds 1,024 frames, the socket buffers far
    // fewer cards. Once it reads again, the engine finds it more than a ring behind.
    await postMany(web.base, 1500, { parallel: 16 });
    sock.resume();
    await web.waitForLog((lines) => lines.some((l) => /TW0601: /.test(l)),
      { from: mark, timeoutMs: 10000, what: 'the lagged stream cut (TW0601)' });
    const m = await until((x) => cut(x, 'lagged') === cut(m0, 'lagged') + 1, 'lagged cuts +1');
    assert.equal(cut(m, 'stalled'), cut(m0, 'stalled'));
    sock.destroy();
  });
});
