// Configuration checks that need more than one directive: virtual hosts whose feeds would mix
// are refused by the configuration test, with a message naming both.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { TOP, apacheConf, startRedis, tempDir } from '../lib/harness.mjs';

const execFileAsync = promisify(execFile);
const SERVER_SH = path.join(TOP, 'scripts/server.sh');

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

// The configuration test of the private server plus `extra` (and its lines matching `drop`
// left out); resolves {code, stderr}.
async function configtest(extra, drop) {
  const dir = tempDir('conf');
  fs.mkdirSync(path.join(dir, 'htdocs'));
  let conf = await apacheConf({ dir, port: 1, redis: redis.addr });
  if (drop) conf = conf.split('\n').filter((l) => !drop.test(l)).join('\n');
  fs.writeFileSync(path.join(dir, 'httpd.conf'), `${conf}\n${extra}\n`);
  return execFileAsync('bash', [SERVER_SH, 'check', dir])
    .then((r) => ({ code: 0, stderr: r.stderr }), (e) => ({ code: e.code, stderr: e.stderr }));
}

// A name-based virtual host on the same port with these directives.
const vhost = (lines) => `<VirtualHost *>\n  ServerName other.example\n  ${lines.join('\n  ')}\n</VirtualHost>`;

describe('feeds that would mix', () => {
  test('two streams announced on one channel: refused, naming both servers', async () => {
    const res = await configtest(vhost(['TweetsseStreamKey other:feed']));
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /TW0007: the main server and .*httpd\.conf:\d+ announce posts on the same channel tweetsse:live/);
    assert.match(res.stderr, /different streams \(tweetsse:feed, other:feed\)/);
  });

  test('one stream with two history lengths: refused', async () => {
    const res = await configtest(vhost(['TweetsseHistory 50']));
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /TW0008: .* share the stream tweetsse:feed .* different TweetsseHistory \(1000, 50\)/);
  });

  test('a second feed with its own stream and channel, or the same feed twice: accepted', async () => {
    const own = await configtest(vhost(['TweetsseStreamKey other:feed', 'TweetsseChannel other:live']));
    assert.equal(own.code, 0, own.stderr);
    const same = await configtest(vhost(['TweetssePageSize 10']));
    assert.equal(same.code, 0, same.stderr);
    const elsewhere = await configtest(vhost(['TweetsseRedis 127.0.0.1:1', 'TweetsseStreamKey other:feed']));
    assert.equal(elsewhere.code, 0, 'another Redis holds another feed');
  });
});

describe('Redis Sentinel and replicas in the configuration', () => {
  test('TweetsseRedis sentinel://host:port,.../name and TweetsseRedisMinReplicas: accepted',
    async () => {
      const res = await configtest(
        'TweetsseRedis sentinel://127.0.0.1:26379,127.0.0.1:26380,[::1]/mymaster\n'
        + 'TweetsseRedisMinReplicas 2');
      assert.equal(res.code, 0, res.stderr);
    });

  for (const [value, why] of [
    ['sentinel://127.0.0.1:26379', /expected sentinel:\/\/host:port\[,host:port\.\.\.\]\/master-name/],
    ['sentinel://127.0.0.1:26379,,h:1/m', /an empty sentinel address/],
    ['sentinel://127.0.0.1:0/m', /'127\.0\.0\.1:0' is not host:port/],
  ]) {
    test(`TweetsseRedis ${value}: refused, saying why`, async () => {
      const res = await configtest(`TweetsseRedis ${value}`);
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /TweetsseRedis: /);
      assert.match(res.stderr, why);
    });
  }

  test('TweetsseRedisMinReplicas beyond 16: refused', async () => {
    const res = await configtest('TweetsseRedisMinReplicas 17');
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /TweetsseRedisMinReplicas: '17' is out of range \(0\.\.16\)/);
  });

  test('TweetsseRetryJitter: a duration, 0 or off; anything else refused, saying why', async () => {
    for (const ok of ['0', 'off', '250ms', '10']) {
      const res = await configtest(`TweetsseRetryJitter ${ok}`);
      assert.equal(res.code, 0, `${ok}: ${res.stderr}`);
    }
    for (const bad of ['soon', '-1', '601']) {
      const res = await configtest(`TweetsseRetryJitter ${bad}`);
      assert.notEqual(res.code, 0, bad);
      assert.match(res.stderr, new RegExp(`TweetsseRetryJitter: '${bad}'`));
    }
  });
});

