// Acting on posts: an author deletes, anyone likes, through JSON, htmx and plain forms; every
// open stream hears the deletion and the new count as events of the one log, on both delivery
// engines and under prefork; resumes from the ring and from Redis never bring a deleted post
// back; every refusal is a clear 4xx that changes nothing; the per-viewer parts (the viewer's
// stylesheet, the posts the viewer likes); the metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BASIC_AUTH_MODULES, byOf, cookieFor, htpasswdFile, identityFor, request, signName,
  startApache, startRedis } from '../lib/harness.mjs';
import { cards, cmpId, postId, ready, streamTracker, xlen, xrange } from '../lib/helpers.mjs';
import { parsePrometheus } from '../lib/prometheus.mjs';

const tracker = streamTracker();
const open = tracker.open;

const FORM = 'application/x-www-form-urlencoded';

// POST `fields` to a post's URL as visitor `as`: kind json, htmx or form.
export function act(base, id, fields, { as = 'tester', kind = 'json', headers = {} } = {}) {
  const h = { Cookie: cookieFor(as), ...headers };
  let body;
  if (kind === 'json') {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(fields);
  } else {
    h['Content-Type'] = FORM;
    if (kind === 'htmx') h['HX-Request'] = 'true';
    body = new URLSearchParams(fields).toString();
  }
  return request('POST', `${base}home/post/${id}`, { headers: h, body });
}

const del = (base, id, as, kind) => act(base, id, { action: 'delete' }, { as, kind });
const like = (base, id, as, action = 'like', kind) => act(base, id, { action }, { as, kind });

// The events of a stream after it opened, of these kinds.
const eventsOf = (s, ...kinds) => s.events.filter((e) => kinds.includes(e.event));

// Wait until find(s) gives something, and return it.
async function first(s, find, what) {
  await s.until((x) => find(x) !== undefined, 5000, what);
  return find(s);
}

let redis;
before(async () => { redis = await startRedis(); });
after(async () => {
  tracker.closeAll();
  await redis?.stop();
});

// Deletion and likes live, as every engine carries them.
function live(name, opts) {
  describe(`live on ${name}`, () => {
    let web;
    before(async () => { web = await startApache({ redis: redis.addr, ...opts }); });
    after(async () => { await web?.stop(); });

    test('a deletion reaches an open stream as an event; the page, its older pages and the '
      + 'permalink follow', async () => {
      const s = await open(`${web.base}home/sse`);
      await ready(s);
      const keep = await postId(web.base, 'amy', `${name}: kept`);
      const gone = await postId(web.base, 'amy', `${name}: to delete`);
      await s.until((x) => x.posts().some((e) => e.id === gone), 5000, 'the post');
      const t0 = Date.now();
      const res = await del(web.base, gone, 'amy');
      assert.equal(res.status, 200, res.body);
      const body = JSON.parse(res.body);
      assert.deepEqual(Object.keys(body).sort(), ['deleted', 'event', 'id']);
      assert.equal(body.id, gone);
      assert.equal(body.deleted, true);
      const ev = await first(s, (x) => eventsOf(x, 'delete')[0], 'the deletion');
      assert.ok(Date.now() - t0 < 1000, `heard within 1 s (${Date.now() - t0} ms)`);
      assert.equal(ev.id, body.event, 'the event has the deletion\'s id');
      assert.equal(ev.data, `<article id="post-${gone}" hx-swap-oob="delete"></article>`);
      const page = await request('GET', `${web.base}home`);
      assert.ok(!cards(page.body).some((c) => c.id === gone), 'the page leaves it out');
      assert.ok(cards(page.body).some((c) => c.id === keep));
      const older = await request('GET', `${web.base}home?before=${body.event}`);
      assert.ok(!cards(older.body).some((c) => c.id === gone), 'older pages skip it');
      const perma = await request('GET', `${web.base}home/post/${gone}`);
      assert.equal(perma.status, 410);
      assert.match(perma.body, /This post was deleted\./);
      assert.equal((await request('GET', `${web.base}home/post/${keep}`)).status, 200);
    });

    test('a like reaches an open stream as the count alone', async () => {
      const s = await open(`${web.base}home/sse`);
      await ready(s);
      const p = await postId(web.base, 'amy', `${name}: likeable`);
      const res = await like(web.base, p, 'bob');
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(JSON.parse(res.body), { id: p, liked: true, likes: 1 });
      const ev = await first(s, (x) => eventsOf(x, 'count')
        .find((e) => e.data.includes(`likes-${p}`)), 'the count');
      assert.equal(ev.data, `<span class="tw-likes" id="likes-${p}" hx-swap-oob="true">1</span>`);
      assert.ok(cmpId(ev.id, p) > 0, 'a count is an event of the log, after the post');
    });
  });
}

