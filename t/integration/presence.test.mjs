// Who is reading: every child reports its open streams to Redis every few seconds and hears
// the feed's sum, which reaches every stream as a "presence" event (no id: outside the log);
// a child killed outright drops out of the sum within 30 s; a child that stops leaves at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApache, startRedis } from '../lib/harness.mjs';
import { ready, streamTracker } from '../lib/helpers.mjs';

const tracker = streamTracker();

// The last presence count a stream heard, or undefined.
const heard = (s) => {
  const p = s.notes;
  return p.length ? Number(p.at(-1).data) : undefined;
};

describe('presence', () => {
  let redis, web;
  before(async () => {
    redis = await startRedis();
    web = await startApache({ redis: redis.addr });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
    await redis?.stop();
  });

  test('every stream hears how many streams the feed has, as an event without an id',
    async () => {
      const streams = [];
      for (let i = 0; i < 6; i++) streams.push(await tracker.open(`${web.base}home/sse`));
      await Promise.all(streams.map(ready));
      await Promise.all(streams.map((s) => s.until((x) => heard(x) === 6, 15000,
        'a presence of 6')));
      const [ev] = streams[0].notes;
      assert.equal(ev.id, undefined, 'no id: a resume point stays an event of the log');
      const keys = await redis.client.hGetAll('tweetsse:feed:presence');
      const sum = Object.values(keys).reduce((n, v) => n + Number(v.split(' ')[0]), 0);
      assert.equal(sum, 6, `Redis holds each child's report: ${JSON.stringify(keys)}`);
      assert.ok(Object.keys(keys).length <= (await web.childPids()).length + 1,
        'one report per child, not per stream');
      streams.slice(3).forEach((s) => s.close());
      await Promise.all(streams.slice(0, 3).map((s) => s.until((x) => heard(x) === 3, 15000,
        'a presence of 3')));
      streams.slice(0, 3).forEach((s) => s.close());
    });

  test('a child killed with -9 drops out of the sum within 30 s', async (t) => {
    const streams = [];
    for (let i = 0; i < 8; i++) streams.push(await tracker.open(`${web.base}home/sse`));
    await Promise.all(streams.map(ready));
    await Promise.all(streams.map((s) => s.until((x) => heard(x) === 8, 15000, '8')));
    const [victim] = await web.childPids();
    const t0 = Date.now();
    process.kill(victim, 'SIGKILL');
    await Promise.all(streams.map((s) => s.until((x) => x.ended || heard(x) < 8, 15000,
      'the killed child\'s streams to end')));
    const left = streams.filter((s) => !s.ended);
    assert.ok(left.length > 0 && left.length < 8, `streams on the other child: ${left.length}`);
    await Promise.all(left.map((s) => s.until((x) => heard(x) === left.length, 30000,
      `a presence of ${left.length}`)));
    t.diagnostic(`the sum was right ${Date.now() - t0} ms after the kill`);
  });

  test('a child that stops takes its readers out at once', async () => {
    const mark = await redis.client.hLen('tweetsse:feed:presence');
    assert.ok(mark >= 1);
    await web.stop();
    const keys = await redis.client.hGetAll('tweetsse:feed:presence');
    assert.deepEqual(keys, {}, 'every child left on its way out');
    await web.start();
  });
});