describe('the secret that signs the name cookie', () => {
  const secretFile = (text) => {
    const f = path.join(tempDir('secret'), 'secret');
    fs.writeFileSync(f, text, { mode: 0o600 });
    return f;
  };

  test('no TweetsseSecretFile: refused, saying how to make one', async () => {
    const res = await configtest('', /^TweetsseSecretFile/);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /TW0009: .*TweetsseSecretFile is not set.*openssl rand/);
  });

  test('a weak, a missing or an oversized secret: refused', async () => {
    const weak = await configtest(`TweetsseSecretFile ${secretFile('short secret\n')}`);
    assert.notEqual(weak.code, 0);
    assert.match(weak.stderr, /TW0010: .* holds 12 bytes: a secret needs at least 32/);
    const missing = await configtest('TweetsseSecretFile /nonexistent/secret');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /TW0010: .*cannot open \/nonexistent\/secret/);
    const huge = await configtest(`TweetsseSecretFile ${secretFile('x'.repeat(5000))}`);
    assert.notEqual(huge.code, 0);
    assert.match(huge.stderr, /TW0010: .*larger than 4096 bytes/);
    const prev = await configtest(
      `TweetsseSecretFile ${secretFile('k'.repeat(40))} ${secretFile('weak')}`);
    assert.notEqual(prev.code, 0, 'the previous secret is checked too');
  });

  test('identity from Apache needs no secret; a good secret and a previous one: accepted',
    async () => {
      const remote = await configtest('TweetsseIdentity remote-user', /^TweetsseSecretFile/);
      assert.equal(remote.code, 0, remote.stderr);
      const both = await configtest(
        `TweetsseSecretFile ${secretFile(`${'n'.repeat(32)}\n`)} ${secretFile('p'.repeat(64))}`);
      assert.equal(both.code, 0, both.stderr);
    });

  test('TweetsseIdentity, TweetsseTrustedProxy and the rate limits refuse bad values', async () => {
    for (const [line, why] of [
      ['TweetsseIdentity nobody', /expected cookie or remote-user/],
      ['TweetsseTrustedProxy not-an-address', /not an address or network/],
      ['TweetsseRateLimit 5', /not a rate/],
      ['TweetsseRateLimit 5/10s burst=0', /out of range|burst/],
      ['TweetsseAddressRateLimit 0/10s', /out of range/],
      ['TweetsseRateLimit off burst=3', /takes no burst/],
    ]) {
      const res = await configtest(line);
      assert.notEqual(res.code, 0, line);
      assert.match(res.stderr, why, line);
    }
    const ok = await configtest('TweetsseTrustedProxy 127.0.0.1 10.0.0.0/8 ::1\n'
      + 'TweetsseRateLimit 5/10s burst=10\nTweetsseAddressRateLimit off');
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('TweetsseContentSecurityPolicy', () => {
  test('a policy, or off: accepted; a value with a leading space or a control character: refused',
    async () => {
      for (const ok of ['"default-src \'none\'"', 'off', 'Off']) {
        const res = await configtest(`TweetsseContentSecurityPolicy ${ok}`);
        assert.equal(res.code, 0, `${ok}: ${res.stderr}`);
      }
      for (const bad of ['" default-src \'none\'"', '"a\tb"']) {
        const res = await configtest(`TweetsseContentSecurityPolicy ${bad}`);
        assert.notEqual(res.code, 0, bad);
        assert.match(res.stderr, /TweetsseContentSecurityPolicy: the value (may not start or end with a space|may only hold printable ASCII)/, bad);
      }
    });
});

describe("the private server's configuration (scripts/server.sh conf)", () => {
  // server.sh conf with this environment, into a directory of its own: {dir, conf}.
  async function generate(env) {
    const dir = tempDir('conf');
    fs.mkdirSync(path.join(dir, 'htdocs'));
    const { stdout } = await execFileAsync('bash', [SERVER_SH, 'conf'], { env: { ...process.env,
      RUNDIR: dir, PORT: '18999', REDIS: redis.addr, MIN_REPLICAS: '', EXTRA_CONF: '',
      HOST: '', TRUSTED_PROXY: '', MAX_STREAMS_PER_ADDRESS: '', MODERATORS: '', ...env } });
    fs.writeFileSync(path.join(dir, 'httpd.conf'), stdout);
    return { dir, conf: stdout };
  }
  const check = (dir) => execFileAsync('bash', [SERVER_SH, 'check', dir])
    .then((r) => ({ code: 0, stderr: r.stderr }), (e) => ({ code: e.code, stderr: e.stderr }));

  test('EXTRA_CONF is included: a configuration error names that file and its line', async () => {
    const extra = path.join(tempDir('extra'), 'mine.conf');
    fs.writeFileSync(extra, '# my settings\nTweetsseHistory 5\n');
    const { dir, conf } = await generate({ EXTRA_CONF: extra });
    assert.match(conf, new RegExp(`^Include "${extra}"$`, 'm'));
    const res = await check(dir);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, new RegExp(`Syntax error on line 2 of ${extra}:`));
    assert.match(res.stderr, /TweetsseHistory: '5' is out of range \(10\.\.10000000\)/);
  });

  test('HOST: loopback by default, any address when asked; anything else refused', async () => {
    assert.match((await generate({})).conf, /^Listen 127\.0\.0\.1:18999$/m);
    const all = await generate({ HOST: '0.0.0.0' });
    assert.match(all.conf, /^Listen 0\.0\.0\.0:18999$/m);
    assert.equal((await check(all.dir)).code, 0);
    assert.match((await generate({ HOST: '::' })).conf, /^Listen \[::\]:18999$/m);
    await assert.rejects(generate({ HOST: '1.2.3.4 x' }), /HOST must be an address/);
  });

  test('TRUSTED_PROXY: mod_remoteip believes that proxy, the per-address limit is on', async () => {
    const plain = (await generate({})).conf;
    assert.match(plain, /^TweetsseMaxStreamsPerAddress off$/m);
    assert.doesNotMatch(plain, /^(LoadModule remoteip_module|RemoteIP)/m);
    const proxied = await generate({ TRUSTED_PROXY: '127.0.0.1' });
    for (const line of ['RemoteIPHeader X-Forwarded-For', 'RemoteIPInternalProxy 127.0.0.1',
      'TweetsseTrustedProxy 127.0.0.1', 'TweetsseMaxStreamsPerAddress 64']) {
      assert.ok(proxied.conf.split('\n').includes(line), line);
    }
    assert.equal((await check(proxied.dir)).code, 0);
    assert.match((await generate({ TRUSTED_PROXY: '127.0.0.1', MAX_STREAMS_PER_ADDRESS: 'off' })).conf,
      /^TweetsseMaxStreamsPerAddress off$/m);
  });

  test('MODERATORS: the moderators\' page at <mount>moderate behind Basic authentication',
    async () => {
    assert.doesNotMatch((await generate({})).conf, /tweetsse-moderation/);
    const users = path.join(tempDir('mods'), 'moderators');
    await execFileAsync('htpasswd', ['-cbB', users, 'moderator', 'pw']);
    fs.chmodSync(users, 0o644);
    const { dir, conf } = await generate({ MODERATORS: users, MOUNT: '/feed/' });
    assert.match(conf, /^<Location \/feed\/moderate>\n {4}SetHandler tweetsse-moderation\n/m);
    assert.ok(conf.includes(`AuthUserFile "${users}"`));
    assert.equal((await check(dir)).code, 0);
    await assert.rejects(generate({ MODERATORS: '/nonexistent' }), /cannot read MODERATORS/);
  });
});
