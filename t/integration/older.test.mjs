// Older posts under the feed (GET home?before=<id>: the htmx fragment that replaces the "Older
// posts" control, or a whole page without JavaScript) and the page of each post (GET
// home/post/<id>), against a real Apache and Redis: every post exactly once and in order to the
// end marker, nothing doubled or lost at the boundary while posts arrive, malformed ids refused,
// trimmed posts gone from both, and the card's time a link to its post's page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cookieFor, freePort, openStream, request, startApache, startRedis }
  from '../lib/harness.mjs';
import { cards, cmpId, nameCookie, postId, postMany, textById, xlen, xrange }
  from '../lib/helpers.mjs';

const PAGE = 4;
const HX = { 'HX-Request': 'true' };
// The end marker of a whole page, and of a fragment, where it replaces the control that asked
// for the fragment (an out-of-band swap: the fragment's cards go into the feed).
const END = '<p id="feed-end" class="tw-end">That\'s all.</p>';
const END_OOB = '<p id="feed-end" class="tw-end" hx-swap-oob="outerHTML:#older">' +
  'That\'s all.</p>';

let redis, web, small, smallRedis, down;
before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, extraConf: `TweetssePageSize ${PAGE}`,
    logLevel: 'warn tweetsse:debug' });
});
after(async () => {
  await down?.stop();
  await small?.stop();
  await smallRedis?.stop();
  await web?.stop();
  await redis?.stop();
});

// The "Older posts" control of a page or fragment (`oob`: of a fragment): {id, tag} or
// undefined.
function control(html, oob = false) {
  const m = html.match(/<a id="older"[^>]*>Older posts<\/a>/);
  if (!m) return undefined;
  const attr = (name) => m[0].match(new RegExp(`\\b${name}="([^"]*)"`))?.[1];
  const href = attr('href');
  assert.equal(attr('hx-get'), href, 'hx-get is the link');
  assert.equal(attr('hx-trigger'), 'revealed');
  assert.equal(attr('hx-target'), '#feed', 'its cards go into the feed');
  assert.equal(attr('hx-swap'), 'beforeend', 'after the cards there');
  assert.equal(attr('hx-swap-oob'), oob ? 'true' : undefined,
    'in a fragment it replaces the control that asked for it');
  const id = href.match(/^home\?before=(\d+-\d+)$/)?.[1];
  assert.ok(id, `control href: ${href}`);
  return { id, tag: m[0] };
}

// Follow the controls from `first` (a page's HTML) to the end: fragments when `htmx`, whole
// pages else. Returns the ids of every card seen, in order, and what each step looked like.
async function walk(base, first, { htmx, between } = {}) {
  const ids = cards(first).map((c) => c.id);
  let ctl = control(first);
  const steps = [];
  while (ctl) {
    assert.equal(ctl.id, ids.at(-1), 'the control starts before the oldest card shown');
    await between?.();
    const res = await request('GET', `${base}home?before=${ctl.id}`, { headers: htmx ? HX : {} });
    assert.equal(res.status, 200, `before=${ctl.id}`);
    assert.match(res.headers['content-type'], /^text\/html; charset=utf-8$/);
    assert.equal((res.headers.vary ?? '').split(',').filter((v) => /^\s*HX-Request\s*$/i.test(v))
      .length, 1, `Vary: HX-Request, once (${res.headers.vary})`);
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
    const got = cards(res.body).map((c) => c.id);
    assert.ok(got.length <= PAGE, `at most a page: ${got.length}`);
    steps.push({ res, got });
    ids.push(...got);
    ctl = control(res.body, htmx);
    if (!ctl) {
      assert.ok(res.body.includes(htmx ? END_OOB : END), `the end marker: ${res.body.slice(-300)}`);
    }
    assert.ok(steps.length < 100, 'the walk ends');
  }
  return { ids, steps };
}

const sortedDesc = (ids) => [...ids].sort(cmpId).reverse();

