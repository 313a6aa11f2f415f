// Resumes that cost the server nothing it cannot bound: a replay is written by the delivery
// thread, so clients that resume and never read hold no worker thread (GET and POST keep
// answering) and are cut once stalled; a resume further back than TweetsseMaxResume, 0-0
// included, gets a reload event instead of the history; and the streams one client address
// may hold in a child are capped (TweetsseMaxStreamsPerAddress: 429 past it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { SERVER_SH, TOP, apacheConf, execFileAsync, request, startApache, startRedis, tempDir,
  within } from '../lib/harness.mjs';
import { cmpId, postId, postIds, postMany, ready, streamTracker, waitUntil, xrange }
  from '../lib/helpers.mjs';

const STALL = path.join(TOP, 'bench/stall');
let redis;
const tracker = streamTracker();
const open = tracker.open;

before(async () => {
  redis = await startRedis();
  await execFileAsync('make', ['-s', '-C', path.join(TOP, 'bench'), 'stall']);
});
after(async () => {
  tracker.closeAll();
  await redis?.stop();
});

// `count` clients of bench/stall resuming after `lastId` with `rcvbuf`-byte receive buffers.
// Resolves, once every stream has answered, with {ok, other, failed, stop()}.
async function stallClients(web, count, lastId, rcvbuf = 1024) {
  const proc = spawn(STALL, ['127.0.0.1', String(web.port), `${web.mount}home/sse`, String(count),
    String(rcvbuf), lastId], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((r) => proc.on('exit', r));
  const line = await within(new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).once('line', resolve);
    proc.on('error', reject);
  }), 30000, 'the stalled clients to connect');
  const [, ok, other, failed] = line.split(' ').map(Number);
  return { ok, other, failed, stop: () => { proc.stdin.end(); return exited; } };
}

// The configuration test's error output for the private config plus `extra`.
async function configError(extra) {
  const dir = tempDir('conf');
  fs.mkdirSync(path.join(dir, 'htdocs'));
  const conf = await apacheConf({ dir, port: 1, redis: redis.addr });
  fs.writeFileSync(path.join(dir, 'httpd.conf'), `${conf}\n${extra}\n`);
  const res = await execFileAsync('bash', [SERVER_SH, 'check', dir])
    .then(() => ({ code: 0, stderr: '' }), (e) => e);
  assert.notEqual(res.code, 0, `${extra}: refused`);
  return res.stderr;
}

// Time one request; fails if it takes longer than `ms`.
async function timed(what, ms, fn) {
  const t0 = performance.now();
  const res = await within(fn(), ms, what);
  return { res, ms: performance.now() - t0 };
}

