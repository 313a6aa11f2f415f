// Fan-out: many subscribers on one instance across its child processes, and two Apache
// instances sharing one Redis.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { execFileAsync, post, request, startApache, startRedis } from '../lib/harness.mjs';
import { cards, percentile, postId, postIds, recordArrivals, streamSummary, streamTracker, xrange }
  from '../lib/helpers.mjs';

const SUBSCRIBERS = 200;
const POSTS = 20;

let redis, one, two;
const tracker = streamTracker();
const open = tracker.open;

before(async () => {
  redis = await startRedis();
  [one, two] = await Promise.all([0, 1].map(() => startApache({ redis: redis.addr })));
});
after(async () => {
  tracker.closeAll();
  await one?.stop();
  await two?.stop();
  await redis?.stop();
});

// pid -> number of established connections on `port` held by that process.
async function connectionsPerPid(port) {
  const { stdout: out } = await execFileAsync('ss',
    ['-Htnp', 'state', 'established', `( sport = :${port} )`]);
  const per = {};
  for (const m of out.matchAll(/pid=(\d+)/g)) per[m[1]] = (per[m[1]] ?? 0) + 1;
  return per;
}

describe(`${SUBSCRIBERS} subscribers on one instance`, () => {
  test('the instance runs at least two child processes', async () => {
    const children = await one.childPids();
    assert.ok(children.length >= 2, `children: ${children}`);
  });

  test(`each of ${SUBSCRIBERS} streams receives all ${POSTS} posts, in order`, async (t) => {
    const subs = [];
    for (let i = 0; i < SUBSCRIBERS; i += 50) {
      subs.push(...await Promise.all(Array.from({ length: 50 },
        () => open(`${one.base}home/sse`).then(recordArrivals))));
    }
    assert.equal(subs.length, SUBSCRIBERS);
    assert.ok(subs.every((s) => s.status === 200));
    await Promise.all(subs.map((s) => s.until((x) => x.retries.length > 0, 10000, 'retry line')));

    const per = await connectionsPerPid(one.port);
    const children = new Set((await one.childPids()).map(String));
    const holding = Object.entries(per).filter(([pid]) => children.has(pid));
    t.diagnostic(`streams per child: ${JSON.stringify(Object.fromEntries(holding))}`);
    assert.equal(holding.reduce((n, [, c]) => n + c, 0), SUBSCRIBERS,
      'every stream is held by a child');
    assert.ok(holding.length >= 2, 'the streams are spread over more than one child');

    const ids = [];
    const answered = [];
    for (let i = 0; i < POSTS; i++) {
      const res = await post(one.base, { username: 'fan', message: `fan-out ${i}` });
      answered.push(performance.now());
      assert.equal(res.status, 201);
      ids.push(JSON.parse(res.body).id);
    }
    await Promise.all(subs.map((s, i) =>
      s.until((x) => x.posts().length >= POSTS, 20000, `stream ${i}: all posts`)));
    const latencies = [];
    for (const [i, s] of subs.entries()) {
      assert.deepEqual(postIds(s), ids, `stream ${i}: ${streamSummary(s)}`);
      assert.equal(s.events.length, POSTS, `stream ${i}: nothing else`);
      assert.equal(s.ended, false);
      s.posts().forEach((e, k) => latencies.push(s.arrivals[s.events.indexOf(e)] - answered[k]));
    }
    latencies.sort((a, b) => a - b);
    const f = (x) => `${x.toFixed(1)} ms`;
    const line = `delivery latency over ${latencies.length} deliveries ` +
      '(event arrival - POST response): ' +
      `p50 ${f(percentile(latencies, 50))}, p99 ${f(percentile(latencies, 99))}, ` +
      `max ${f(latencies.at(-1))}, min ${f(latencies[0])}`;
    t.diagnostic(line);
    for (const s of subs) s.close();
  });
});

describe('two instances sharing one Redis', () => {
  test('subscribe on one, post on the other, and the other way round', async () => {
    const a = await open(`${one.base}home/sse`);
    const b = await open(`${two.base}home/sse`);
    await Promise.all([a, b].map((s) => s.until((x) => x.retries.length > 0, 5000, 'retry')));
    const fromTwo = await postId(two.base, 'twin', 'posted on two');
    await a.until((x) => x.posts().length === 1, 5000, 'one: the post made on two');
    const fromOne = await postId(one.base, 'twin', 'posted on one');
    await b.until((x) => x.posts().length === 2, 5000, 'two: both posts');
    await a.until((x) => x.posts().length === 2, 5000, 'one: both posts');
    assert.deepEqual(postIds(a), [fromTwo, fromOne]);
    assert.deepEqual(postIds(b), [fromTwo, fromOne]);
    assert.equal(a.posts()[0].data, b.posts()[0].data, 'the same card from both');
    a.close();
    b.close();
  });

  test('concurrent posts on both instances reach every stream in the stored order', async () => {
    const subs = [];
    for (const web of [one, one, two, two]) subs.push(await open(`${web.base}home/sse`));
    await Promise.all(subs.map((s) => s.until((x) => x.retries.length > 0, 5000, 'retry')));
    const before = (await xrange(redis)).length;
    await Promise.all([one, two].map(async (web, w) => {
      for (let i = 0; i < 15; i++) await postId(web.base, `w${w}`, `interleaved ${w}.${i}`);
    }));
    const stored = (await xrange(redis)).slice(before).map((e) => e.id);
    assert.equal(stored.length, 30);
    for (const [i, s] of subs.entries()) {
      await s.until((x) => x.posts().length >= 30, 10000, `stream ${i}`);
      assert.deepEqual(postIds(s), stored, `stream ${i}`);
      s.close();
    }
    // And either page shows the same newest posts.
    const page1 = await fetchIds(one.base);
    const page2 = await fetchIds(two.base);
    assert.deepEqual(page1, page2);
    assert.deepEqual(page1.slice(0, 30), [...stored].reverse());
  });

  test('the error logs are clean', () => {
    assert.deepEqual(one.badLogLines(), []);
    assert.deepEqual(two.badLogLines(), []);
  });
});

// The post ids on the page of an instance, newest first.
async function fetchIds(base) {
  const res = await request('GET', base);
  assert.equal(res.status, 200);
  return cards(res.body).map((c) => c.id);
}
