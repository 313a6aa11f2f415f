// Redis outages as a child sees them, with both engines: a deleted newest post does not turn
// every reconnection into a reload; a lost Redis ends the open streams at 3 x
// TweetsseRedisTimeout (within one timeout) and refuses new ones from that moment; a child
// that starts while Redis is down answers streams at once (no worker thread waits for it) and
// refuses them with 503 and Retry-After once 3 x TweetsseRedisTimeout have passed.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { openStream, request, startApache, startRedis } from '../lib/harness.mjs';
import { STREAM_KEY, postId, ready, streamSummary, streamTracker, waitUntil } from '../lib/helpers.mjs';
import { parsePrometheus } from '../lib/prometheus.mjs';

const TIMEOUT = 1500; // TweetsseRedisTimeout, ms
const LOST = 3 * TIMEOUT;

for (const engine of ['socket', 'thread']) {
  describe(`TweetsseDelivery ${engine}`, () => {
    let redis, web;
    const tracker = streamTracker();

    // Every child's subscription up, as the metrics say.
    const allSubscribed = () => waitUntil(async () => {
      const res = await request('GET', `http://127.0.0.1:${web.port}/metrics`);
      if (res.status !== 200) return false;
      const m = parsePrometheus(res.body);
      const n = m.value('tweetsse_children');
      return n > 0 && m.sum('tweetsse_subscribed') === n;
    }, 15000, 'every child subscribed');

    before(async () => {
      redis = await startRedis();
      web = await startApache({ redis: redis.addr, logLevel: 'warn tweetsse:debug',
        extraConf: `TweetsseDelivery ${engine}\nTweetsseRedisTimeout ${TIMEOUT}ms` });
      await allSubscribed();
    });
    after(async () => {
      tracker.closeAll();
      await web?.stop();
      await redis?.stop();
    });

    test('the newest post deleted, then four Redis restarts: no reload, no TW0104, live again',
      async () => {
        const stays = await postId(web.base, 'keeper', 'stays');
        const gone = await postId(web.base, 'keeper', 'deleted');
        await redis.client.xDel(STREAM_KEY, gone);
        const streams = [];
        for (let i = 0; i < 4; i++) streams.push(await tracker.open(`${web.base}home/sse`));
        for (const s of streams) await ready(s);
        const mark = web.logMark();
        const children = (await web.childPids()).length;
        for (let i = 1; i <= 4; i++) {
          await redis.stop();
          await redis.start();
          await web.waitForLog((lines) => lines.filter((l) => /TW0106: subscribed/.test(l))
            .length >= i * children, { from: mark, timeoutMs: 15000,
            what: `every child subscribed again (restart ${i})` });
        }
        const live = await postId(web.base, 'keeper', 'after four restarts');
        for (const s of streams) {
          await s.until((x) => x.posts().some((e) => e.id === live), 5000, 'the live post');
          // The deleted post itself may come first: stored before the stream opened, its
          // announcement may reach the child after (it was deleted by hand, unannounced).
          const what = `stays ${stays}, deleted ${gone}, live ${live}: ${streamSummary(s)}`;
          assert.ok(s.events.every((e) => e.event === 'post'), `no reload (${what})`);
          assert.deepEqual(s.posts().map((e) => e.id).filter((id) => id !== gone), [live], what);
          assert.equal(s.ended, false);
        }
        const log = web.errorLog().slice(mark);
        assert.ok(!/TW0104/.test(log), 'no "posts were trimmed" gap');
        for (const s of streams) s.close();
      });

    test(`Redis lost: open streams end at 3 x TweetsseRedisTimeout (${LOST} ms, within one `
      + 'timeout) and new streams get 503 from then on', async (t) => {
      await allSubscribed();
      const streams = [];
      for (let i = 0; i < 4; i++) streams.push(await tracker.open(`${web.base}home/sse`));
      for (const s of streams) await ready(s);
      const ends = streams.map((s) => s.until((x) => x.ended, LOST + 3 * TIMEOUT, 'the end')
        .then(() => performance.now()));
      const stopped = performance.now();
      await redis.stop();
      const at = (await Promise.all(ends)).map((ms) => Math.round(ms - stopped));
      t.diagnostic(`streams ended ${at.join(', ')} ms after Redis stopped`);
      for (const ms of at) {
        assert.ok(ms >= LOST - TIMEOUT && ms <= LOST + TIMEOUT, `${ms} ms in ${LOST} ± ${TIMEOUT}`);
      }
      const refused = await request('GET', `${web.base}home/sse`);
      assert.equal(refused.status, 503, 'a new stream is refused');
      assert.equal(refused.headers['retry-after'], '5');
      await redis.start();
      await allSubscribed();
      const again = await openStream(`${web.base}home/sse`);
      assert.equal(again.status, 200, 'streams again once Redis is back');
      again.close();
    });

    test('a child started while Redis is down: 100 streams answered at once, then 503 with '
      + `Retry-After once ${LOST} ms have passed`, async (t) => {
      await redis.stop();
      await web.stop();
      await web.start();
      const started = performance.now();
      // Fewer than the workers of the children (2 x 64): a slow answer is a wait for the
      // child's subscription, not a queue for a thread.
      const times = await Promise.all(Array.from({ length: 100 }, async () => {
        const t0 = performance.now();
        const res = await request('GET', `${web.base}home/sse`);
        return { ms: performance.now() - t0, status: res.status };
      }));
      const slowest = Math.max(...times.map((x) => x.ms));
      const statuses = [...new Set(times.map((x) => x.status))];
      t.diagnostic(`100 stream requests during the outage: the slowest answered in `
        + `${slowest.toFixed(0)} ms; statuses ${statuses.join(', ')}`);
      assert.ok(slowest < TIMEOUT, `none waited for the child (${slowest.toFixed(0)} ms)`);
      const refused = await waitUntil(async () => {
        const res = await request('GET', `${web.base}home/sse`);
        return res.status === 503 && res;
      }, LOST + 2 * TIMEOUT, 'a 503');
      const after = performance.now() - started;
      t.diagnostic(`503 from ${after.toFixed(0)} ms after the start`);
      assert.equal(refused.headers['retry-after'], '5');
      assert.ok(after <= LOST + TIMEOUT, `refused within ${LOST} ± ${TIMEOUT} ms`);
      await redis.start();
      await allSubscribed();
    });

    test('the error log is clean', () => {
      assert.deepEqual(web.badLogLines([/TW0119: no Redis subscription/]), []);
    });
  });
}
