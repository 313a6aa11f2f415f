// Delivery engines. "socket" (the default): the child's pump thread writes every event to the
// stream sockets itself, so an open stream holds no worker thread; hang-ups, stalled clients
// and laggards are handled there. "thread" (TweetsseDelivery thread): one worker per stream.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SERVER_SH, SseParser, apacheConf, execFileAsync, request, startApache, startRedis,
  tempDir, within } from '../lib/harness.mjs';
import { postId, postIds, postMany, ready, streamTracker, waitUntil, xrange }
  from '../lib/helpers.mjs';

let redis;
const tracker = streamTracker();
const open = tracker.open;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  tracker.closeAll();
  await redis?.stop();
});

// Open descriptors of all of an instance's children (root can read other users' /proc).
async function childFds(web) {
  const counts = await Promise.all((await web.childPids()).map((pid) =>
    fs.promises.readdir(`/proc/${pid}/fd`).then((fds) => fds.length, () => 0))); // 0: it left
  return counts.reduce((a, b) => a + b, 0);
}

describe('socket delivery on prefork (64 processes at most)', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr, mpm: 'prefork', logLevel: 'warn' });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('the response is close-delimited: no chunked framing, Connection: close', async () => {
    const s = await open(`${web.base}home/sse`);
    await ready(s);
    assert.equal(s.headers['transfer-encoding'], undefined);
    assert.equal(s.headers.connection, 'close');
    const id = await postId(web.base, 'raw', 'written by the pump');
    await s.until((x) => x.posts().some((e) => e.id === id), 3000, 'the post');
    s.close();
  });

  test('150 open streams do not hold the 64 processes: all get every post, pages still load',
    async () => {
      const streams = [];
      for (let i = 0; i < 150; i++) streams.push(await open(`${web.base}home/sse`));
      await Promise.all(streams.map(ready));
      const t0 = Date.now();
      const page = await request('GET', web.base);
      assert.equal(page.status, 200);
      assert.ok(Date.now() - t0 < 2000, 'the page is served while 150 streams are open');
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await postId(web.base, 'many', `to 150 streams ${i}`));
      await Promise.all(streams.map((s) => s.until((x) => x.posts().length === 5, 10000, 'posts')));
      for (const s of streams) assert.deepEqual(postIds(s), ids);
      for (const s of streams) s.close();
    });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('socket delivery on worker (as make run): hang-ups, stalled clients, laggards', () => {
  let web;
  before(async () => {
    // A small server send buffer, so a client that stops reading fills it quickly.
    web = await startApache({ redis: redis.addr, mpm: 'worker', keepalive: 1,
      logLevel: 'warn tweetsse:info', extraConf: 'SendBufferSize 4096' });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('a client that hangs up is let go at once: no descriptor is kept', async (t) => {
    if (process.getuid() !== 0) {
      t.skip('reading the children\'s /proc/<pid>/fd needs root');
      return;
    }
    const streams = [];
    for (let i = 0; i < 6; i++) streams.push(await open(`${web.base}home/sse`));
    await Promise.all(streams.map(ready));
    const base = await childFds(web);
    for (let i = 0; i < 100; i++) streams.push(await open(`${web.base}home/sse`));
    await Promise.all(streams.map(ready));
    await waitUntil(async () => await childFds(web) >= base + 100, 3000, '100 more stream sockets');
    for (const s of streams.slice(6)) s.close();
    // Well under the 1 s keepalive: the pump sees the hang-up, not a failed write.
    await waitUntil(async () => await childFds(web) <= base, 800,
      'the sockets closed after the hang-up');
    for (const s of streams.slice(0, 6)) s.close();
  });

  test('a client that stops reading is cut after a keepalive interval; the others get every post',
    async () => {
      const live = await open(`${web.base}home/sse`);
      await ready(live);
      // A raw client that sends its request and never reads.
      const sock = net.connect(web.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(`GET ${web.mount}home/sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      sock.pause();
      const ended = new Promise((r) => { sock.once('end', r); sock.once('close', r); });
      const mark = web.logMark();
      const ids = await postMany(web.base, 600, { prefix: 'x'.repeat(250) });
      await live.until((x) => x.posts().length === 600, 15000, 'every post on the live stream');
      assert.deepEqual(postIds(live), ids);
      await web.waitForLog((lines) => lines.some((l) => /TW060[12]: /.test(l)),
        { from: mark, timeoutMs: 5000, what: 'the stalled stream cut' });
      // The stalled client, once it reads again, finds its stream closed mid-way.
      let got = 0;
      sock.on('data', (d) => { got += d.length; });
      sock.resume();
      await within(ended, 5000, 'the end of the stalled stream');
      assert.ok(got > 0 && got < 600 * 500, `the stalled client got part of the feed (${got} B)`);
      live.close();
    });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('a child at its open-files limit refuses new streams with 503', () => {
  let web;
  before(async () => {
    // 300 open files, less the reserve for 64 threads (2 x 64 + 128): 44 streams a child.
    web = await startApache({ redis: redis.addr, mpm: 'worker', nofile: 300 });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('past the limit: 503 with Retry-After; the open streams keep working', async () => {
    const open200 = [];
    const refused = [];
    for (let i = 0; i < 140 && refused.length < 3; i++) {
      const s = await open(`${web.base}home/sse`);
      if (s.status === 200) open200.push(s);
      else refused.push(s);
    }
    assert.ok(refused.length > 0, `no stream refused after ${open200.length}`);
    // The MPM may start a third child while the streams arrive: the bound is per child. A
    // stream counts once its engine has it, after its headers: this client's next request may
    // pass the check before that, so a child can hold one more.
    const children = (await web.childPids()).length;
    assert.ok(open200.length >= 44 && open200.length <= 45 * children,
      `${open200.length} streams held by ${children} children`);
    for (const s of refused) {
      assert.equal(s.status, 503);
      assert.equal(s.headers['retry-after'], '5');
    }
    await Promise.all(open200.map(ready));
    const id = await postId(web.base, 'full', 'still delivered');
    await Promise.all(open200.map((s) => s.until((x) => x.posts().some((e) => e.id === id), 5000,
      'the post')));
    assert.match(web.errorLog(), /TW0606: this child holds \d+ streams, its limit/);
    for (const s of [...open200, ...refused]) s.close();
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('a content filter on the stream keeps it in its worker thread', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr, extraConf: [
      'LoadModule filter_module /usr/lib/apache2/modules/mod_filter.so',
      'LoadModule substitute_module /usr/lib/apache2/modules/mod_substitute.so',
      'AddOutputFilterByType SUBSTITUTE text/event-stream',
      'Substitute "s/tw-post/tw-post filtered/n"',
    ].join('\n') });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('the filter sees the live events too (the stream is chunked, not handed over)',
    async () => {
      const s = await open(`${web.base}home/sse`);
      await ready(s);
      assert.equal(s.headers['transfer-encoding'], 'chunked');
      const id = await postId(web.base, 'filtered', 'through the filter');
      await s.until((x) => x.posts().length === 1, 3000, 'the live post');
      assert.equal(s.posts()[0].id, id);
      assert.match(s.posts()[0].data, /class="card tw-post filtered"/);
      s.close();
    });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('a rate limit on the stream keeps it in its worker thread', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr, logLevel: 'warn tweetsse:debug', extraConf: [
      'LoadModule ratelimit_module /usr/lib/apache2/modules/mod_ratelimit.so',
      'LoadModule env_module /usr/lib/apache2/modules/mod_env.so',
      '<Location /home/sse>',
      '  SetOutputFilter RATE_LIMIT',
      '  SetEnv rate-limit 512',
      '</Location>',
    ].join('\n') });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('mod_ratelimit paces the stream: it is not handed to the delivery thread', async () => {
    const s = await open(`${web.base}home/sse`);
    await ready(s);
    assert.equal(s.headers['transfer-encoding'], 'chunked', 'written through the filters');
    const id = await postId(web.base, 'paced', 'through the rate limit');
    await s.until((x) => x.posts().some((e) => e.id === id), 5000, 'the live post');
    assert.match(web.errorLog(), /TW0507: output filter rate_limit on the stream/);
    s.close();
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('TLS (mod_ssl): streams stay in their worker threads and work', () => {
  let web;
  before(async () => {
    const dir = tempDir('tls');
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    await execFileAsync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
      '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert]);
    web = await startApache({ redis: redis.addr, mpm: 'worker', tls: true, extraConf: [
      'LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so',
      'LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so',
      'SSLEngine on',
      `SSLCertificateFile ${cert}`,
      `SSLCertificateKeyFile ${key}`,
    ].join('\n') });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('page, post and a resumed live stream over https', async () => {
    assert.ok(web.base.startsWith('https://'));
    const first = await postId(web.base, 'secure', 'one');
    const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': first });
    await ready(s);
    assert.equal(s.headers['transfer-encoding'], 'chunked', 'written through mod_ssl');
    const second = await postId(web.base, 'secure', 'two');
    await s.until((x) => x.posts().length === 1, 3000, 'the live post');
    assert.deepEqual(postIds(s), [second]);
    assert.equal((await request('GET', web.base)).status, 200);
    s.close();
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('HTTP/2 (mod_http2, h2c): streams stay in their worker threads and work', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr, extraConf: [
      'LoadModule http2_module /usr/lib/apache2/modules/mod_http2.so',
      'Protocols h2c http/1.1',
    ].join('\n') });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('a live stream over an HTTP/2 connection gets the posts', async () => {
    const session = http2.connect(`http://127.0.0.1:${web.port}`);
    session.on('error', () => {});
    try {
      const events = [];
      let retried;
      const retry = new Promise((r) => { retried = r; });
      let onPost = () => {};
      const parser = new SseParser((e) => {
        if (e.retry !== undefined) retried();
        if (e.event === 'post') { events.push(e); onPost(); }
      });
      const req = session.request({ ':path': `${web.mount}home/sse`, accept: 'text/event-stream' });
      const headers = await new Promise((r, j) => { req.on('response', r); req.on('error', j); });
      assert.equal(headers[':status'], 200);
      assert.match(headers['content-type'], /^text\/event-stream/);
      req.setEncoding('utf8');
      req.on('data', (d) => parser.feed(d));
      await within(retry, 5000, 'the retry line over h2');
      const id = await postId(web.base, 'multiplexed', 'over h2');
      await within(new Promise((r) => {
        onPost = () => { if (events.some((e) => e.id === id)) r(); };
        onPost();
      }), 5000, 'the post over h2');
      req.close();
    } finally {
      session.close();
    }
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('thread delivery (TweetsseDelivery thread)', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr, extraConf: 'TweetsseDelivery thread' });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('the stream is chunked (written through the filters), and resumes like the socket one',
    async () => {
      const first = await postId(web.base, 'threads', 'one');
      const s = await open(`${web.base}home/sse`, { 'Last-Event-ID': first });
      await ready(s);
      assert.equal(s.headers['transfer-encoding'], 'chunked');
      const second = await postId(web.base, 'threads', 'two');
      await s.until((x) => x.posts().length === 1, 3000, 'the live post');
      assert.deepEqual(postIds(s), [second]);
      const all = (await xrange(redis)).map((e) => e.id);
      assert.ok(all.includes(first) && all.includes(second));
      s.close();
    });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('TweetsseDelivery validation', () => {
  test('an unknown value stops the configuration test with a clear message', async () => {
    const dir = tempDir('conf');
    fs.mkdirSync(path.join(dir, 'htdocs'));
    const conf = await apacheConf({ dir, port: 1, redis: redis.addr });
    fs.writeFileSync(path.join(dir, 'httpd.conf'), `${conf}\nTweetsseDelivery carrier-pigeon\n`);
    const res = await execFileAsync('bash', [SERVER_SH, 'check', dir])
      .then(() => ({ code: 0, stderr: '' }), (e) => e);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /TweetsseDelivery: expected socket or thread, not 'carrier-pigeon'/);
  });
});