describe('300 clients that resume and never read', () => {
  let web, stalled;
  before(async () => {
    // A small server send buffer (and the clients' small receive buffers) so that every
    // stalled stream's replay is left mostly unsent; a 2 s keepalive is the stall limit.
    web = await startApache({ redis: redis.addr, keepalive: 2, logLevel: 'warn tweetsse:info',
      extraConf: 'SendBufferSize 4096' });
  });
  after(async () => {
    await stalled?.stop();
    await web?.stop();
  });

  test('GET and POST keep answering at once; the stalled streams are cut', async (t) => {
    const ids = await postMany(web.base, 190, { parallel: 10, prefix: 'x'.repeat(120) });
    const live = await open(`${web.base}home/sse`);
    await ready(live);
    const mark = web.logMark();
    // 189 posts back: within the default bound (4 x 50), ~100 KB of replay each.
    stalled = await stallClients(web, 300, ids[0]);
    assert.deepEqual([stalled.ok, stalled.other, stalled.failed], [300, 0, 0],
      'every stalled stream started');
    const times = [];
    for (let i = 0; i < 5; i++) {
      const page = await timed('GET /', 2000, () => request('GET', web.base));
      assert.equal(page.res.status, 200);
      const post = await timed('POST /home', 2000, () => postId(web.base, 'busy', `while stalled ${i}`));
      const fresh = await timed('a new stream', 2000, async () => {
        const s = await open(`${web.base}home/sse`);
        await ready(s);
        s.close();
        return s;
      });
      assert.equal(fresh.res.status, 200);
      await live.until((x) => x.posts().some((e) => e.id === post.res), 2000, 'the post, live');
      times.push(page.ms, post.ms, fresh.ms);
    }
    t.diagnostic(`slowest answer with 300 stalled streams: ${Math.round(Math.max(...times))} ms`);
    // No progress for a keepalive interval (2 s): each stalled stream is closed (TW0602).
    const cut = await web.waitForLog((lines) => {
      const n = lines.filter((l) => /TW0602:/.test(l)).length;
      return n >= 300 && n;
    }, { from: mark, timeoutMs: 30000, what: '300 stalled streams cut' });
    t.diagnostic(`${cut} stalled streams cut`);
    // The live stream was never held up, and missed nothing.
    const mine = (await xrange(redis)).map((e) => e.id).filter((id) => cmpId(id, ids.at(-1)) > 0);
    assert.deepEqual(postIds(live).filter((id) => mine.includes(id)), mine);
    live.close();
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('TweetsseMaxResume: a resume further back gets reload', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr, extraConf: 'TweetsseMaxResume 20' });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  // The events of a stream that is expected to end by itself.
  async function ended(url, headers) {
    const s = await open(url, headers);
    assert.equal(s.status, 200);
    await s.until((x) => x.ended, 5000, 'the end of the stream');
    return s;
  }

  test('0-0 on a history longer than the bound: one reload, no post', async () => {
    assert.ok((await xrange(redis)).length > 20, 'the history is longer than 20 posts');
    const q = await ended(`${web.base}home/sse?last_event_id=0-0`);
    assert.deepEqual(q.events.map((e) => e.event), ['reload']);
    const h = await ended(`${web.base}home/sse`, { 'Last-Event-ID': '0-0' });
    assert.deepEqual(h.events.map((e) => e.event), ['reload']);
  });

  test('21 posts back: reload; 20 back: the 20 posts, then live', async () => {
    const all = (await xrange(redis)).map((e) => e.id);
    const far = await ended(`${web.base}home/sse`, { 'Last-Event-ID': all.at(-22) });
    assert.deepEqual(far.events.map((e) => e.event), ['reload']);
    const near = await open(`${web.base}home/sse`, { 'Last-Event-ID': all.at(-21) });
    await near.until((x) => x.posts().length >= 20, 5000, 'the 20 missed posts');
    assert.deepEqual(postIds(near), all.slice(-20));
    const live = await postId(web.base, 'resumer', 'after a bounded resume');
    await near.until((x) => x.posts().length >= 21, 5000, 'the live post');
    assert.deepEqual(postIds(near).slice(20), [live]);
    assert.equal(near.ended, false);
    assert.ok(near.events.every((e) => e.event === 'post'), 'no reload');
    near.close();
  });

  test('a value out of range stops the configuration test', async () => {
    assert.match(await configError('TweetsseMaxResume 0'), /TweetsseMaxResume: /);
    assert.match(await configError('TweetsseMaxResume 10001'), /TweetsseMaxResume: /);
  });
});

describe('TweetsseMaxStreamsPerAddress', () => {
  let web;
  before(async () => {
    // One child, so that the per-child cap is the server's; mod_remoteip trusts loopback's
    // X-Forwarded-For, as behind a balancer.
    web = await startApache({ redis: redis.addr, logLevel: 'warn tweetsse:info', extraConf: [
      'ServerLimit 1', 'StartServers 1', 'MaxRequestWorkers 64',
      'LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so',
      'RemoteIPHeader X-Forwarded-For', 'RemoteIPInternalProxy 127.0.0.1',
      'TweetsseMaxStreamsPerAddress 3',
    ].join('\n') });
  });
  after(async () => {
    tracker.closeAll();
    await web?.stop();
  });

  test('past n streams from one address: 429 with Retry-After before any byte; others work',
    async () => {
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push(await open(`${web.base}home/sse`));
      await Promise.all(mine.map(ready));
      const refused = await request('GET', `${web.base}home/sse`);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers['retry-after'], '10');
      assert.match(refused.headers['content-type'], /^text\/plain/);
      assert.match(refused.body, /Too many open streams from your address \(at most 3 /);
      assert.ok(!refused.body.includes('retry:'), 'no byte of a stream');
      await web.waitForLog((lines) => lines.some((l) => /TW0512: .*127\.0\.0\.1 holds 3/.test(l)),
        { timeoutMs: 5000, what: 'the refusal logged' });
      // Another address (as mod_remoteip sets it) has its own count.
      const other = await open(`${web.base}home/sse`, { 'X-Forwarded-For': '192.0.2.9' });
      assert.equal(other.status, 200);
      await ready(other);
      // Pages and posts are not streams.
      assert.equal((await request('GET', web.base)).status, 200);
      const id = await postId(web.base, 'capped', 'still posting');
      await Promise.all([...mine, other].map((s) =>
        s.until((x) => x.posts().some((e) => e.id === id), 5000, 'the post')));
      // A closed stream makes room (the delivery thread sees the hang-up and releases it).
      mine.shift().close();
      const again = await waitUntil(async () => {
        const s = await open(`${web.base}home/sse`);
        if (s.status === 200) return s;
        s.close();
        return undefined;
      }, 5000, 'a stream once one closed');
      await ready(again);
      assert.equal((await request('GET', `${web.base}home/sse`)).status, 429, 'at the cap again');
      assert.deepEqual(web.badLogLines(), []);
    });

  test('off, or a number from 1 up; anything else stops the configuration test', async () => {
    assert.match(await configError('TweetsseMaxStreamsPerAddress none'),
      /TweetsseMaxStreamsPerAddress: /);
    assert.match(await configError('TweetsseMaxStreamsPerAddress 0'),
      /TweetsseMaxStreamsPerAddress: /);
  });
});
