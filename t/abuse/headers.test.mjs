// Response headers and paths of the feed against a real Apache: the security headers on every
// response of the handler, Allow on 405 and OPTIONS, no cookie on any error, only the mount
// point's own URLs served (root mount and /feed/), TweetsseContentSecurityPolicy, and
// mod_reqtimeout closing connections that never finish their headers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CSP } from '../lib/browser.mjs';
import { cookieFor, freePort, openStream, post, request, startApache, startRedis, within }
  from '../lib/harness.mjs';
import { nameCookie, textById } from '../lib/helpers.mjs';

let redis, web, sub, down;
before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr, keepalive: 1 });
  // A sub-path mount with a policy of its own, and a <Location> under it that restricts the
  // health check (it covers a feed URL but sets no handler: the mount stays /feed/).
  sub = await startApache({ redis: redis.addr, mount: '/feed/', extraConf: [
    'LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so',
    'TweetsseContentSecurityPolicy "default-src \'none\'; frame-ancestors \'none\'"',
    '<Location /feed/home/health>', '    Require ip 127.0.0.1', '</Location>',
  ].join('\n') });
});
after(async () => {
  await down?.stop();
  await sub?.stop();
  await web?.stop();
  await redis?.stop();
});

const SECURITY = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin' };

function assertSecurityHeaders(res, what, csp = DEFAULT_CSP) {
  for (const [k, v] of Object.entries(SECURITY)) assert.equal(res.headers[k], v, `${what}: ${k}`);
  assert.equal(res.headers['content-security-policy'], csp, `${what}: content-security-policy`);
}

const allowOf = (res) => (res.headers.allow ?? '').split(',').map((m) => m.trim()).sort();

