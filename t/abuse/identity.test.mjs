// Impersonation and cross-site posting, tried as an attacker would: the author of a post is
// the signed name cookie's (or Apache's authenticated user), never a body field; a POST from
// another site's page is refused; nothing refused is stored.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { cookieFor, identityFor, post, request, signName, signNameV1, startApache, startRedis,
  tagOf, tempDir, BASIC_AUTH_MODULES, htpasswdFile } from '../lib/harness.mjs';
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

  test('the page gives a signed, HttpOnly, SameSite=Lax cookie that posts as its identity',
    async () => {
      const page = await request('GET', `${web.base}home`);
      const c = nameCookie(page);
      assert.ok(c, 'Set-Cookie tw_name');
      const [name, id, mac] = c.value.split('.');
      assert.match(name, /^[A-Z][a-z]+[A-Z][a-z]+\d{1,3}$/);
      assert.match(id, /^[A-Za-z0-9_-]{21}[AQgw]$/, '128 bits in base64url');
      assert.match(mac, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(c.value, signName(name, undefined, id), 'signed with the server\'s secret');
      assert.ok(c.attrs.includes('HttpOnly') && c.attrs.includes('SameSite=Lax')
        && c.attrs.includes('Path=/'), c.raw);
      assert.ok(!c.attrs.includes('Secure'), 'not Secure over http');
      assert.equal(textById(page.body, 'whoami'), name);
      assert.ok(page.body.includes(`<span class="tw-tag">#${tagOf(id)}</span>`), 'and its tag');
      const res = await postRaw(web.base, { Cookie: `tw_name=${c.value}` }, { message: 'mine' });
      assert.equal(res.status, 201, res.body);
      const entry = (await xrange(redis)).find((e) => e.id === JSON.parse(res.body).id);
      assert.equal(entry.u, name, 'the cookie\'s name is shown');
      assert.equal(entry.a, `c:${id}`, 'the cookie\'s identity is the author');
      assert.equal(entry.t, undefined, 'its tag is derived, not stored');
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

describe('one visitor, one identity: names repeat, identities never', () => {
  let web;
  before(async () => {
    web = await startApache({ redis: redis.addr,
      extraConf: 'TweetsseRateLimit 2/60s burst=2\nTweetsseAddressRateLimit off' });
  });
  after(async () => { await web?.stop(); });

  // The cookies of `n` first visits (no cookie sent), `width` at a time over kept-alive
  // connections: [{name, id, value}].
  async function firstVisits(n, width = 32) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: width });
    const out = [];
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const res = await new Promise((resolve, reject) => {
          http.get(`${web.base}home`, { agent, method: 'HEAD' }, (r) => {
            r.resume();
            r.on('end', () => resolve(r));
          }).on('error', reject);
        });
        const c = nameCookie(res);
        assert.ok(c, `visit ${out.length}: a cookie`);
        out.push(c);
      }
    };
    await Promise.all(Array.from({ length: width }, worker));
    agent.destroy();
    return out;
  }

  test('100,000 first visits: 100,000 identities, and no name and tag shown twice', async (t) => {
    const started = performance.now();
    const visits = await firstVisits(100000);
    const ids = new Set(visits.map((c) => c.id));
    const shown = new Set(visits.map((c) => `${c.name}#${tagOf(c.id)}`));
    const names = new Set(visits.map((c) => c.name));
    t.diagnostic(`${visits.length} visits in ${((performance.now() - started) / 1000).toFixed(1)} s: `
      + `${ids.size} identities, ${names.size} distinct names, ${shown.size} distinct name#tag`);
    assert.equal(ids.size, 100000, 'every visit its own identity');
    assert.equal(shown.size, 100000, 'every identity its own name and tag');
    assert.ok(names.size < 100000, 'while names alone repeat (so the tag is needed)');
  });

  test('a farmed name is not the identity: same name, two visitors, two tags, two authors',
    async () => {
      // Farm first visits until two share a name, as a farmer would for a chosen victim.
      const seen = new Map();
      let pair = null;
      for (let round = 0; !pair && round < 20; round++) {
        for (const c of await firstVisits(2000)) {
          if (seen.has(c.name) && seen.get(c.name).id !== c.id) { pair = [seen.get(c.name), c]; break; }
          seen.set(c.name, c);
        }
      }
      assert.ok(pair, `two visitors with one name among ${seen.size}`);
      const [victim, farmed] = pair;
      assert.notEqual(tagOf(farmed.id), tagOf(victim.id), 'the tag tells them apart');
      const ids = [];
      for (const c of pair) {
        const res = await postRaw(web.base, { Cookie: `tw_name=${c.value}` }, { message: 'me' });
        assert.equal(res.status, 201, res.body);
        ids.push(JSON.parse(res.body).id);
      }
      const entries = (await xrange(redis)).filter((e) => ids.includes(e.id));
      assert.deepEqual(entries.map((e) => e.u), [victim.name, victim.name], 'the same name shown');
      assert.deepEqual(entries.map((e) => e.a), [`c:${victim.id}`, `c:${farmed.id}`],
        'but two authors');
      const page = await request('GET', `${web.base}home`);
      for (const c of pair) assert.ok(page.body.includes(`#${tagOf(c.id)}</span>`), 'each tag shown');
    });

  test('rate limits belong to the identity, not to the name', async () => {
    const a = `tw_name=${signName('Twin7', undefined, identityFor('twin-a'))}`;
    const b = `tw_name=${signName('Twin7', undefined, identityFor('twin-b'))}`;
    for (let i = 0; i < 2; i++) {
      assert.equal((await postRaw(web.base, { Cookie: a }, { message: `a ${i}` })).status, 201);
    }
    assert.equal((await postRaw(web.base, { Cookie: a }, { message: 'a 2' })).status, 429,
      'the first Twin7 is over its burst');
    assert.equal((await postRaw(web.base, { Cookie: b }, { message: 'b 0' })).status, 201,
      'the second Twin7 is not');
  });

  test('a cookie from before identities keeps its name and gets an identity', async () => {
    const old = `tw_name=${signNameV1('Veteran5')}`;
    const page = await request('GET', `${web.base}home`, { headers: { Cookie: old } });
    assert.equal(page.status, 200);
    assert.equal(textById(page.body, 'whoami'), 'Veteran5', 'the same name');
    const c = nameCookie(page);
    assert.equal(c?.name, 'Veteran5', 'signed again, with the name');
    assert.match(c.id, /^[A-Za-z0-9_-]{22}$/, 'and an identity');
    assert.equal(c.value, signName('Veteran5', undefined, c.id));
    // Posting with the old cookie also works, and upgrades it.
    const res = await postRaw(web.base, { Cookie: old }, { message: 'still here' });
    assert.equal(res.status, 201, res.body);
    const up = nameCookie(res);
    assert.equal(up?.name, 'Veteran5', 'the post upgrades the cookie');
    const entry = (await xrange(redis)).find((e) => e.id === JSON.parse(res.body).id);
    assert.equal(entry.a, `c:${up.id}`, 'and is stored as its new identity');
    // A post stored before identities shows its name without a tag.
    const legacy = await redis.client.xAdd('tweetsse:feed', '*', { u: 'Veteran5', m: 'from 2025' });
    const shown = await request('GET', `${web.base}home/post/${legacy}`);
    assert.equal(shown.status, 200);
    assert.ok(shown.body.includes('<strong class="tw-user">Veteran5</strong>'), 'no tag');
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
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
    const users = await htpasswdFile({ alice: 'wonder', bob: 'builder', 'carol.smith': 'dots' });
    web = await startApache({ redis: redis.addr, extraConf: [
      ...BASIC_AUTH_MODULES,
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
