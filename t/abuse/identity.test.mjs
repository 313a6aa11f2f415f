// Impersonation and cross-site posting, tried as an attacker would: the author of a post is
// the signed name cookie's (or Apache's authenticated user), never a body field; a POST from
// another site's page is refused; nothing refused is stored.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { cookieFor, post, request, signName, startApache, startRedis, tempDir }
  from '../lib/harness.mjs';
import { nameCookie, textById, xlen, xrange } from '../lib/helpers.mjs';

const execFileAsync = promisify(execFile);
const JSON_CT = { 'Content-Type': 'application/json' };
const FORM_CT = { 'Content-Type': 'application/x-www-form-urlencoded' };

let redis;
before(async () => { redis = await startRedis(); });
after(async () => { await redis?.stop(); });

// POST a JSON post with exactly these headers (no cookie unless given).
const postRaw = (base, headers, fields) => request('POST', `${base}home`,
  { headers: { ...JSON_CT, ...headers }, body: JSON.stringify(fields) });

// Expect a 403 that names `reason`, and nothing stored by it.
async function forbidden(send, reason) {
  const before = await xlen(redis);
  const res = await send();
  assert.equal(res.status, 403, res.body);
  assert.match(res.body, reason);
  assert.equal(await xlen(redis), before, 'nothing stored');
  return res;
}

