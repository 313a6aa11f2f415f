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

// The configuration test of the private server plus `extra`; resolves {code, stderr}.
async function configtest(extra) {
  const dir = tempDir('conf');
  fs.mkdirSync(path.join(dir, 'htdocs'));
  const conf = await apacheConf({ dir, port: 1, redis: redis.addr });
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
