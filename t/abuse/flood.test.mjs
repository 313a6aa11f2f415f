// Floods, tried as an attacker would: one client posting as fast as it can, through two
// instances sharing Redis, gets exactly its allowance (TweetsseRateLimit, checked in the same
// Redis step as the post); an address gets its own (TweetsseAddressRateLimit); refusals are
// 429 with Retry-After and store nothing; the page's script shows the reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cookieFor, post, startApache, startRedis } from '../lib/harness.mjs';
import { xlen } from '../lib/helpers.mjs';

let redis;
let webs = [];
let started;
before(async () => {
  redis = await startRedis();
  // One post per 2 s, 10 at once: per author; per address 30 at once.
  const limits = { rateLimit: '30/60s burst=10', addressRateLimit: '30/60s burst=30' };
  webs = [await startApache({ redis: redis.addr, ...limits }),
    await startApache({ redis: redis.addr, ...limits })];
  started = Date.now();
});
after(async () => {
  for (const w of webs) await w?.stop();
  await redis?.stop();
});

// Send `n` posts as `user` alternating over the instances, `parallel` at a time; returns the
// statuses, the Retry-After values of the 429s, and how long it took.
async function flood(user, n, parallel = 16, kind = 'json') {
  const statuses = [];
  const retry = [];
  let next = 0;
  const t0 = Date.now();
  async function worker() {
    while (next < n) {
      const i = next++;
      const res = await post(webs[i % 2].base, { message: `flood ${user} ${i}` }, kind,
        { Cookie: cookieFor(user) });
      statuses.push(res.status);
      if (res.status === 429) retry.push(Number(res.headers['retry-after']));
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return { statuses, retry, ms: Date.now() - t0 };
}

describe('a flood through two instances', () => {
  test('one author gets exactly its allowance: the burst, then one post per interval',
    async () => {
      const before = await xlen(redis);
      const { statuses, retry, ms } = await flood('flooder', 2000);
      const ok = statuses.filter((s) => s === 201).length;
      const limited = statuses.filter((s) => s === 429).length;
      // GCRA: 10 at once, then one more for every 2 s that passed.
      const allowance = 10 + Math.floor(ms / 2000);
      console.log(`# 2000 posts in ${ms} ms: ${ok} stored, ${limited} refused (allowance `
        + `${allowance})`);
      assert.ok(ok >= 10 && ok <= allowance, `${ok} stored, allowance ${allowance}`);
      assert.equal(ok + limited, 2000, 'every other post got 429');
      assert.equal(await xlen(redis) - before, ok, 'exactly the accepted posts are stored');
      assert.ok(retry.every((s) => s >= 1 && s <= 2), `Retry-After 1..2 s: ${[...new Set(retry)]}`);
    });

  test('the refusal says "slow down", in the request\'s format', async () => {
    const json = await post(webs[0].base, { message: 'more' }, 'json', { Cookie: cookieFor('flooder') });
    assert.equal(json.status, 429);
    assert.match(JSON.parse(json.body).error, /^slow down: you can post again in \d+ s$/);
    const htmx = await post(webs[1].base, { message: 'more' }, 'htmx', { Cookie: cookieFor('flooder') });
    assert.equal(htmx.status, 429);
    assert.match(htmx.headers['content-type'], /^text\/plain/);
    assert.match(htmx.body, /^slow down/);
  });

  test('other authors post past one flooder, until their address runs out', async () => {
    const results = [];
    for (let i = 0; i < 40; i++) {
      results.push((await post(webs[i % 2].base, { message: `author ${i}` }, 'json',
        { Cookie: cookieFor(`author${i}`) })).status);
    }
    assert.equal(results[0], 201, 'another author posts while the flooder is limited');
    const ok = results.filter((s) => s === 201).length;
    assert.ok(results.includes(429), `the address is limited too (${ok} of 40 stored)`);
    // Everything this address stored since the start: its burst, plus one per interval.
    const allowance = 30 + Math.floor((Date.now() - started) / 2000);
    const stored = await xlen(redis);
    console.log(`# 40 authors from one address: ${ok} stored; ${stored} from the address in all `
      + `(allowance ${allowance})`);
    assert.ok(stored <= allowance, `${stored} stored from one address, allowance ${allowance}`);
  });

  test('the error logs are clean', () => {
    for (const w of webs) assert.deepEqual(w.badLogLines(), []);
  });
});
