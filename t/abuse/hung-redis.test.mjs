// Redis that hangs mid-post (SIGSTOP): the post was sent, so the module cannot know whether
// it was stored. The answer says so, and a retry with the same idempotency key (the form's
// hidden key, or a JSON client's Idempotency-Key) tells the truth: the first post's id, and
// the post stored once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cookieFor, post, request, startApache, startRedis } from '../lib/harness.mjs';
import { waitUntil, xrange } from '../lib/helpers.mjs';

let redis;
let web;
before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, extraConf: 'TweetsseRedisTimeout 300ms' });
  // One post first: Redis then has the publish script (EVALSHA finds it), as it has in any
  // running feed; a Redis without it would answer the hung EVALSHA with NOSCRIPT.
  assert.equal((await post(web.base, { message: 'warm-up' })).status, 201);
});
after(async () => {
  try { process.kill(redis.proc.pid, 'SIGCONT'); } catch { /* gone already */ }
  await web?.stop();
  await redis?.stop();
});

const stored = async (message) => (await xrange(redis)).filter((e) => e.m === message);

// Post while Redis is stopped; then let it run again.
async function postWhileHung(send) {
  process.kill(redis.proc.pid, 'SIGSTOP');
  try {
    return await send();
  } finally {
    process.kill(redis.proc.pid, 'SIGCONT');
  }
}

describe('a post when Redis hangs', () => {
  test('with a key: 503 "may have been stored", and the retry gets the first id', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const message = `hung json ${i}`;
      const headers = { 'Idempotency-Key': `retry-${i}-${Date.now()}` };
      const first = await postWhileHung(() => post(web.base, { message }, 'json', headers));
      assert.equal(first.status, 503, first.body);
      assert.match(JSON.parse(first.body).error, /may have been stored: sending it again is safe/);
      assert.equal(first.headers['retry-after'], '5');
      // Redis runs what it had read before it stopped: the post appears without a retry.
      await waitUntil(async () => (await stored(message)).length === 1, 5000, 'the hung post');
      const again = await post(web.base, { message }, 'json', headers);
      assert.equal(again.status, 201, again.body);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      const [entry] = await stored(message);
      assert.equal(JSON.parse(again.body).id, entry.id, 'the retry names the stored post');
      assert.equal((await stored(message)).length, 1, 'stored once');
      ids.push(entry.id);
    }
    console.log(`# 3 posts answered 503 while Redis hung, retried with their keys: each stored `
      + `once (${ids.join(', ')})`);
  });

  test('the form\'s hidden key makes a resent form post store once', async () => {
    const page = await request('GET', `${web.base}home`, { headers: { Cookie: cookieFor('former') } });
    const key = page.body.match(/<input type="hidden" name="key" value="([A-Za-z0-9_-]{22})">/)?.[1];
    assert.ok(key, 'the page\'s form has a key');
    const again = await request('GET', `${web.base}home`, { headers: { Cookie: cookieFor('former') } });
    assert.notEqual(again.body.match(/name="key" value="([^"]+)"/)[1], key, 'a new key per page');
    const message = 'hung form';
    const fields = { username: 'former', message, key };
    const first = await postWhileHung(() => post(web.base, fields, 'htmx'));
    assert.equal(first.status, 503);
    assert.match(first.body, /sending it again is safe/);
    await waitUntil(async () => (await stored(message)).length === 1, 5000, 'the hung post');
    const retry = await post(web.base, fields, 'htmx');
    assert.equal(retry.status, 204);
    assert.equal(retry.headers['x-post-id'], (await stored(message))[0].id);
    const plain = await post(web.base, fields, 'form');
    assert.equal(plain.status, 303, 'the no-JavaScript form resent: back to the page');
    assert.equal((await stored(message)).length, 1, 'stored once after two retries');
  });

  test('without a key the answer says to look before sending again', async () => {
    const message = 'hung, no key';
    const res = await postWhileHung(() => post(web.base, { message }, 'json'));
    assert.equal(res.status, 503);
    assert.match(JSON.parse(res.body).error, /it may still appear, so look before you send it/);
    await waitUntil(async () => (await stored(message)).length === 1, 5000, 'the hung post');
  });

  test('a malformed key: 400, nothing stored', async () => {
    for (const key of ['', 'a b', 'x'.repeat(65), 'é']) {
      const res = await post(web.base, { message: 'bad key' }, 'json', { 'Idempotency-Key': key });
      assert.equal(res.status, 400, JSON.stringify(key));
    }
    const form = await post(web.base, { message: 'bad key', key: '<script>' }, 'form');
    assert.equal(form.status, 400);
    assert.equal((await stored('bad key')).length, 0);
  });

  test('the error log has only the failed stores', () => {
    assert.deepEqual(web.badLogLines(), []);
    assert.match(web.errorLog(), /TW0402: cannot store a post/);
  });
});
