// Resuming from the child's ring, and the reconnect delay of streams the server ends, with
// both engines (TweetsseDelivery socket and thread) against a real Apache and Redis: a resume
// point the ring covers gets exactly the missed posts, once and in order, without a single
// XRANGE (Redis' own INFO commandstats counts them); one further back, or before an entry
// another program added unannounced, is replayed from Redis; TweetsseMaxResume still holds.
// A graceful restart ends every stream with a retry: line in [TweetsseRetry, + jitter).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startApache, startRedis } from '../lib/harness.mjs';
import { STREAM_KEY, postId, postIds, ready, streamSummary, streamTracker, waitUntil }
  from '../lib/helpers.mjs';
import { parsePrometheus } from '../lib/prometheus.mjs';

const MAX_RESUME = 20;
const RETRY = 2000;
const JITTER = 5000;

// XRANGE calls Redis has served so far.
async function xrangeCalls(redis) {
  const info = await redis.client.info('commandstats');
  const m = info.match(/cmdstat_xrange:calls=(\d+)/);
  return m ? Number(m[1]) : 0;
}

for (const engine of ['socket', 'thread']) {
  describe(`TweetsseDelivery ${engine}`, () => {
    let redis, web;
    const tracker = streamTracker();
    const open = tracker.open;
    const before0 = []; // posts stored before Apache started: in no ring

    before(async () => {
      redis = await startRedis();
      for (let i = 0; i < 3; i++) {
        before0.push(await redis.client.xAdd(STREAM_KEY, '*', { u: 'early', m: `early ${i}` }));
      }
      web = await startApache({ redis: redis.addr, extraConf: [
        `TweetsseDelivery ${engine}`, `TweetsseMaxResume ${MAX_RESUME}`,
        `TweetsseRetry ${RETRY}ms`, `TweetsseRetryJitter ${JITTER}ms`].join('\n') });
      // Every child subscribed: from then on each hears every post (its ring's run starts at
      // the first one).
      const origin = `http://127.0.0.1:${web.port}`;
      await waitUntil(async () => {
        const res = await request('GET', `${origin}/metrics`);
        if (res.status !== 200) return false;
        const m = parsePrometheus(res.body);
        const n = m.value('tweetsse_children');
        return n > 0 && m.sum('tweetsse_subscribed') === n;
      }, 10000, 'every child subscribed');
    });
    after(async () => {
      tracker.closeAll();
      await web?.stop();
      await redis?.stop();
    });

    test('an empty ring, a point before it: replayed from Redis', async () => {
      const calls = await xrangeCalls(redis);
      const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': before0[0] });
      await s.until((x) => x.posts().length === 2, 5000, 'the two posts stored before the start');
      assert.deepEqual(postIds(s), before0.slice(1), streamSummary(s));
      assert.ok(await xrangeCalls(redis) > calls, 'the store was asked');
      const live = await postId(web.base, 'ringer', 'first heard');
      await s.until((x) => x.posts().length === 3, 5000, 'the live post');
      assert.deepEqual(postIds(s), [...before0.slice(1), live], streamSummary(s));
      s.close();
    });

    test('resumes inside the ring: the missed posts once, in order, no XRANGE', async () => {
      const ids = [];
      for (let i = 0; i < 30; i++) ids.push(await postId(web.base, 'ringer', `ring ${i}`));
      const calls = await xrangeCalls(redis);
      // From TweetsseMaxResume posts back to the newest.
      const points = [9, 14, 20, 28, 29];
      const streams = [];
      for (const k of points) streams.push(await open(`${web.base}home/sse`, { 'Last-Event-ID': ids[k] }));
      for (const [i, s] of streams.entries()) {
        await ready(s);
        await s.until((x) => x.posts().length >= 29 - points[i], 5000, 'the missed posts');
      }
      const live = await postId(web.base, 'ringer', 'live');
      for (const [i, s] of streams.entries()) {
        await s.until((x) => x.posts().some((e) => e.id === live), 5000, 'the live post');
        assert.deepEqual(postIds(s), [...ids.slice(points[i] + 1), live], streamSummary(s));
        assert.ok(!s.events.some((e) => e.event === 'reload'), 'no reload');
      }
      assert.equal(await xrangeCalls(redis), calls, 'no XRANGE for resumes inside the ring');
      for (const s of streams) s.close();
    });

    test('more than TweetsseMaxResume posts back in the ring: reload, still no XRANGE', async () => {
      const ids = [];
      for (let i = 0; i < MAX_RESUME + 2; i++) ids.push(await postId(web.base, 'ringer', `far ${i}`));
      const calls = await xrangeCalls(redis);
      const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': ids[0] });
      await s.until((x) => x.ended, 5000, 'the end of the stream');
      assert.deepEqual(s.events.map((e) => e.event), ['reload'], streamSummary(s));
      const edge = await open(`${web.base}home/sse`, { 'Last-Event-ID': ids[1] });
      await edge.until((x) => x.posts().length === MAX_RESUME, 5000, 'exactly the bound');
      assert.deepEqual(postIds(edge), ids.slice(2));
      assert.equal(await xrangeCalls(redis), calls);
      edge.close();
    });

    test('an entry another program added unannounced: resumes before it go to Redis', async () => {
      const mine = await postId(web.base, 'ringer', 'before the foreign one');
      const foreign = await redis.client.xAdd(STREAM_KEY, '*', { u: 'other', m: 'unannounced' });
      const next = await postId(web.base, 'ringer', 'after the foreign one');
      const calls = await xrangeCalls(redis);
      const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': mine });
      await s.until((x) => x.posts().length === 2, 5000, 'both posts after the resume point');
      assert.deepEqual(postIds(s), [foreign, next], 'the foreign entry too: from Redis');
      const viaRedis = await xrangeCalls(redis);
      assert.ok(viaRedis > calls, 'the store was asked');
      const t = await open(`${web.base}home/sse`, { 'Last-Event-ID': foreign });
      await ready(t);
      const live = await postId(web.base, 'ringer', 'live again');
      await t.until((x) => x.posts().some((e) => e.id === live), 5000, 'live');
      assert.deepEqual(postIds(t), [next, live], streamSummary(t));
      assert.equal(await xrangeCalls(redis), viaRedis, 'from the foreign entry on: the ring');
      s.close();
      t.close();
    });

    test('a resume point newer than every post: reload, on every child, never a silent stream',
      async () => {
        const future = `${Date.now() + 3600000}-0`;
        const streams = [];
        // Enough streams to reach every child, each of which has heard posts by now.
        for (let i = 0; i < 12; i++) {
          streams.push(await open(`${web.base}home/sse`, { 'Last-Event-ID': future }));
        }
        for (const s of streams) {
          await s.until((x) => x.ended, 5000, 'the end of a stream from the future');
          assert.deepEqual(s.events.map((e) => e.event), ['reload'], streamSummary(s));
        }
      });

    test('a graceful restart ends every stream with a jittered retry:', async () => {
      const streams = [];
      for (let i = 0; i < 8; i++) streams.push(await open(`${web.base}home/sse`));
      for (const s of streams) await ready(s);
      const mark = web.logMark();
      web.graceful();
      const retries = [];
      for (const s of streams) {
        await s.until((x) => x.ended, 10000, 'the stream to end');
        assert.equal(s.retries[0], RETRY, 'the first retry: is the base');
        assert.equal(s.retries.length, 2, `one more retry: before the end (${s.retries})`);
        retries.push(s.retries[1]);
      }
      for (const v of retries) assert.ok(v >= RETRY && v < RETRY + JITTER, `${v} in range`);
      assert.ok(new Set(retries).size > 1, `not all the same: ${retries}`);
      await web.waitForLog((lines) => lines.some((l) => /resuming normal operations/.test(l)),
        { from: mark, what: 'the restart' });
    });
  });
}
