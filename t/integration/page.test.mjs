// The feed page: markup, order and size of the feed, the name cookie, routing under the
// root mount and under a sub-path mount, static files.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TOP, cookieFor, identityFor, openStream, post, request, startApache, startRedis,
  tagOf } from '../lib/harness.mjs';
import { cards, nameCookie, postId, textById, waitUntil, xlen, xrange } from '../lib/helpers.mjs';

const PAGE_SIZE = 3;
// The version the page names a static file with: the first 12 hex digits of the SHA-256 of
// the file the server has (build/tw_assets.h, made by the Makefile from htdocs/lib).
const version = (f) => crypto.createHash('sha256')
  .update(fs.readFileSync(path.join(TOP, 'htdocs/lib', f))).digest('hex').slice(0, 12);
const GENERATED_NAME = /^[A-Z][a-z]+[A-Z][a-z]+\d{1,3}$/;

let redis, web, sub;
before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, extraConf: `TweetssePageSize ${PAGE_SIZE}` });
});
after(async () => {
  await sub?.stop();
  await web?.stop();
  await redis?.stop();
});

describe('root mount', () => {
  test('an empty feed: full page, compose form, live container resuming from 0-0', async () => {
    const res = await request('GET', web.base);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html; charset=utf-8$/i);
    assert.match(res.headers['cache-control'], /no-cache/);
    const html = res.body;
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
    assert.match(html, /<\/html>\n$/);
    assert.deepEqual(cards(html), []);
    assert.match(html, /<div id="live" hx-ext="sse" sse-connect="home\/sse\?last_event_id=0-0">/);
    assert.match(html, /<div id="feed"[^>]*><\/div>\n<p id="feed-empty"[^>]*>No posts yet\. /,
      'an empty feed says so, after the feed, where live cards go');
    // Front-end assets, all relative to the mount, each named with its version (a hash of
    // the bytes the server has for it), and no CSS framework.
    for (const f of ['htmx.min.js', 'sse.js', 'tweetsse.js']) {
      assert.ok(html.includes(`<script src="lib/${f}?v=${version(f)}" defer></script>`), f);
    }
    assert.ok(html.includes(`<link rel="stylesheet" href="lib/tweetsse.css?v=${version('tweetsse.css')}">`));
    assert.ok(!html.includes('bootstrap'));
  });

  test('GET / and GET /home: navbar with the name, compose form bound to the same name', async () => {
    for (const p of ['', 'home']) {
      const res = await request('GET', `${web.base}${p}`);
      assert.equal(res.status, 200, p);
      assert.match(res.headers['content-type'], /^text\/html/);
      const cookie = nameCookie(res);
      assert.ok(cookie, `Set-Cookie tw_name on /${p}`);
      assert.match(cookie.name, GENERATED_NAME);
      const html = res.body;
      assert.equal(textById(html, 'whoami'), cookie.name);
      assert.match(html, /<header class="tw-top">[\s\S]*<strong id="whoami">[\s\S]*<\/header>/);
      const form = html.match(/<form id="compose"[^>]*>[\s\S]*?<\/form>/)?.[0];
      assert.ok(form, 'compose form');
      const open = form.match(/^<form[^>]*>/)[0];
      for (const attr of ['method="post"', 'action="home"', 'hx-post="home"', 'hx-swap="none"']) {
        assert.ok(open.includes(attr), `form has ${attr}: ${open}`);
      }
      assert.match(form, /<textarea [^>]*name="message"[^>]*>/);
      assert.ok(!form.includes('name="username"'), 'the author is the cookie\'s, not a field');
      assert.match(form, /<input type="hidden" name="key" value="[A-Za-z0-9_-]{22}">/);
      assert.match(form, /<button type="submit"[^>]*>Tweet<\/button>/);
    }
  });

  test('name cookie: HttpOnly, SameSite=Lax, Path=/; sent back it keeps the name', async () => {
    const first = await request('GET', web.base);
    const c = nameCookie(first);
    assert.ok(c.attrs.includes('HttpOnly'), c.raw);
    assert.ok(c.attrs.includes('SameSite=Lax'), c.raw);
    assert.ok(c.attrs.includes('Path=/'), c.raw);
    assert.ok(c.attrs.some((a) => /^Max-Age=\d+$/.test(a)), c.raw);
    for (let i = 0; i < 2; i++) {
      const again = await request('GET', web.base, { headers: { Cookie: `tw_name=${c.value}` } });
      assert.equal(again.status, 200);
      assert.equal(textById(again.body, 'whoami'), c.name);
      assert.equal(nameCookie(again), undefined, 'no new cookie for a valid one');
    }
    // Among other cookies, and a hand-picked name signed with the server's secret.
    const other = await request('GET', `${web.base}home`,
      { headers: { Cookie: `a=1; ${cookieFor('alice_99')}; b=2` } });
    assert.equal(textById(other.body, 'whoami'), 'alice_99');
  });

  test('an invalid name cookie gets a fresh, valid name (never echoed back)', async () => {
    const bad = ['<script>alert(1)</script>', 'x'.repeat(33), 'has space', 'a"b', '', 'caf%C3%A9'];
    for (const v of bad) {
      const res = await request('GET', web.base, { headers: { Cookie: `tw_name=${v}` } });
      assert.equal(res.status, 200, v);
      const c = nameCookie(res);
      assert.ok(c, `fresh cookie for ${JSON.stringify(v)}`);
      assert.match(c.name, GENERATED_NAME);
      assert.equal(textById(res.body, 'whoami'), c.name);
      if (v) assert.ok(!res.body.includes(v), `page must not contain ${v}`);
    }
    const res = await request('GET', web.base, { headers: { Cookie: 'tw_name=<b>x</b>' } });
    assert.ok(!res.body.includes('<b>x'));
  });

  test('newest posts first, at most TweetssePageSize, each card complete', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await postId(web.base, `user${i}`, `message number ${i}`));
    const res = await request('GET', web.base);
    assert.equal(res.status, 200);
    const got = cards(res.body);
    assert.deepEqual(got.map((c) => c.id), ids.slice(-PAGE_SIZE).reverse());
    for (const c of got) {
      const i = ids.indexOf(c.id);
      const ms = Number(c.id.split('-')[0]);
      const dt = c.html.match(/<time [^>]*datetime="([^"]+)"/)?.[1];
      assert.equal(dt, new Date(ms).toISOString(), 'datetime is the id time, in UTC with Z');
      assert.match(c.html, /<svg class="tw-avatar[^"]*"[^>]*>[\s\S]*<\/svg>/);
      assert.ok(c.html.includes(`aria-labelledby="h-${c.id}"`), c.html);
      assert.ok(c.html.includes(`<strong class="tw-user">user${i} <span class="tw-tag">`
        + `#${tagOf(identityFor(`user${i}`))}</span></strong>`), c.html);
      assert.ok(c.html.includes(`>message number ${i}</p>`), c.html);
    }
    assert.ok(res.body.includes(`sse-connect="home/sse?last_event_id=${ids.at(-1)}"`));
  });

  test('no absolute URLs and no host names in the page', async () => {
    const res = await request('GET', web.base, { headers: { Host: 'localhost' } });
    assert.equal(res.status, 200);
    for (const bad of ['localhost', '127.0.0.1', 'http://', 'https://', `:${web.port}`]) {
      assert.ok(!res.body.includes(bad), `page contains ${bad}`);
    }
    const urls = [...res.body.matchAll(/\b(?:href|src|action|hx-post|sse-connect)="([^"]*)"/g)]
      .map((m) => m[1]);
    assert.ok(urls.length >= 8, `found the page's URLs: ${urls}`);
    for (const u of urls) assert.match(u, /^[a-z]/, `relative URL: ${u}`);
  });

  test('HEAD gives the headers only; other methods on the page are refused', async () => {
    const head = await request('HEAD', web.base);
    assert.equal(head.status, 200);
    assert.match(head.headers['content-type'], /^text\/html/);
    assert.equal(head.body, '');
    for (const [method, url] of [['POST', web.base], ['PUT', `${web.base}home`],
      ['DELETE', `${web.base}home`], ['POST', `${web.base}home/sse`]]) {
      const res = await request(method, url);
      assert.equal(res.status, 405, `${method} ${url}`);
      assert.ok(res.headers.allow, `${method} ${url}: Allow header`);
    }
  });

  test('unknown paths are 404; static files are served as files', async () => {
    for (const p of ['nope', 'home/x', 'home/sse/x', 'homex', 'index.html', 'lib/missing.js']) {
      const res = await request('GET', `${web.base}${p}`);
      assert.equal(res.status, 404, p);
      assert.equal(nameCookie(res), undefined, `${p} must not reach the page handler`);
    }
    for (const [f, type] of [['htmx.min.js', /javascript/], ['sse.js', /javascript/],
      ['tweetsse.css', /text\/css/], ['tweetsse.js', /javascript/]]) {
      const res = await request('GET', `${web.base}lib/${f}`);
      assert.equal(res.status, 200, f);
      assert.match(res.headers['content-type'], type, f);
      assert.equal(res.body, fs.readFileSync(path.join(TOP, 'htdocs/lib', f), 'utf8'), f);
      assert.equal(nameCookie(res), undefined);
    }
  });

  test('the same cookie twice (e.g. set for two paths): the first valid one, no error', async () => {
    const res = await request('GET', web.base,
      { headers: { Cookie: `${cookieFor('first_1')}; ${cookieFor('second_2')}` } });
    assert.equal(res.status, 200);
    assert.equal(textById(res.body, 'whoami'), 'first_1');
    assert.equal(nameCookie(res), undefined);
    assert.deepEqual(web.badLogLines(), [], 'no error line for a repeated cookie');
  });

  test('a path that could smuggle header breaks or cookie attributes is 404', async () => {
    for (const p of ['x%0d%0aX-Evil:%20y/', 'x;Domain=evil.example/', 'x%20y/home',
      'a%22b/home/sse']) {
      const res = await request('GET', `${web.base}${p}`);
      assert.equal(res.status, 404, p);
      assert.equal(nameCookie(res), undefined, p);
      assert.equal(res.headers['x-evil'], undefined, p);
    }
    const before = await xlen(redis);
    const res = await post(`${web.base}x%0d%0aY:%20z/`, { username: 'u', message: 'm' });
    assert.equal(res.status, 404);
    assert.equal(await xlen(redis), before, 'nothing stored');
  });

  test('every visitor gets their own name above the same feed (the feed part is shared)',
    async () => {
      const a = await request('GET', web.base, { headers: { Cookie: cookieFor('AlphaVisitor') } });
      const b = await request('GET', web.base, { headers: { Cookie: cookieFor('BetaVisitor') } });
      assert.match(a.body, /<strong id="whoami">AlphaVisitor<\/strong>/);
      assert.match(b.body, /<strong id="whoami">BetaVisitor<\/strong>/);
      assert.ok(!a.body.includes('BetaVisitor') && !b.body.includes('AlphaVisitor'));
      const feed = (h) => h.slice(h.indexOf('<div id="live"'));
      assert.equal(feed(a.body), feed(b.body));
      assert.equal(Number(a.headers['content-length']), Buffer.byteLength(a.body));
    });

  test('a post is on the next page load at once, on every child', async () => {
    for (let i = 0; i < 10; i++) {
      const id = await postId(web.base, 'reader', `read your writes ${i}`);
      // Several loads: with keep-alive off each may reach another child.
      for (let k = 0; k < 4; k++) {
        const res = await request('GET', web.base);
        assert.equal(cards(res.body)[0]?.id, id, `load ${k} after post ${i}`);
      }
    }
  });

  test('an entry written to the stream by another program shows within a second', async () => {
    await request('GET', web.base); // a rendering that does not have it
    const t0 = Date.now();
    const id = await redis.client.xAdd('tweetsse:feed', '*',
      { u: 'OtherProgram', m: 'written directly' });
    // Nothing announces it: the page shows it once its rendering has expired, so ask again
    // until then (bounded).
    let res;
    await waitUntil(async () => {
      res = await request('GET', web.base);
      return cards(res.body)[0]?.id === id;
    }, 3000, 'the entry on the page', 100).catch(() => {});
    assert.equal(cards(res.body)[0]?.id, id);
    assert.ok(Date.now() - t0 < 2500, `shown after ${Date.now() - t0} ms`);
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('sub-path mount /feed/', () => {
  before(async () => {
    sub = await startApache({ redis: redis.addr, mount: '/feed/' });
  });

  test('the page is at /feed/ and /feed/home; the cookie is scoped to /feed/', async () => {
    assert.equal(sub.base, `http://127.0.0.1:${sub.port}/feed/`);
    for (const p of ['', 'home']) {
      const res = await request('GET', `${sub.base}${p}`);
      assert.equal(res.status, 200, p);
      const c = nameCookie(res);
      assert.ok(c.attrs.includes('Path=/feed/'), c.raw);
      assert.equal(textById(res.body, 'whoami'), c.name);
      assert.ok(res.body.includes('sse-connect="home/sse?last_event_id='));
      assert.ok(!res.body.includes('/feed'), 'URLs stay relative');
    }
  });

  test('outside the mount the feed is not served', async () => {
    for (const p of ['/', '/home', '/home/sse', '/feedx/']) {
      const res = await request('GET', `http://127.0.0.1:${sub.port}${p}`);
      assert.notEqual(res.status, 200, p);
      assert.equal(nameCookie(res), undefined, p);
    }
    const res = await request('GET', `${sub.base}nope`);
    assert.equal(res.status, 404);
  });

  test('static files under /feed/lib/ are files, not the feed handler', async () => {
    const res = await request('GET', `${sub.base}lib/htmx.min.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /javascript/);
    assert.equal(res.body, fs.readFileSync(path.join(TOP, 'htdocs/lib/htmx.min.js'), 'utf8'));
    assert.equal(nameCookie(res), undefined);
    assert.equal((await request('GET', `${sub.base}lib/nope.js`)).status, 404);
  });

  test('posting to /feed/home in all three forms; /feed/home/sse streams them', async () => {
    const s = await openStream(`${sub.base}home/sse`);
    try {
      assert.equal(s.status, 200);
      assert.match(s.headers['content-type'], /^text\/event-stream/);
      await s.until((x) => x.retries.length > 0, 5000, 'retry line');
      const json = await post(sub.base, { username: 'feeder', message: 'via json' });
      assert.equal(json.status, 201);
      const form = await post(sub.base, { username: 'feeder', message: 'via form' }, 'form');
      assert.equal(form.status, 303);
      assert.equal(form.headers.location, '/feed/home');
      const htmx = await post(sub.base, { username: 'feeder', message: 'via htmx' }, 'htmx');
      assert.equal(htmx.status, 204);
      await s.until((x) => x.posts().length >= 3, 5000, 'three posts');
      assert.deepEqual(s.posts().map((e) => e.data.match(/<p class="tw-msg">([^<]*)</)[1]),
        ['via json', 'via form', 'via htmx']);
      assert.equal(s.posts()[0].id, JSON.parse(json.body).id);
      assert.equal(s.posts()[2].id, htmx.headers['x-post-id']);
      // The same ids are stored and on the page, newest first.
      const stored = (await xrange(redis)).map((e) => e.id);
      const ids = s.posts().map((e) => e.id);
      assert.deepEqual(stored.slice(-3), ids);
      const page = await request('GET', sub.base);
      assert.deepEqual(cards(page.body).slice(0, 3).map((c) => c.id), [...ids].reverse());
    } finally {
      s.close();
    }
  });

  test('the error log is clean', () => {
    assert.deepEqual(sub.badLogLines(), []);
  });
});