describe('root mount', () => {
  test('security headers on the page, posts, stream, health and errors', async () => {
    const cases = [
      ['GET', '', 200], ['HEAD', 'home', 200], ['GET', 'home/health', 200],
      ['GET', 'nope', 404], ['GET', 'home/', 404], ['PUT', 'home', 405], ['OPTIONS', 'home', 200],
      ['GET', 'home?before=1-0', 200], ['GET', 'home?before=x', 400],
      ['GET', 'home/post/1-0', 404], ['GET', 'home/post/x', 400],
    ];
    for (const [method, p, status] of cases) {
      const res = await request(method, `${web.base}${p}`);
      assert.equal(res.status, status, `${method} /${p}`);
      assertSecurityHeaders(res, `${method} /${p}`);
    }
    assertSecurityHeaders(await post(web.base, { username: 'h', message: 'headers' }), 'POST 201');
    assertSecurityHeaders(await post(web.base, { username: 'h', message: '' }), 'POST 400');
    const s = await openStream(`${web.base}home/sse`);
    try {
      assert.equal(s.status, 200);
      assertSecurityHeaders({ headers: s.headers }, 'stream');
    } finally {
      s.close();
    }
  });

  test('405 and OPTIONS name the methods of each URL; OPTIONS has no body and no cookie',
    async () => {
      const want = { '': ['GET', 'HEAD', 'OPTIONS'], home: ['GET', 'HEAD', 'OPTIONS', 'POST'],
        'home/sse': ['GET', 'HEAD', 'OPTIONS'], 'home/health': ['GET', 'HEAD', 'OPTIONS'],
        'home/post/1-0': ['GET', 'HEAD', 'OPTIONS', 'POST'],
        'home/viewer.css': ['GET', 'HEAD', 'OPTIONS'], 'home/liked': ['GET', 'HEAD', 'OPTIONS'] };
      for (const [p, methods] of Object.entries(want)) {
        const post = methods.includes('POST');
        for (const method of ['PUT', 'DELETE', 'PATCH', ...(post ? [] : ['POST'])]) {
          const res = await request(method, `${web.base}${p}`);
          assert.equal(res.status, 405, `${method} /${p}`);
          assert.deepEqual(allowOf(res), methods, `${method} /${p}: ${res.headers.allow}`);
          assert.equal(nameCookie(res), undefined, `${method} /${p}: no cookie`);
        }
        const opt = await request('OPTIONS', `${web.base}${p}`);
        assert.equal(opt.status, 200, `OPTIONS /${p}`);
        assert.deepEqual(allowOf(opt), methods, `OPTIONS /${p}: ${opt.headers.allow}`);
        assert.equal(opt.body, '', `OPTIONS /${p}: no body`);
        assert.equal(opt.headers['content-length'], '0', `OPTIONS /${p}`);
        assert.equal(opt.headers['set-cookie'], undefined, `OPTIONS /${p}: no cookie`);
      }
      // TRACE is the core's (TraceEnable off in the private config), and not in Allow above.
      assert.equal((await request('TRACE', `${web.base}home`)).status, 405);
    });

  test('only the mount point and home serve the page, home/post/<segment> a post\'s page; '
    + 'other paths are 404 without a cookie', async () => {
      for (const p of ['', 'home']) {
        const res = await request('GET', `${web.base}${p}`);
        assert.equal(res.status, 200, p);
        assert.ok(nameCookie(res).attrs.includes('Path=/'), `/${p}`);
      }
      const id = JSON.parse((await post(web.base, { username: 'u', message: 'mine' })).body).id;
      const own = await request('GET', `${web.base}home/post/${id}`);
      assert.equal(own.status, 200, 'a post\'s page');
      assert.ok(nameCookie(own).attrs.includes('Path=/'), 'its cookie is the mount\'s');
      // One segment after home/post/ is a post's page, so a malformed one is a bad request.
      for (const p of ['home/post/x', 'home/post/1-', 'home/post/1-0-0', 'home/post/1-0.']) {
        const res = await request('GET', `${web.base}${p}`);
        assert.equal(res.status, 400, `/${p}`);
        assert.equal(nameCookie(res), undefined, `/${p}: no cookie`);
      }
      for (const p of ['home/', 'x/home', 'evil.example/home', 'x/', 'home/home', 'x/home/sse',
        'x/home/health', 'home/sse/', 'feed/', 'home/post', 'home/post/', `home/post/${id}/`,
        `home/post/${id}/x`, `home/posts/${id}`, `x/home/post/${id}`, `home/post/x/${id}`,
        `post/${id}`, `home/sse/post/${id}`, `home/post/${id}/sse`, 'home/post/..']) {
        const res = await request('GET', `${web.base}${p}`);
        assert.equal(res.status, 404, `/${p}`);
        assert.equal(nameCookie(res), undefined, `/${p}: no cookie`);
        assertSecurityHeaders(res, `/${p}`);
      }
      const res = await post(`${web.base}x/`, { username: 'u', message: 'not here' });
      assert.equal(res.status, 404, 'POST /x/home');
    });

  test('no cookie on a refused post, nor on the 503 page (which keeps a known name)',
    async () => {
      const refused = await post(web.base, { username: 'u', message: '' }, 'form');
      assert.equal(refused.status, 400);
      assert.equal(refused.headers['set-cookie'], undefined);
      // An instance whose Redis is not there: its page is the 503 with a notice.
      down = await startApache({ redis: `127.0.0.1:${await freePort()}` });
      const fresh = await request('GET', down.base);
      assert.equal(fresh.status, 503);
      assert.match(fresh.body, /The feed is unavailable right now/);
      assert.equal(fresh.headers['set-cookie'], undefined, 'no cookie for a new visitor');
      assertSecurityHeaders(fresh, '503 page');
      const known = await request('GET', down.base, { headers: { Cookie: cookieFor('KnownName1') } });
      assert.equal(known.status, 503);
      assert.equal(textById(known.body, 'whoami'), 'KnownName1');
      assert.equal(known.headers['set-cookie'], undefined);
    });
});