describe('the name cookie proves who posts', () => {
  let web;
  before(async () => { web = await startApache({ redis: redis.addr }); });
  after(async () => { await web?.stop(); });

  test('the page gives a signed, HttpOnly, SameSite=Lax cookie that posts as its name',
    async () => {
      const page = await request('GET', `${web.base}home`);
      const c = nameCookie(page);
      assert.ok(c, 'Set-Cookie tw_name');
      const [name, mac] = c.value.split('.');
      assert.match(name, /^[A-Z][a-z]+[A-Z][a-z]+\d{1,3}$/);
      assert.match(mac, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(c.value, signName(name), 'signed with the server\'s secret');
      assert.ok(c.attrs.includes('HttpOnly') && c.attrs.includes('SameSite=Lax')
        && c.attrs.includes('Path=/'), c.raw);
      assert.ok(!c.attrs.includes('Secure'), 'not Secure over http');
      assert.equal(textById(page.body, 'whoami'), name);
      const res = await postRaw(web.base, { Cookie: `tw_name=${c.value}` }, { message: 'mine' });
      assert.equal(res.status, 201, res.body);
      const entry = (await xrange(redis)).find((e) => e.id === JSON.parse(res.body).id);
      assert.equal(entry.u, name, 'the cookie\'s name is the author');
    });

  test('no cookie: 403 that says to load the page first, in every format', async () => {
    await forbidden(() => postRaw(web.base, {}, { username: 'victim', message: 'x' }),
      /"error":"load the feed page first/);
    await forbidden(() => request('POST', `${web.base}home`,
      { headers: { ...FORM_CT, 'HX-Request': 'true' }, body: 'message=x' }), /load the feed page/);
    await forbidden(() => request('POST', `${web.base}home`, { headers: FORM_CT,
      body: 'message=x' }), /load the feed page/);
  });

  test('an unsigned, forged or foreign cookie proves nothing', async () => {
    const forged = signName('Victim1').replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'));
    const foreign = signName('Victim1', crypto.randomBytes(48).toString('base64'));
    const someoneElse = signName('Mallory1').replace(/^Mallory1/, 'Victim1');
    for (const cookie of ['tw_name=Victim1', `tw_name=${forged}`, `tw_name=${foreign}`,
      `tw_name=${someoneElse}`, `tw_name=${signName('Victim1')}x`]) {
      await forbidden(() => postRaw(web.base, { Cookie: cookie }, { message: 'as the victim' }),
        /load the feed page first/);
    }
    const page = await request('GET', `${web.base}home`, { headers: { Cookie: 'tw_name=Victim1' } });
    assert.notEqual(textById(page.body, 'whoami'), 'Victim1', 'the page does not believe it');
    assert.ok(nameCookie(page), 'and gives a name of its own');
  });

  test('a body username other than the cookie\'s: 403 naming both', async () => {
    for (const kind of ['json', 'form', 'htmx']) {
      await forbidden(() => post(web.base, { username: 'victim', message: 'impostor' }, kind,
        { Cookie: cookieFor('mallory') }), /you post as mallory, not as victim/);
    }
    const own = await post(web.base, { username: 'mallory', message: 'as myself' }, 'json',
      { Cookie: cookieFor('mallory') });
    assert.equal(own.status, 201, 'the same name in the body is fine');
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('the cookie over https, behind a trusted proxy, and through a secret rotation', () => {
  let web;
  let tls;
  let rotated;
  const dir = tempDir('secrets');
  const older = path.join(dir, 'older');
  const newer = path.join(dir, 'newer');
  before(async () => {
    fs.writeFileSync(older, crypto.randomBytes(48).toString('base64'), { mode: 0o600 });
    fs.writeFileSync(newer, crypto.randomBytes(48).toString('base64'), { mode: 0o600 });
    web = await startApache({ redis: redis.addr, extraConf: 'TweetsseTrustedProxy 127.0.0.1' });
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    await execFileAsync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
      '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert]);
    tls = await startApache({ redis: redis.addr, tls: true, extraConf: [
      'LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so',
      'LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so',
      'SSLEngine on', `SSLCertificateFile ${cert}`, `SSLCertificateKeyFile ${key}`,
    ].join('\n') });
    rotated = await startApache({ redis: redis.addr,
      extraConf: `TweetsseSecretFile ${newer} ${older}` });
  });
  after(async () => {
    await web?.stop();
    await tls?.stop();
    await rotated?.stop();
  });

  test('Secure over TLS, and when a trusted proxy says X-Forwarded-Proto: https', async () => {
    assert.ok(nameCookie(await request('GET', `${tls.base}home`)).attrs.includes('Secure'));
    const proxied = await request('GET', `${web.base}home`,
      { headers: { 'X-Forwarded-Proto': 'https' } });
    assert.ok(nameCookie(proxied).attrs.includes('Secure'), 'from the trusted 127.0.0.1');
  });

  test('X-Forwarded-Proto from anyone else is not believed', async () => {
    const plain = await startApache({ redis: redis.addr });
    try {
      const res = await request('GET', `${plain.base}home`,
        { headers: { 'X-Forwarded-Proto': 'https' } });
      assert.ok(!nameCookie(res).attrs.includes('Secure'));
      // Nor its X-Forwarded-Host for the origin check.
      const post2 = await post(plain.base, { message: 'x' }, 'json',
        { Origin: 'http://evil.example', 'X-Forwarded-Host': 'evil.example' });
      assert.equal(post2.status, 403);
    } finally {
      await plain.stop();
    }
  });

  test('after a rotation the previous secret still posts, and the page re-signs the cookie',
    async () => {
      const old = `tw_name=${signName('Kept1', fs.readFileSync(older, 'utf8'))}`;
      const res = await postRaw(rotated.base, { Cookie: old }, { message: 'old cookie' });
      assert.equal(res.status, 201, res.body);
      const page = await request('GET', `${rotated.base}home`, { headers: { Cookie: old } });
      assert.equal(textById(page.body, 'whoami'), 'Kept1', 'the same name');
      const c = nameCookie(page);
      assert.equal(c?.value, signName('Kept1', fs.readFileSync(newer, 'utf8')),
        'signed again with the current secret');
      const unknown = `tw_name=${signName('Lost1')}`; // the suite's secret: not this server's
      await forbidden(() => postRaw(rotated.base, { Cookie: unknown }, { message: 'x' }),
        /load the feed page/);
    });
});

describe('no cross-site posts', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr, extraConf: 'TweetsseTrustedProxy 127.0.0.1' });
  });
  after(async () => { await web?.stop(); });

  test('Origin of another site, or Sec-Fetch-Site cross-site or same-site: 403', async () => {
    const host = new URL(web.base).host;
    for (const [headers, why] of [
      [{ Origin: 'http://evil.example' }, /Origin differs/],
      [{ Origin: `https://${host}` }, /Origin differs/],
      [{ Origin: 'null' }, /Origin differs/],
      [{ 'Sec-Fetch-Site': 'cross-site', Origin: `http://${host}` }, /cross-site/],
      [{ 'Sec-Fetch-Site': 'same-site' }, /cross-site/],
    ]) {
      for (const kind of ['form', 'json']) {
        await forbidden(() => post(web.base, { message: 'csrf' }, kind, headers), why);
      }
    }
  });

  test('the page\'s own origin, a typed request and non-browser clients pass', async () => {
    const host = new URL(web.base).host;
    for (const headers of [{ Origin: `http://${host}` }, { 'Sec-Fetch-Site': 'same-origin' },
      { 'Sec-Fetch-Site': 'none' }, {}]) {
      const res = await post(web.base, { message: 'fine' }, 'form', headers);
      assert.equal(res.status, 303, JSON.stringify(headers));
    }
  });

  test('behind a trusted proxy the forwarded host is the origin\'s', async () => {
    const res = await post(web.base, { message: 'proxied' }, 'json',
      { Origin: 'https://feed.example', 'X-Forwarded-Host': 'feed.example',
        'X-Forwarded-Proto': 'https' });
    assert.equal(res.status, 201, res.body);
    await forbidden(() => post(web.base, { message: 'x' }, 'json',
      { Origin: `http://${new URL(web.base).host}`, 'X-Forwarded-Host': 'feed.example' }),
    /Origin differs/);
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});

describe('identity from Apache (TweetsseIdentity remote-user, mod_auth_basic)', () => {
  let web;
  before(async () => {
    const dir = tempDir('auth');
    const users = path.join(dir, 'users');
    await execFileAsync('htpasswd', ['-cbB', users, 'alice', 'wonder']);
    await execFileAsync('htpasswd', ['-bB', users, 'bob', 'builder']);
    await execFileAsync('htpasswd', ['-bB', users, 'carol.smith', 'dots']);
    fs.chmodSync(users, 0o644);
    web = await startApache({ redis: redis.addr, extraConf: [
      'LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so',
      'LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so',
      'LoadModule authn_file_module /usr/lib/apache2/modules/mod_authn_file.so',
      'LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so',
      'TweetsseIdentity remote-user',
      '<Location />',
      '  AuthType Basic',
      '  AuthName feed',
      `  AuthBasicProvider file`,
      `  AuthUserFile ${users}`,
      '  Require valid-user',
      '</Location>',
    ].join('\n') });
  });
  after(async () => { await web?.stop(); });

  const basic = (u, p) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

  test('the page shows the signed-in user, and sets no cookie', async () => {
    const anon = await request('GET', `${web.base}home`);
    assert.equal(anon.status, 401, 'the Location\'s Require');
    const alice = await request('GET', `${web.base}home`, { headers: basic('alice', 'wonder') });
    assert.equal(alice.status, 200);
    assert.equal(textById(alice.body, 'whoami'), 'alice');
    assert.equal(nameCookie(alice), undefined, 'no name cookie with Apache\'s identity');
  });

  test('the author is r->user: 401 without credentials, 403 posing as another', async () => {
    const before = await xlen(redis);
    const anon = await postRaw(web.base, {}, { message: 'anonymous' });
    assert.equal(anon.status, 401, 'Apache\'s Require asks for credentials');
    const wrong = await postRaw(web.base, basic('alice', 'nope'), { message: 'bad password' });
    assert.equal(wrong.status, 401);
    assert.equal(await xlen(redis), before);
    const res = await postRaw(web.base, basic('alice', 'wonder'), { message: 'from alice' });
    assert.equal(res.status, 201, res.body);
    assert.equal((await xrange(redis)).find((e) => e.id === JSON.parse(res.body).id).u, 'alice');
    await forbidden(() => postRaw(web.base, basic('bob', 'builder'),
      { username: 'alice', message: 'as alice' }), /you post as bob, not as alice/);
    // A signed cookie means nothing here.
    await forbidden(() => postRaw(web.base, { ...basic('bob', 'builder'), Cookie: cookieFor('alice') },
      { username: 'alice', message: 'cookie' }), /you post as bob/);
    await forbidden(() => postRaw(web.base, basic('carol.smith', 'dots'), { message: 'x' }),
      /cannot be shown as an author/);
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines([/AH01617: user alice: authentication failure/]), []);
  });
});
