// Virtual hosts on one feed: each child runs one runtime (store, hub, engines) for them all,
// since their feed settings are equal, yet each keeps the settings that shape its own
// responses. The reconnect delay a stream is told when the server ends it (a graceful restart)
// is its own virtual host's TweetsseRetry and TweetsseRetryJitter, with both engines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startApache, startRedis } from '../lib/harness.mjs';
import { ready, streamTracker, waitUntil } from '../lib/helpers.mjs';
import { parsePrometheus } from '../lib/prometheus.mjs';

// Name-based virtual hosts on the server's one address: `a.example` and `b.example`, each with
// its own retry and no jitter, so the delay each stream is told at the end is exact.
const HOSTS = { 'a.example': 1500, 'b.example': 4500 };
const vhosts = Object.entries(HOSTS).map(([name, ms]) => [
  '<VirtualHost *>',
  `  ServerName ${name}`,
  `  TweetsseRetry ${ms}ms`,
  '  TweetsseRetryJitter off',
  '</VirtualHost>'].join('\n')).join('\n');

for (const engine of ['socket', 'thread']) {
  describe(`two virtual hosts on one feed, TweetsseDelivery ${engine}`, () => {
    let redis, web;
    const tracker = streamTracker();

    before(async () => {
      redis = await startRedis();
      web = await startApache({ redis: redis.addr,
        extraConf: `TweetsseDelivery ${engine}\n${vhosts}` });
      const origin = `http://127.0.0.1:${web.port}`;
      await waitUntil(async () => {
        const res = await request('GET', `${origin}/metrics`, { headers: { Host: 'a.example' } });
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

    test('one runtime per child serves both: one subscriber connection a child', async () => {
      const m = parsePrometheus((await request('GET', `http://127.0.0.1:${web.port}/metrics`,
        { headers: { Host: 'b.example' } })).body);
      const children = m.value('tweetsse_children');
      const [, subscribers] = await redis.client.sendCommand(['PUBSUB', 'NUMSUB', 'tweetsse:live']);
      assert.ok(children > 0);
      assert.equal(Number(subscribers), children, 'not one per virtual host');
    });

    test('a graceful restart tells each stream its own virtual host\'s retry', async () => {
      const streams = [];
      for (const host of Object.keys(HOSTS)) {
        for (let i = 0; i < 3; i++) {
          const s = await tracker.open(`${web.base}home/sse`, { Host: host });
          s.host = host;
          streams.push(s);
        }
      }
      for (const s of streams) await ready(s);
      for (const s of streams) {
        assert.equal(s.retries[0], HOSTS[s.host], `${s.host}: the first retry: is its own`);
      }
      const mark = web.logMark();
      web.graceful();
      for (const s of streams) {
        await s.until((x) => x.ended, 10000, `${s.host}: the stream to end`);
        assert.deepEqual(s.retries, [HOSTS[s.host], HOSTS[s.host]],
          `${s.host}: the retry: at the end is its own virtual host's too`);
      }
      await web.waitForLog((lines) => lines.some((l) => /resuming normal operations/.test(l)),
        { from: mark, what: 'the restart' });
    });
  });
}