describe('sub-path mount /feed/', () => {
  test('the page at /feed/ and /feed/home, cookie Path=/feed/, the configured policy',
    async () => {
      for (const p of ['', 'home']) {
        const res = await request('GET', `${sub.base}${p}`);
        assert.equal(res.status, 200, p);
        assert.ok(nameCookie(res).attrs.includes('Path=/feed/'), nameCookie(res).raw);
        assertSecurityHeaders(res, `/feed/${p}`, "default-src 'none'; frame-ancestors 'none'");
      }
    });

  test('its stream, health check (under a <Location> of its own) and posts work', async () => {
    const health = await request('GET', `${sub.base}home/health`);
    assert.equal(health.status, 200);
    assert.equal(health.body, 'ok\n');
    const s = await openStream(`${sub.base}home/sse`);
    try {
      assert.equal(s.status, 200);
      const res = await post(sub.base, { username: 'sub', message: 'under /feed/' });
      assert.equal(res.status, 201);
      await s.until((x) => x.posts().some((e) => e.id === JSON.parse(res.body).id), 5000,
        'the post on the stream');
    } finally {
      s.close();
    }
  });

  test('paths under /feed/ that are not its own URLs are 404 without a cookie', async () => {
    for (const p of ['home/', 'x/home', 'evil.example/home', 'feed/', 'feed/home', 'x/',
      'home/health/', 'x/home/sse', 'home/post/', 'home/post/1-0/', 'feed/home/post/1-0']) {
      const res = await request('GET', `${sub.base}${p}`);
      assert.equal(res.status, 404, `/feed/${p}`);
      assert.equal(nameCookie(res), undefined, `/feed/${p}`);
    }
    assert.equal((await request('OPTIONS', `${sub.base}x/home`)).status, 404);
  });
});

describe('TweetsseContentSecurityPolicy off', () => {
  test('no policy header; the other headers stay', async () => {
    const off = await startApache({ redis: redis.addr,
      extraConf: 'TweetsseContentSecurityPolicy off' });
    try {
      const res = await request('GET', off.base);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-security-policy'], undefined);
      for (const [k, v] of Object.entries(SECURITY)) assert.equal(res.headers[k], v, k);
    } finally {
      await off.stop();
    }
  });
});

// Open `n` connections that send the start of a request and never finish its headers.
// Resolves once all are connected with [{sock, closed}], closed resolving when the server
// has closed that connection (a reset counts too).
function slowloris(port, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const closed = new Promise((res) => sock.once('close', () => res()));
    sock.resume(); // read (and drop) the 408, or the end of the connection is never seen
    sock.once('connect', () => {
      sock.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n');
      resolve({ sock, closed });
    });
    sock.on('error', (e) => { if (sock.connecting) reject(e); });
  })));
}

describe('mod_reqtimeout', () => {
  test('300 connections with unfinished headers: GET and POST still answer, an open stream '
    + 'stays open, and the slow connections are closed', async () => {
    // A stream open from before, kept past the header and body timeouts (5 s, 10 s): its
    // pings (TweetsseKeepalive 1 s here) keep coming.
    const s = await openStream(`${web.base}home/sse`);
    // mod_reqtimeout's output filter does not keep the stream from the delivery thread,
    // whose responses are close-delimited.
    assert.equal(s.headers.connection, 'close');
    assert.equal(s.headers['transfer-encoding'], undefined);
    const socks = await slowloris(web.port, 300);
    try {
      const page = await request('GET', web.base);
      assert.equal(page.status, 200);
      const res = await post(web.base, { username: 'slow', message: 'past the slowloris' });
      assert.equal(res.status, 201);
      await within(Promise.all(socks.map((x) => x.closed)), 30000,
        'the server to close the 300 slow connections');
      await s.until((x) => x.comments.filter((c) => c === 'ping').length >= 12, 20000,
        'twelve pings (12 s) on the open stream');
      assert.equal(s.ended, false, 'the stream is still open');
      const late = await post(web.base, { username: 'slow', message: 'after 12 s' });
      assert.equal(late.status, 201);
      const id = JSON.parse(late.body).id;
      await s.until((x) => x.posts().some((e) => e.id === id), 5000, 'the post on the stream');
    } finally {
      for (const x of socks) x.sock.destroy();
      s.close();
    }
  });

  test('the error logs are clean', () => {
    // The 300 connections take every worker thread until their header timeout: the MPM says
    // so, once it is full (AH00484) or, as it fills, within MinSpareThreads of it (AH10159).
    assert.deepEqual(web.badLogLines([/AH00484: server reached MaxRequestWorkers/,
      /AH10159: server is within MinSpareThreads of MaxRequestWorkers/]), []);
    assert.deepEqual(sub.badLogLines(), []);
  });
});