describe('older posts', () => {
  let posted;
  test('a first page of 2.5 pages of posts: the newest page, then the control', async () => {
    posted = await postMany(web.base, 2 * PAGE + PAGE / 2, { parallel: 1, prefix: 'older' });
    const res = await request('GET', web.base);
    assert.equal(res.status, 200);
    assert.deepEqual(cards(res.body).map((c) => c.id), sortedDesc(posted).slice(0, PAGE));
    const ctl = control(res.body);
    assert.ok(ctl, 'an Older posts control');
    assert.match(ctl.tag, /^<a /, 'an <a>: a plain link without JavaScript');
    assert.ok(!res.body.includes('That\'s all.'), 'no end marker yet');
    // Right after the feed (a feed owns articles only), inside the live part; the fragments'
    // cards go into the feed (hx-target).
    const feed = res.body.slice(res.body.indexOf('<div id="feed"'));
    assert.ok(feed.includes(`</article>\n</div>\n${ctl.tag}`), 'the control follows the feed');
    assert.ok(feed.indexOf(ctl.tag) < feed.indexOf('</div></main>'));
  });

  test('fragments (HX-Request) to the end: every post once, newest first, then "That\'s all."',
    async () => {
      const first = (await request('GET', web.base)).body;
      const { ids, steps } = await walk(web.base, first, { htmx: true });
      assert.deepEqual(ids, sortedDesc(posted));
      assert.deepEqual(steps.map((s) => s.got.length), [PAGE, PAGE / 2]);
      for (const { res } of steps) {
        assert.match(res.body, /^<article /, 'a fragment starts with the cards');
        assert.ok(!res.body.includes('<html') && !res.body.includes('whoami'), 'no document');
        assert.equal(nameCookie(res), undefined, 'a fragment sets no cookie');
      }
      assert.ok(steps.at(-1).res.body.endsWith(`${END_OOB}\n`));
    });

  test('whole pages without HX-Request: navbar, form, no live stream, to the end', async () => {
    const first = (await request('GET', web.base, { headers: { Cookie: cookieFor('Reader1') } }))
      .body;
    const { ids, steps } = await walk(web.base, first, { htmx: false });
    assert.deepEqual(ids, sortedDesc(posted));
    for (const { res } of steps) {
      assert.match(res.body, /^<!DOCTYPE html>/);
      assert.ok(textById(res.body, 'whoami'), 'the navbar');
      assert.match(res.body, /<form id="compose"[^>]*action="home"/, 'the compose form');
      assert.ok(!res.body.includes('sse-connect'), 'not live: its newest post is not the feed\'s');
      assert.match(res.body, /<a href="home">Newest posts<\/a>/);
      assert.equal(res.headers['cache-control'], 'no-cache, private');
    }
    // A visitor's name comes with the whole page as with the first one.
    const res = await request('GET', `${web.base}home?before=${posted[3]}`);
    assert.match(nameCookie(res)?.name ?? '', /^[A-Z]/, 'a new visitor gets a name');
  });

  test('posts arriving between loads: nothing twice, nothing missing at the boundary',
    async () => {
      const fresh = () => postId(web.base, 'newcomer', `arrived ${Date.now()}`);
      const first = (await request('GET', web.base)).body;
      const shown = cards(first).map((c) => c.id);
      const arrived = [];
      // Two posts before each page load, one of them between reading the page and the click.
      const { ids } = await walk(web.base, first,
        { htmx: true, between: async () => { arrived.push(await fresh(), await fresh()); } });
      assert.equal(new Set(ids).size, ids.length, 'no card twice');
      const all = (await xrange(redis)).map((e) => e.id);
      const upTo = all.filter((id) => cmpId(id, shown[0]) <= 0);
      assert.deepEqual(ids, sortedDesc(upTo), 'everything up to the first page\'s newest, once');
      assert.ok(arrived.length >= 4);
      for (const id of arrived) assert.ok(!ids.includes(id), 'new posts are not older posts');
      // They are at the top of the next first page, whose own walk has them all.
      const again = (await request('GET', web.base)).body;
      assert.equal(cards(again)[0].id, arrived.at(-1));
      assert.deepEqual((await walk(web.base, again, { htmx: true })).ids, sortedDesc(all));
    });

  test('ids that bound nothing or everything', async () => {
    const all = sortedDesc((await xrange(redis)).map((e) => e.id));
    const zero = await request('GET', `${web.base}home?before=0-0`, { headers: HX });
    assert.equal(zero.status, 200);
    assert.equal(zero.body, `${END_OOB}\n`, 'nothing before 0-0: only the end marker');
    const page = await request('GET', `${web.base}home?before=0-0`);
    assert.equal(cards(page.body).length, 0);
    assert.ok(page.body.includes(END), 'a whole page that is only the end');
    const future = await request('GET',
      `${web.base}home?before=18446744073709551615-18446744073709551615`, { headers: HX });
    assert.deepEqual(cards(future.body).map((c) => c.id), all.slice(0, PAGE));
    // An id that no post has bounds as well: just above the oldest one.
    const [ms, seq] = all.at(-1).split('-');
    const justAbove = `${ms}-${BigInt(seq) + 1n}`;
    const last = await request('GET', `${web.base}home?before=${justAbove}`, { headers: HX });
    assert.deepEqual(cards(last.body).map((c) => c.id), [all.at(-1)]);
    assert.ok(last.body.endsWith(`${END_OOB}\n`));
    // Blanks around the id are trimmed, as for Last-Event-ID; an encoded dash decodes.
    const blank = await request('GET', `${web.base}home?before=+${all[1]}+`, { headers: HX });
    assert.equal(cards(blank.body)[0].id, all[2]);
    const enc = await request('GET', `${web.base}home?before=${all[1].replace('-', '%2D')}`,
      { headers: HX });
    assert.equal(cards(enc.body)[0].id, all[2]);
  });

  test('a malformed before= is a 400 that says why, sets no cookie and changes nothing',
    async () => {
      const stored = await xlen(redis);
      const mark = web.logMark();
      const bad = ['', 'garbage', '1-', '-1', '1', '1-2-3', '1.5-0', '%ZZ', '1-0%00',
        '18446744073709551616-0', `${'1'.repeat(21)}-0`, '9'.repeat(60), '1-0;x', '%3Cb%3E'];
      for (const v of bad) {
        for (const headers of [{}, HX]) {
          const res = await request('GET', `${web.base}home?before=${v}`,
            { headers: { ...headers, Cookie: 'tw_name=bad' } });
          const what = `before=${v} ${headers['HX-Request'] ? '(htmx)' : ''}`;
          assert.equal(res.status, 400, what);
          assert.match(res.body, /not a post id/, what);
          assert.equal(nameCookie(res), undefined, `${what}: no cookie`);
          assert.ok(!res.body.includes('<b>') && !res.body.includes('<article'), what);
          if (headers['HX-Request']) assert.match(res.headers['content-type'], /^text\/plain/);
          else assert.match(res.body, /<h1 class="tw-h1">Bad Request<\/h1>/);
        }
      }
      assert.equal(await xlen(redis), stored, 'nothing stored');
      const lines = await web.waitForLog((ls) => ls.filter((l) => l.includes('TW0304')).length >=
        bad.length * 2 && ls, { from: mark, what: 'TW0304 lines' });
      assert.ok(lines.some((l) => /TW0304: malformed before= in the query/.test(l)));
    });

  test('any other query string is the first page, as before', async () => {
    const plain = (await request('GET', web.base)).body;
    const feed = (h) => h.slice(h.indexOf('<div id="live"'));
    for (const q of ['foo=bar', 'last_event_id=1-0', 'xbefore=garbage', 'beforex=1-0',
      'before', 'a=1&b=2', '']) {
      const res = await request('GET', `${web.base}home?${q}`);
      assert.equal(res.status, 200, q);
      assert.equal(feed(res.body), feed(plain), `?${q}: the first page`);
    }
    // The first argument named before decides, wherever it is.
    const all = sortedDesc((await xrange(redis)).map((e) => e.id));
    const res = await request('GET', `${web.base}?x=1&before=${all[0]}&before=zz`,
      { headers: HX });
    assert.equal(res.status, 200);
    assert.equal(cards(res.body)[0].id, all[1]);
  });

  test('HEAD of an older page: its headers, no body', async () => {
    const res = await request('HEAD', `${web.base}home?before=${posted[5]}`);
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    assert.ok(Number(res.headers['content-length']) > 0);
  });
});

