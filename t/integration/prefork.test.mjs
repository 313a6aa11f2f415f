// The prefork MPM: one request per process, so every stream is held by its own process and
// posts arrive from other processes through Redis.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openStream, post, request, startApache, startRedis } from '../lib/harness.mjs';
import { backToBack, cards, nameCookie, postId, postIds, textById, xrange }
  from '../lib/helpers.mjs';

let redis, web;
const streams = [];
before(async () => {
  redis = await startRedis();
  // The graceful-restart test posts back to back until the old streams end, then resumes
  // them: history and resumes long enough for whatever a loaded machine gets through.
  web = await startApache({ redis: redis.addr, mpm: 'prefork', history: 1000000,
    extraConf: 'TweetsseMaxResume 10000' });
});
after(async () => {
  for (const s of streams) s.close();
  await web?.stop();
  await redis?.stop();
});

test('runs under prefork with several processes', async () => {
  assert.match(web.errorLog(), /\[mpm_prefork:notice\]/);
  const children = await web.childPids();
  assert.ok(children.length >= 2, `children: ${children}`);
});

test('the page, with the name cookie', async () => {
  const res = await request('GET', web.base);
  assert.equal(res.status, 200);
  const c = nameCookie(res);
  assert.equal(textById(res.body, 'whoami'), c.name);
  assert.match(res.body, /<form id="compose"[^>]*hx-post="home"/);
  const again = await request('GET', `${web.base}home`, { headers: { Cookie: `tw_name=${c.value}` } });
  assert.equal(textById(again.body, 'whoami'), c.name);
});

test('posting in all three formats', async () => {
  const json = await post(web.base, { username: 'pre', message: 'json on prefork' });
  assert.equal(json.status, 201);
  const htmx = await post(web.base, { username: 'pre', message: 'htmx on prefork' }, 'htmx');
  assert.equal(htmx.status, 204);
  const form = await post(web.base, { username: 'pre', message: 'form on prefork' }, 'form');
  assert.equal(form.status, 303);
  const bad = await post(web.base, { username: 'pre', message: ' ' });
  assert.equal(bad.status, 400);
  const stored = await xrange(redis);
  assert.deepEqual(stored.map((e) => e.m), ['json on prefork', 'htmx on prefork', 'form on prefork']);
  const page = await request('GET', web.base);
  assert.deepEqual(cards(page.body).map((c) => c.id), stored.map((e) => e.id).reverse());
});

test('two streams, each in its own process, receive posts made by other processes', async () => {
  const a = await openStream(`${web.base}home/sse`);
  const b = await openStream(`${web.base}home/sse`,
    { 'Last-Event-ID': (await xrange(redis))[0].id });
  streams.push(a, b);
  await a.until((x) => x.retries.length > 0, 5000, 'retry line');
  await b.until((x) => x.posts().length === 2, 5000, 'replay');
  // While both streams hold a process each, the others still serve pages and posts.
  assert.equal((await request('GET', web.base)).status, 200);
  const ids = [];
  for (let i = 0; i < 8; i++) ids.push(await postId(web.base, 'pre', `across processes ${i}`));
  await a.until((x) => x.posts().length >= 8, 5000, 'stream a');
  await b.until((x) => x.posts().length >= 10, 5000, 'stream b');
  assert.deepEqual(postIds(a), ids);
  assert.deepEqual(postIds(b), [...(await xrange(redis)).slice(1, 3).map((e) => e.id), ...ids]);
  a.close();
  b.close();
});

test('graceful restart: streams end, clients resume without loss', async () => {
  const subs = [];
  for (let i = 0; i < 2; i++) subs.push(await openStream(`${web.base}home/sse`));
  streams.push(...subs);
  await Promise.all(subs.map((s) => s.until((x) => x.retries.length > 0, 5000, 'retry line')));
  const first = await postId(web.base, 'pre', 'before graceful');
  await Promise.all(subs.map((s) => s.until((x) => x.posts().length === 1, 5000, 'first post')));
  web.graceful();
  // Posts keep coming until every old stream has ended.
  const writer = backToBack((i) => postId(web.base, 'pre', `during graceful ${i}`));
  try {
    await Promise.all(subs.map((s) => s.until((x) => x.ended, 10000, 'the stream to end')));
  } finally {
    await writer.stop().catch(() => {});
  }
  await writer.stop();
  const during = writer.results;
  for (const s of subs) {
    const last = postIds(s).at(-1);
    const r = await openStream(`${web.base}home/sse`, { 'Last-Event-ID': last });
    streams.push(r);
    const want = (await xrange(redis)).map((e) => e.id);
    const after = want.slice(want.indexOf(last) + 1);
    await r.until((x) => x.posts().length >= after.length, 5000, 'the resumed stream');
    const seen = [...postIds(s), ...postIds(r)];
    assert.deepEqual(seen, want.slice(want.indexOf(first)), 'no gap, no duplicate');
    assert.ok(during.every((id) => seen.includes(id)));
    r.close();
  }
});

// Prefork tells a stopping child only through the MPM state (child_stopping runs at exit):
// a stream must notice it even when posts keep it from ever waiting long.
test('graceful restart while posts flow back to back: old streams still end promptly', async (t) => {
  const s = await openStream(`${web.base}home/sse`);
  streams.push(s);
  await s.until((x) => x.retries.length > 0, 5000, 'retry line');
  // One post after the other, each sent when the previous one is answered, until stopped.
  const pump = backToBack((i) => post(web.base, { username: 'pump', message: `steady ${i}` }));
  try {
    await s.until((x) => x.posts().length >= 2, 5000, 'posts flowing');
    const t0 = Date.now();
    web.graceful();
    await s.until((x) => x.ended, 8000, 'the old stream to end under steady traffic');
    t.diagnostic(`the stream ended ${Date.now() - t0} ms after the graceful restart, ` +
      `${pump.count} posts so far`);
  } finally {
    await pump.stop();
  }
});

test('the error log is clean', () => {
  assert.deepEqual(web.badLogLines(), []);
});

// A prefork child is destroyed from its SIGTERM handler, possibly while its only thread waits
// in a stream: the hub must neither crash nor hang there.
test('children exit cleanly: no crash, a prompt stop even with a stream open', async () => {
    const s = await openStream(`${web.base}home/sse`);
    streams.push(s);
    await s.until((x) => x.retries.length > 0, 5000, 'retry line');
    const t0 = Date.now();
    await web.stop();
    const ms = Date.now() - t0;
    const log = web.errorLog().split('\n');
    const problems = [
      ...log.filter((l) => /exit signal|still did not exit/.test(l)),
      ...web.badLogLines(),
      ...(ms < 5000 ? [] : [`the stop took ${ms} ms`]),
    ];
    assert.deepEqual([...new Set(problems)], []);
  });
