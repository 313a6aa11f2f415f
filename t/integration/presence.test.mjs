// Who is reading: every child reports its open streams to Redis every few seconds and hears
// the feed's sum, which reaches every stream as a "presence" event (no id: outside the log);
// a child killed outright drops out of the sum within 30 s; a child that stops leaves at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApache, startRedis } from '../lib/harness.mjs';
import { ready, streamTracker, waitUntil } from '../lib/helpers.mjs';

const PRESENCE = 'tweetsse:feed:presence';

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
      const keys = await redis.client.hGetAll(PRESENCE);
      const sum = Object.values(keys).reduce((n, v) => n + Number(v.split(' ')[0]), 0);
      assert.equal(sum, 6, `Redis holds each child's report: ${JSON.stringify(keys)}`);
      assert.ok(Object.keys(keys).length <= (await web.childPids()).length + 1,
        'one report per child, not per stream');
      streams.slice(3).forEach((s) => s.close());
      await Promise.all(streams.slice(0, 3).map((s) => s.until((x) => heard(x) === 3, 15000,
        'a presence of 3')));
      streams.slice(0, 3).forEach((s) => s.close());
    });

  // Each process's last report in Redis: [{pid, readers}] (fields "<host>:<pid>:<n>").
  const reports = async () => Object.entries(await redis.client.hGetAll(PRESENCE))
    .map(([k, v]) => ({ pid: Number(k.split(':')[1]), readers: Number(v.split(' ')[0]) }));

  test('a child killed with -9 drops out of the sum within 30 s', async (t) => {
    // Which child takes a connection is the MPM's choice: open streams until the reports say
    // that two children hold some, so that killing one leaves readers on the other.
    const streams = [];
    let holders = [];
    while (holders.length < 2) {
      assert.ok(streams.length < 64, `64 streams and still one child holds them all`);
      for (let i = 0; i < 4; i++) streams.push(await tracker.open(`${web.base}home/sse`));
      await Promise.all(streams.map(ready));
      const all = await waitUntil(async () => {
        const r = await reports();
        return r.reduce((n, x) => n + x.readers, 0) === streams.length && r;
      }, 15000, `reports summing to ${streams.length}`);
      holders = all.filter((x) => x.readers > 0);
    }
    const n = streams.length;
    await Promise.all(streams.map((s) => s.until((x) => heard(x) === n, 15000, `${n}`)));
    const victim = holders[0];
    const t0 = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    // The victim's streams end at once; the others hear the sum without it once its report is
    // older than the 15 s a report counts (then at the next report of a living child).
    const want = n - victim.readers;
    await Promise.all(streams.map((s) => s.until((x) => x.ended || heard(x) === want, 30000,
      `each stream to end or to hear ${want}`)));
    t.diagnostic(`the sum was right ${Date.now() - t0} ms after the kill`);
    assert.equal(streams.filter((s) => s.ended).length, victim.readers,
      'the killed child\'s streams, and only those, ended');
    streams.forEach((s) => s.close());
  });

  test('a child that stops takes its readers out at once', async () => {
    const pids = await web.childPids();
    assert.ok((await reports()).some((x) => pids.includes(x.pid)), 'the children report');
    await web.stop();
    // A child killed outright (above) may still be there until a living child forgets it.
    const left = (await reports()).filter((x) => pids.includes(x.pid));
    assert.deepEqual(left, [], 'every child left on its way out');
    await web.start();
  });
});