describe('a page per post', () => {
  test('home/post/<id>: the card alone, the navbar, a link back; URLs up to the mount',
    async () => {
      const id = await postId(web.base, 'Permalinker', 'a post with a page of its own & <b>');
      const res = await request('GET', `${web.base}home/post/${id}`,
        { headers: { Cookie: cookieFor('Visitor9') } });
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^text\/html; charset=utf-8$/);
      const got = cards(res.body);
      assert.deepEqual(got.map((c) => c.id), [id]);
      assert.ok(got[0].html.includes('>a post with a page of its own &amp; &lt;b&gt;</p>'));
      assert.equal(textById(res.body, 'whoami'), 'Visitor9');
      assert.match(res.body, /<title>Permalinker on TweetSSE<\/title>/);
      assert.match(res.body, /<a id="back" href="\.\.\/\.\.\/home">Back to the feed<\/a>/);
      assert.ok(!res.body.includes('sse-connect') && !res.body.includes('id="compose"'));
      const url = `${web.base}home/post/${id}`;
      const refs = [...res.body.matchAll(/\b(?:href|src)="([^"]*)"/g)].map((m) => m[1])
        .filter((u) => u !== 'data:,');
      assert.ok(refs.length >= 7, refs.join(' '));
      for (const u of refs) {
        assert.match(u, /^\.\.\/\.\.\//, `relative to the mount: ${u}`);
        const abs = new URL(u, url);
        assert.ok(abs.pathname === '/home' || abs.pathname.startsWith('/lib/') ||
          abs.pathname === `/home/post/${id}` || abs.pathname === '/home/viewer.css',
        abs.pathname);
      }
      // The resources it names are there.
      for (const u of refs.filter((x) => x.includes('/lib/'))) {
        assert.equal((await request('GET', new URL(u, url).href)).status, 200, u);
      }
    });

  test('every card\'s time links to its post\'s page: on the page, in fragments, live',
    async () => {
      const s = await openStream(`${web.base}home/sse`);
      try {
        await s.until((x) => x.retries.length > 0, 5000, 'retry line');
        const id = await postId(web.base, 'Linker', 'live card');
        await s.until((x) => x.posts().some((e) => e.id === id), 5000, 'the live post');
        const live = s.posts().find((e) => e.id === id).data;
        assert.ok(live.includes(`<a class="tw-permalink" href="home/post/${id}"><time datetime=`),
          live);
      } finally {
        s.close();
      }
      const page = (await request('GET', web.base)).body;
      const more = (await request('GET', `${web.base}home?before=${cards(page).at(-1).id}`,
        { headers: HX })).body;
      const all = [...cards(page), ...cards(more)];
      assert.ok(all.length > PAGE);
      for (const c of all) {
        const href = c.html.match(/<a class="tw-permalink[^"]*" href="([^"]*)"><time /)?.[1];
        assert.equal(href, `home/post/${c.id}`, c.html);
        const res = await request('GET', new URL(href, web.base).href);
        assert.equal(res.status, 200, href);
        assert.equal(cards(res.body)[0].html.replaceAll('="../../', '="'), c.html,
          'the same card on its page, its link through ../../');
      }
    });

  test('a post that never existed is a 404 that says so; a malformed id is a 400', async () => {
    for (const id of ['1-0', '0-0', '18446744073709551615-18446744073709551615']) {
      const res = await request('GET', `${web.base}home/post/${id}`);
      assert.equal(res.status, 404, id);
      assert.match(res.body, /This post is not in the feed/);
      assert.match(res.body, /<a href="\.\.\/\.\.\/home">Back to the feed<\/a>/);
      assert.equal(nameCookie(res), undefined, `${id}: no cookie`);
    }
    for (const id of ['abc', '1-', '-1', '1', '1-2-3', '18446744073709551616-0', '1-0.html',
      `${'1'.repeat(30)}-0`, '%31-0x']) {
      const res = await request('GET', `${web.base}home/post/${id}`);
      assert.equal(res.status, 400, id);
      assert.match(res.body, /That is not a post id/, id);
      assert.equal(nameCookie(res), undefined, `${id}: no cookie`);
    }
    const head = await request('HEAD', `${web.base}home/post/1-0`);
    assert.equal(head.status, 404);
    assert.equal(head.body, '');
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('a short history (TweetsseHistory 10)', () => {
  before(async () => {
    smallRedis = await startRedis();
    small = await startApache({ redis: smallRedis.addr, history: 10,
      extraConf: `TweetssePageSize ${PAGE}` });
  });

  test('trimmed posts: their pages are 404, and older pages end where the history ends',
    async () => {
      const first = await postId(small.base, 'Early', 'soon trimmed');
      assert.equal((await request('GET', `${small.base}home/post/${first}`)).status, 200);
      const firstPage = (await request('GET', small.base)).body;
      const boundary = cards(firstPage).at(-1).id;
      await postMany(small.base, 250, { prefix: 'filler' });
      const kept = (await xrange(smallRedis)).map((e) => e.id);
      assert.ok(cmpId(kept[0], first) > 0 && cmpId(kept[0], boundary) > 0,
        `trimmed: the oldest kept is ${kept[0]}`);
      const gone = await request('GET', `${small.base}home/post/${first}`);
      assert.equal(gone.status, 404);
      assert.match(gone.body, /older than the history the feed keeps/);
      // An old page's control leads to the end at once.
      const stale = await request('GET', `${small.base}home?before=${boundary}`, { headers: HX });
      assert.equal(stale.status, 200);
      assert.equal(stale.body, `${END_OOB}\n`);
      // A fresh walk shows what is kept, each once, and ends.
      const { ids } = await walk(small.base, (await request('GET', small.base)).body,
        { htmx: true });
      assert.deepEqual(ids, sortedDesc(kept));
      assert.equal((await request('GET', `${small.base}home/post/${kept[0]}`)).status, 200);
    });

  test('the error log is clean', () => {
    assert.deepEqual(small.badLogLines(), []);
  });
});

describe('without Redis', () => {
  test('older pages and post pages are 503 with Retry-After and no cookie', async () => {
    down = await startApache({ redis: `127.0.0.1:${await freePort()}` });
    for (const [url, headers, body] of [
      ['home?before=1-0', HX, /Older posts are unavailable right now/],
      ['home?before=1-0', {}, /The feed is unavailable right now/],
      ['home/post/1-0', {}, /The post is unavailable right now/]]) {
      const res = await request('GET', `${down.base}${url}`, { headers });
      assert.equal(res.status, 503, url);
      assert.equal(res.headers['retry-after'], '5', url);
      assert.match(res.body, body, url);
      assert.equal(nameCookie(res), undefined, `${url}: no cookie`);
    }
    // Malformed ids are refused before the store is asked.
    assert.equal((await request('GET', `${down.base}home?before=x`)).status, 400);
    assert.equal((await request('GET', `${down.base}home/post/x`)).status, 400);
  });
});
