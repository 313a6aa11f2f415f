// What a balancer sees of an instance: the health check (a canary through Redis and back),
// streams let go once Redis stays away, and refusals while it does. Also the settings that all
// instances of a feed share, and posts that need a replica.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { post, request, startApache, startRedis } from '../lib/harness.mjs';
import { postId, ready, streamTracker, waitUntil, xlen } from '../lib/helpers.mjs';

const tracker = streamTracker();
const open = tracker.open;

describe('the health check and a Redis that stays away', () => {
  let redis, web;
  before(async () => {
    redis = await startRedis();
    // A short timeout: the streams are let go after three of them (1.5 s). At debug level
    // each child says when it has subscribed (TW0106): the checks start after all have.
    web = await startApache({ redis: redis.addr, logLevel: 'warn tweetsse:debug',
      extraConf: 'TweetsseRedisTimeout 500ms' });
    // conf/httpd.conf.in starts 2 children (StartServers 2).
    await web.waitForLog((lines) => lines.filter((l) => /TW0106: subscribed/.test(l)).length
      >= 2, { what: 'both children subscribed' });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
    await redis?.stop();
  });

  test('200 "ok" while a canary comes back through Redis', async () => {
    const res = await request('GET', `${web.base}home/health`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok\n');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.headers['content-type'], /^text\/plain/);
    const head = await request('HEAD', `${web.base}home/health`);
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    const no = await request('POST', `${web.base}home/health`, { body: 'x' });
    assert.equal(no.status, 405);
  });

  test('the canaries are no posts: no stream sees them', async () => {
    const s = await open(`${web.base}home/sse`);
    await ready(s);
    for (let i = 0; i < 5; i++)
      assert.equal((await request('GET', `${web.base}home/health`)).status, 200);
    const id = await postId(web.base, 'ann', 'after the checks');
    await s.until((x) => x.posts().length >= 1, 5000, 'the post');
    assert.deepEqual(s.posts().map((e) => e.id), [id]);
    assert.equal(await xlen(redis), 1);
    s.close();
  });

  test('Redis gone: health 503 with the reason; streams end after three timeouts; new ones '
    + 'get 503; all back once Redis is', async () => {
    const streams = [];
    for (let i = 0; i < 4; i++) streams.push(await open(`${web.base}home/sse`));
    await Promise.all(streams.map(ready));
    const mark = web.logMark();
    await redis.stop();
    const t0 = Date.now();
    const sick = await request('GET', `${web.base}home/health`);
    assert.equal(sick.status, 503);
    assert.match(sick.body, /^(not subscribed to Redis|cannot publish through Redis)\n$/);
    await Promise.all(streams.map((s) => s.until((x) => x.ended, 10000, 'the stream to end')));
    const took = Date.now() - t0;
    assert.ok(took >= 1000, `the streams ended after ${took} ms, not before three timeouts`);
    for (const s of streams)
      assert.ok(s.comments.some((c) => /lost Redis/.test(c)), 'each was told why');
    await web.waitForLog((lines) => lines.some((l) => /TW0119: /.test(l)),
      { from: mark, timeoutMs: 5000, what: 'TW0119' });
    const refused = await request('GET', `${web.base}home/sse`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');

    await redis.start();
    await waitUntil(async () => (await request('GET', `${web.base}home/health`)).status === 200,
      15000, 'health 200 again');
    const back = await open(`${web.base}home/sse`);
    assert.equal(back.status, 200);
    await ready(back);
    const id = await postId(web.base, 'bob', 'back');
    await back.until((x) => x.posts().some((e) => e.id === id), 5000, 'a live post again');
    back.close();
  });

  test('the error log is clean but for the outage', () => {
    assert.deepEqual(web.badLogLines([/TW0107|TW0119|TW0402|TW0111/]), []);
  });
});

describe('settings that every instance of a feed shares', () => {
  let redis, first, second;
  before(async () => {
    redis = await startRedis();
    first = await startApache({ redis: redis.addr, history: 1000 });
    // The first recorded the fleet's settings once it subscribed.
    await waitUntil(async () => (await redis.client.hGet('tweetsse:feed:settings', 'history'))
      === '1000', 5000, 'the settings recorded');
    second = await startApache({ redis: redis.addr, history: 10 });
  });
  after(async () => {
    await second?.stop();
    await first?.stop();
    await redis?.stop();
  });

  test('a differing TweetsseHistory is reported at start-up, naming both values', async () => {
    const lines = await second.waitForLog(
      (ls) => ls.filter((l) => /TW0112: /.test(l)).length > 0 && ls, { what: 'TW0112' });
    const line = lines.find((l) => /TW0112: /.test(l));
    assert.match(line, /\[tweetsse:error\]/);
    assert.match(line, /TweetsseHistory is 10 here/);
    assert.match(line, /keep 1000 posts \(tweetsse:feed:settings\)/);
    assert.doesNotMatch(first.errorLog(), /TW0112/);
  });

  test('and its posts never trim the shared stream below the fleet\'s history', async () => {
    for (let i = 0; i < 300; i++) await post(second.base, { username: 'low', message: `${i}` });
    const n = await xlen(redis);
    assert.ok(n >= 300, `the stream kept ${n} of 300 posts, not about 10`);
  });
});

describe('TweetsseRedisMinReplicas on a Redis without replicas', () => {
  let redis, web;
  before(async () => {
    redis = await startRedis();
    web = await startApache({ redis: redis.addr, extraConf: 'TweetsseRedisMinReplicas 1' });
  });
  after(async () => {
    await web?.stop();
    await redis?.stop();
  });

  test('a post is refused with 503 and Retry-After, and nothing is stored', async () => {
    const res = await post(web.base, { username: 'ann', message: 'needs a replica' });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '5');
    assert.match(JSON.parse(res.body).error, /try again/);
    assert.equal(await xlen(redis), 0);
    assert.match(web.errorLog(), /TW0402: cannot store a post: post: NOREPLICAS 0 of the 1/);
  });
});