live('the socket engine (event MPM)', {});
live('the thread engine', { extraConf: 'TweetsseDelivery thread' });
live('prefork', { mpm: 'prefork' });

describe('deleting and liking: answers and refusals', () => {
  let web;
  before(async () => { web = await startApache({ redis: redis.addr }); });
  after(async () => { await web?.stop(); });

  // A refused action: its status, a reason, and nothing stored.
  async function refused(send, status, reason) {
    const before0 = await xlen(redis);
    const res = await send();
    assert.equal(res.status, status, res.body);
    if (reason) assert.match(res.body, reason);
    assert.equal(await xlen(redis), before0, 'nothing stored');
    return res;
  }

  test('only the author deletes: 403 for another visitor, and the post stays', async () => {
    const p = await postId(web.base, 'amy', 'mine');
    const res = await refused(() => del(web.base, p, 'bob'), 403, /not your post/);
    assert.equal(JSON.parse(res.body).error, 'it is not your post');
    assert.equal((await request('GET', `${web.base}home/post/${p}`)).status, 200);
  });

  test('a name is not an identity: the same name with another identity cannot delete',
    async () => {
      const p = await postId(web.base, 'twin', 'by one twin');
      const other = `tw_name=${signName('twin', undefined, identityFor('the other twin'))}`;
      await refused(() => request('POST', `${web.base}home/post/${p}`, {
        headers: { Cookie: other, 'Content-Type': 'application/json' },
        body: '{"action":"delete"}' }), 403, /not your post/);
    });

  test('400 for a malformed id or action, 404 for an unknown post, 410 for a deleted one',
    async () => {
      await refused(() => del(web.base, 'not-an-id', 'amy'), 400, /not a post id/);
      await refused(() => del(web.base, '12-34-56', 'amy'), 400, /not a post id/);
      const p = await postId(web.base, 'amy', 'acted on');
      await refused(() => act(web.base, p, { action: 'explode' }, { as: 'amy' }), 400,
        /action must be delete, like, unlike or toggle/);
      await refused(() => act(web.base, p, {}, { as: 'amy' }), 400, /action is missing/);
      await refused(() => act(web.base, p, { action: 1 }, { as: 'amy' }), 400, /must be a string/);
      await refused(() => request('POST', `${web.base}home/post/${p}`, {
        headers: { Cookie: cookieFor('amy'), 'Content-Type': FORM },
        body: 'action=like&action=unlike' }), 400, /given twice/);
      await refused(() => del(web.base, '1000-0', 'amy'), 404, /not in the feed/);
      await refused(() => like(web.base, '1000-0', 'amy'), 404, /not in the feed/);
      assert.equal((await del(web.base, p, 'amy')).status, 200);
      await refused(() => like(web.base, p, 'bob'), 410, /was deleted/);
      await refused(() => del(web.base, p, 'bob'), 410, /was deleted/);
    });

  test('the rules of posts: cross-site 403, no cookie 403, media type 415, body 413, method 405',
    async () => {
      const p = await postId(web.base, 'amy', 'guarded');
      await refused(() => act(web.base, p, { action: 'like' },
        { as: 'bob', headers: { 'Sec-Fetch-Site': 'cross-site' } }), 403);
      await refused(() => act(web.base, p, { action: 'like' },
        { as: 'bob', headers: { Origin: 'http://evil.example' } }), 403);
      await refused(() => request('POST', `${web.base}home/post/${p}`, {
        headers: { 'Content-Type': 'application/json' }, body: '{"action":"like"}' }), 403,
      /load the feed page first/);
      await refused(() => request('POST', `${web.base}home/post/${p}`, {
        headers: { Cookie: cookieFor('bob'), 'Content-Type': 'text/plain' },
        body: 'action=like' }), 415, /x-www-form-urlencoded or application\/json/);
      await refused(() => request('POST', `${web.base}home/post/${p}`, {
        headers: { Cookie: cookieFor('bob'), 'Content-Type': FORM },
        body: `action=like&pad=${'x'.repeat(20000)}` }), 413);
      const put = await request('PUT', `${web.base}home/post/${p}`);
      assert.equal(put.status, 405);
      assert.match(put.headers.allow, /POST/);
    });

  test('a deletion done twice answers like the first, marked replayed', async () => {
    const p = await postId(web.base, 'amy', 'twice');
    const first = await del(web.base, p, 'amy');
    const n = await xlen(redis);
    const again = await del(web.base, p, 'amy');
    assert.equal(again.status, 200);
    assert.deepEqual(JSON.parse(again.body), JSON.parse(first.body));
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(await xlen(redis), n, 'no second deletion stored');
  });

  test('likes: one per identity, toggled; unlike; the count on the page and permalink',
    async () => {
      const p = await postId(web.base, 'amy', 'popular');
      assert.deepEqual(JSON.parse((await like(web.base, p, 'bob')).body),
        { id: p, liked: true, likes: 1 });
      assert.deepEqual(JSON.parse((await like(web.base, p, 'bob')).body),
        { id: p, liked: true, likes: 1 }, 'a second like by the same identity: still one');
      assert.deepEqual(JSON.parse((await like(web.base, p, 'cy', 'toggle')).body),
        { id: p, liked: true, likes: 2 });
      assert.deepEqual(JSON.parse((await like(web.base, p, 'bob', 'unlike')).body),
        { id: p, liked: false, likes: 1 });
      const page = await request('GET', `${web.base}home/post/${p}`);
      assert.match(page.body, new RegExp(`id="likes-${p}">1</span>`));
    });

  test('50 identities like one post at once: the count is exact', async () => {
    const p = await postId(web.base, 'amy', 'stormed');
    const answers = await Promise.all(Array.from({ length: 50 },
      (_, i) => like(web.base, p, `fan${i}`)));
    assert.ok(answers.every((r) => r.status === 200));
    const counts = answers.map((r) => JSON.parse(r.body).likes).sort((a, b) => a - b);
    assert.deepEqual(counts, Array.from({ length: 50 }, (_, i) => i + 1),
      'each like saw its own count: atomic');
    const page = await request('GET', `${web.base}home/post/${p}`);
    assert.match(page.body, new RegExp(`id="likes-${p}">50</span>`));
  });

  test('htmx: a like answers the viewer\'s button and count out of band; a deletion, nothing',
    async () => {
      const p = await postId(web.base, 'amy', 'by htmx');
      const res = await like(web.base, p, 'bob', 'toggle', 'htmx');
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^text\/html/);
      assert.equal(res.body, `<button type="submit" name="action" value="toggle" class="tw-like" `
        + `id="like-${p}" aria-pressed="true" hx-swap-oob="true">Like <span class="tw-likes" `
        + `id="likes-${p}">1</span></button>`);
      const d = await del(web.base, p, 'amy', 'htmx');
      assert.equal(d.status, 200);
      assert.equal(d.body, '');
    });

  test('without JavaScript: forms answer 303 back to the feed, which shows the change',
    async () => {
      const p = await postId(web.base, 'amy', 'by form');
      const l = await like(web.base, p, 'bob', 'toggle', 'form');
      assert.equal(l.status, 303);
      assert.equal(l.headers.location, `/home#post-${p}`);
      const page = await request('GET', `${web.base}home`, { headers: { Cookie: cookieFor('bob') } });
      assert.match(page.body, new RegExp(`id="likes-${p}">1</span>`), 'the count, at once');
      const d = await del(web.base, p, 'amy', 'form');
      assert.equal(d.status, 303);
      assert.equal(d.headers.location, '/home');
      const after0 = await request('GET', `${web.base}home`);
      assert.ok(!cards(after0.body).some((c) => c.id === p), 'gone from the page at once');
      const refusedForm = await del(web.base, p, 'bob', 'form');
      assert.equal(refusedForm.status, 410);
      assert.match(refusedForm.body, /<a href="\.\.\/\.\.\/home">Back to the feed<\/a>/);
    });

  test('the viewer\'s stylesheet shows the delete control on the viewer\'s own cards only',
    async () => {
      const p = await postId(web.base, 'amy', 'whose?');
      const page = await request('GET', `${web.base}home`, { headers: { Cookie: cookieFor('amy') } });
      const by = byOf(`c:${identityFor('amy')}`);
      assert.ok(page.body.includes(`<link rel="stylesheet" href="home/viewer.css?by=${by}">`),
        'the page names its viewer\'s stylesheet');
      const card = cards(page.body).find((c) => c.id === p);
      assert.ok(card.html.includes(`data-by="${by}"`), 'the card names its author the same way');
      const other = await request('GET', `${web.base}home`, { headers: { Cookie: cookieFor('bob') } });
      assert.equal(cards(other.body).find((c) => c.id === p).html, card.html,
        'the same card for every viewer');
      const css = await request('GET', `${web.base}home/viewer.css?by=${by}`);
      assert.equal(css.status, 200);
      assert.match(css.headers['content-type'], /^text\/css/);
      assert.match(css.headers['cache-control'], /immutable/);
      assert.equal(css.body, `.tw-post[data-by="${by}"] .tw-own{display:inline-block}\n`);
      for (const bad of ['', 'x', `${by}0`, 'ABCDEFGHJKMNP', '"];x{}', `${by.slice(0, 12)}1`]) {
        const r = await request('GET', `${web.base}home/viewer.css?by=${encodeURIComponent(bad)}`);
        assert.equal(r.status, 400, `by=${bad}`);
      }
    });

  test('liked: which of the shown posts the viewer likes', async () => {
    const a = await postId(web.base, 'amy', 'liked one');
    const b = await postId(web.base, 'amy', 'not liked');
    await like(web.base, a, 'dee');
    const get = (as, q) => request('GET', `${web.base}home/liked?ids=${q}`,
      { headers: as ? { Cookie: cookieFor(as) } : {} });
    const res = await get('dee', `${a},${b}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(res.body), { liked: [a] });
    assert.deepEqual(JSON.parse((await get('eve', `${a},${b}`)).body), { liked: [] });
    assert.deepEqual(JSON.parse((await get(null, a)).body), { liked: [] }, 'nobody likes nothing');
    assert.equal((await get('dee', 'x,y')).status, 400);
    assert.equal((await get('dee', Array(101).fill(a).join(','))).status, 400, 'at most 100');
  });

  test('the metrics count deletions and likes', async () => {
    const scrape = async () => parsePrometheus((await request('GET',
      `http://127.0.0.1:${web.port}/metrics`)).body);
    const m0 = await scrape();
    const p = await postId(web.base, 'amy', 'counted');
    await like(web.base, p, 'bob');
    await like(web.base, p, 'bob', 'unlike');
    await del(web.base, p, 'bob');
    await del(web.base, p, 'amy');
    const m = await scrape();
    const d = (name, labels) => m.value(name, labels) - m0.value(name, labels);
    assert.equal(d('tweetsse_posts_removed_total', { by: 'author' }), 1);
    assert.equal(d('tweetsse_likes_total', { change: 'like' }), 1);
    assert.equal(d('tweetsse_likes_total', { change: 'unlike' }), 1);
    assert.equal(d('tweetsse_actions_refused_total', { reason: 'forbidden' }), 1);
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('moderators (SetHandler tweetsse-moderation behind Apache\'s authentication)', () => {
  let web, open0;
  const basic = (u, p) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
  const MOD = basic('mia', 'secret');
  before(async () => {
    const users = await htpasswdFile({ mia: 'secret' });
    web = await startApache({ redis: redis.addr, extraConf: [
      ...BASIC_AUTH_MODULES,
      '<Location /moderate>',
      '  SetHandler tweetsse-moderation',
      '  AuthType Basic',
      '  AuthName moderators',
      '  AuthBasicProvider file',
      `  AuthUserFile ${users}`,
      '  Require valid-user',
      '</Location>',
      '<Location /unguarded/moderate>',
      '  SetHandler tweetsse-moderation',
      '</Location>',
    ].join('\n') });
    open0 = `http://127.0.0.1:${web.port}`;
  });
  after(async () => { await web?.stop(); });

  const remove = (id, { kind = 'form', headers = MOD } = {}) => request('POST', `${open0}/moderate`,
    { headers: { ...headers, 'Content-Type': kind === 'json' ? 'application/json' : FORM },
      body: kind === 'json' ? JSON.stringify({ post: id }) : `post=${id}` });

  test('only a signed-in moderator: 401 from Apache without credentials', async () => {
    assert.equal((await request('GET', `${open0}/moderate`)).status, 401);
    assert.equal((await request('GET', `${open0}/moderate`, { headers: basic('mia', 'no') }))
      .status, 401);
    const p = await postId(web.base, 'amy', 'not removable without credentials');
    const before0 = await xlen(redis);
    assert.equal((await remove(p, { headers: {} })).status, 401);
    assert.equal(await xlen(redis), before0);
  });

  test('the page lists the newest posts, each with a Remove form', async () => {
    const p = await postId(web.base, 'amy', 'listed for moderators');
    const res = await request('GET', `${open0}/moderate`, { headers: MOD });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.body, /Signed in as <strong id="moderator">mia<\/strong>/);
    assert.ok(res.body.includes(`<input type="hidden" name="post" value="${p}">`));
    assert.ok(cards(res.body).some((c) => c.id === p));
  });

  test('a removal: anyone\'s post leaves every open stream and the pages; logged with who, '
    + 'which post and its author; counted', async () => {
    const s = await open(`${web.base}home/sse`);
    await ready(s);
    const p = await postId(web.base, 'amy', 'abusive');
    await s.until((x) => x.posts().some((e) => e.id === p), 5000, 'the post');
    const mark = web.logMark();
    const res = await remove(p);
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/moderate');
    const ev = await first(s, (x) => eventsOf(x, 'delete')
      .find((e) => e.data.includes(`post-${p}`)), 'the removal');
    assert.ok(ev.id);
    assert.equal((await request('GET', `${web.base}home/post/${p}`)).status, 410);
    await web.waitForLog((lines) => lines.some((l) => l.includes(
      `TW0414: post ${p} of c:${identityFor('amy')} removed by moderator mia`)),
    { from: mark, what: 'the removal logged' });
    const again = await remove(p, { kind: 'json' });
    assert.equal(again.status, 200, 'removed before: answered like the first');
    assert.equal(JSON.parse(again.body).event, ev.id);
    const m = parsePrometheus((await request('GET', `${open0}/metrics`)).body);
    assert.ok(m.value('tweetsse_posts_removed_total', { by: 'moderator' }) >= 1);
  });

  test('a moderator is not rate limited, and bad input is refused', async () => {
    const ids = [];
    for (let i = 0; i < 15; i++) ids.push(await postId(web.base, 'spammer', `spam ${i}`));
    for (const id of ids) assert.equal((await remove(id, { kind: 'json' })).status, 200);
    assert.equal((await remove('garbage')).status, 400);
    assert.equal((await remove('1000-0', { kind: 'json' })).status, 404);
    const cross = await request('POST', `${open0}/moderate`, { headers: { ...MOD,
      'Content-Type': FORM, 'Sec-Fetch-Site': 'cross-site' }, body: `post=${ids[0]}` });
    assert.equal(cross.status, 403, 'a cross-site form cannot use the moderator\'s credentials');
  });

  test('a moderation Location without authentication protects nothing: 403, and the log says '
    + 'why', async () => {
    const p = await postId(web.base, 'amy', 'safe');
    const mark = web.logMark();
    const res = await request('POST', `${open0}/unguarded/moderate`,
      { headers: { 'Content-Type': FORM }, body: `post=${p}` });
    assert.equal(res.status, 403);
    assert.equal((await request('GET', `${web.base}home/post/${p}`)).status, 200);
    await web.waitForLog((lines) => lines.some((l) => /TW0421: .*guard its <Location>/.test(l)),
      { from: mark, what: 'TW0421' });
  });
});

describe('resuming across a deletion never brings the post back', () => {
  let web;
  before(async () => { web = await startApache({ redis: redis.addr }); });
  after(async () => { await web?.stop(); });

  test('from the ring: a resume after the post gets the deletion; one before it never gets '
    + 'the post', async () => {
    const s = await open(`${web.base}home/sse`);
    await ready(s);
    const before0 = await postId(web.base, 'amy', 'before');
    const p = await postId(web.base, 'amy', 'deleted while away');
    const next = await postId(web.base, 'amy', 'after');
    await s.until((x) => x.posts().some((e) => e.id === next), 5000, 'the posts');
    const gone = JSON.parse((await del(web.base, p, 'amy')).body).event;
    await s.until((x) => eventsOf(x, 'delete').length === 1, 5000, 'the deletion');
    const fromP = await open(`${web.base}home/sse`, { 'Last-Event-ID': p });
    await fromP.until((x) => eventsOf(x, 'delete').length === 1, 5000, 'the deletion');
    assert.deepEqual(fromP.events.map((e) => [e.event, e.id]),
      [['post', next], ['delete', gone]]);
    const fromBefore = await open(`${web.base}home/sse`, { 'Last-Event-ID': before0 });
    await fromBefore.until((x) => eventsOf(x, 'delete').length === 1, 5000, 'the deletion');
    assert.deepEqual(fromBefore.events.map((e) => [e.event, e.id]),
      [['post', next], ['delete', gone]], 'the deleted post is not replayed');
  });

  test('from Redis (a fresh child\'s ring does not reach back): the same', async () => {
    const before0 = await postId(web.base, 'amy', 'redis: before');
    const p = await postId(web.base, 'amy', 'redis: deleted');
    const q = await postId(web.base, 'amy', 'redis: liked');
    const gone = JSON.parse((await del(web.base, p, 'amy')).body).event;
    await like(web.base, q, 'bob');
    await web.stop();
    await web.start(); // new children, whose rings start empty
    const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': before0 });
    await s.until((x) => eventsOf(x, 'count').length === 1, 5000, 'the count');
    const seen = s.events.map((e) => e.event === 'post' ? ['post', e.id] : [e.event]);
    assert.deepEqual(seen, [['post', q], ['delete'], ['count']], JSON.stringify(s.events));
    assert.equal(eventsOf(s, 'delete')[0].id, gone);
    assert.ok(eventsOf(s, 'delete')[0].data.includes(`post-${p}`));
    assert.ok(!s.posts().some((e) => e.id === p), 'never the deleted post');
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

// Redis holds what was promised: counts, one count event a post, the deletions' records.
test('Redis after all that: no entry of a deleted post is left', async () => {
  const entries = await xrange(redis);
  const deleted = entries.filter((e) => e.e === 'delete').map((e) => e.p);
  assert.ok(deleted.length > 0);
  for (const id of deleted) assert.ok(!entries.some((e) => e.id === id), `post ${id} is gone`);
  const counts = entries.filter((e) => e.e === 'count').map((e) => e.p);
  assert.equal(new Set(counts).size, counts.length, 'one count event a post');
});
