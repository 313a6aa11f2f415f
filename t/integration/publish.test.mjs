// Posting: the three request formats, every refusal (and that a refusal stores nothing),
// size limits, text rules (Unicode blanks, bidi controls), and escaping of what visitors write.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cookieFor, identityFor, openStream, post, request, startApache, startRedis }
  from '../lib/harness.mjs';
import { cards, xlen, xrange } from '../lib/helpers.mjs';

let redis, web, small;
before(async () => {
  redis = await startRedis();
  web = await startApache({ redis: redis.addr });
});
after(async () => {
  await small?.stop();
  await web?.stop();
  await redis?.stop();
});

const JSON_CT = { 'Content-Type': 'application/json' };
const FORM_CT = { 'Content-Type': 'application/x-www-form-urlencoded' };

// POST raw bytes (string or Buffer) to base/home, as the visitor `as` (its signed cookie).
function raw(base, headers, body, as = 'a') {
  return request('POST', `${base}home`, { headers: { Cookie: cookieFor(as), ...headers }, body });
}

// The stored entry of an id.
async function stored(id) {
  return (await xrange(redis)).find((e) => e.id === id);
}

// A refused request: the status, the body in the request's format, and nothing stored.
async function refused(send, status, { format, reason, base = web.base } = {}) {
  const before = await xlen(redis);
  const res = await send();
  assert.equal(res.status, status, `status (body: ${res.body})`);
  if (format === 'json') {
    assert.match(res.headers['content-type'], /^application\/json/);
    const body = JSON.parse(res.body);
    assert.deepEqual(Object.keys(body), ['error']);
    assert.equal(typeof body.error, 'string');
    assert.ok(body.error.length > 0);
    if (reason) assert.match(body.error, reason);
  } else if (format === 'htmx') {
    assert.match(res.headers['content-type'], /^text\/plain/);
    if (reason) assert.match(res.body, reason);
  } else if (format === 'form') {
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.body, /<h1 class="tw-h1">[^<]+<\/h1><p>[^<]+<\/p>/);
    assert.ok(res.body.includes('<a href="home">Back to the feed</a>'));
    if (reason) assert.match(res.body, reason);
  }
  assert.equal(await xlen(redis), before, `nothing stored (base ${base})`);
  return res;
}

describe('accepted posts', () => {
  test('JSON: 201 {"id"} and the post is in the Redis stream', async () => {
    const t0 = Date.now();
    const res = await post(web.base, { username: 'alice', message: 'hello world' });
    assert.equal(res.status, 201);
    assert.match(res.headers['content-type'], /^application\/json/);
    const body = JSON.parse(res.body);
    assert.deepEqual(Object.keys(body), ['id']);
    assert.match(body.id, /^\d+-\d+$/);
    const ms = Number(body.id.split('-')[0]);
    assert.ok(Math.abs(ms - t0) < 60000, 'the id is a current timestamp');
    assert.equal(res.headers['x-post-id'], body.id);
    assert.deepEqual(await stored(body.id), { id: body.id, u: 'alice', m: 'hello world',
      a: `c:${identityFor('alice')}` });
  });

  test('JSON media type parameters and case are accepted; extra fields ignored', async () => {
    const types = ['application/json; charset=utf-8', 'Application/JSON',
      'application/json;charset=UTF-8'];
    for (const ct of types) {
      const res = await raw(web.base, { 'Content-Type': ct },
        JSON.stringify({ username: 'bob', message: `typed ${ct}`, extra: [1, 2] }), 'bob');
      assert.equal(res.status, 201, ct);
      assert.equal((await stored(JSON.parse(res.body).id)).m, `typed ${ct}`);
    }
  });

  test('form with HX-Request: 204 and no body', async () => {
    const before = await xlen(redis);
    const res = await post(web.base, { username: 'carol', message: 'from htmx' }, 'htmx');
    assert.equal(res.status, 204);
    assert.equal(res.body, '');
    assert.equal(await xlen(redis), before + 1);
    assert.deepEqual(await stored(res.headers['x-post-id']),
      { id: res.headers['x-post-id'], u: 'carol', m: 'from htmx', a: `c:${identityFor('carol')}` });
  });

  test('plain form: 303 See Other back to home', async () => {
    const before = await xlen(redis);
    const res = await post(web.base, { username: 'dave', message: 'from a form' }, 'form');
    assert.equal(res.status, 303);
    assert.match(res.headers.location, /home$/);
    assert.equal(res.headers.location, '/home');
    assert.equal(await xlen(redis), before + 1);
    const last = (await xrange(redis)).at(-1);
    assert.equal(last.u, 'dave');
    assert.equal(last.m, 'from a form');
  });

  test('form fields in any order, with other fields and "+" for spaces', async () => {
    const res = await raw(web.base,
      { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8', 'HX-Request': 'true' },
      'x=1&message=a+b%20c%26d%3D&username=erin&y', 'erin');
    assert.equal(res.status, 204);
    assert.equal((await stored(res.headers['x-post-id'])).m, 'a b c&d=');
  });

  test('280 characters are accepted, counted in code points, not bytes', async () => {
    for (const ch of ['x', 'é', '€', '😀']) {
      const msg = ch.repeat(280);
      const res = await post(web.base, { username: 'long', message: msg });
      assert.equal(res.status, 201, `280 x ${ch} (${Buffer.byteLength(msg)} bytes)`);
      assert.equal((await stored(JSON.parse(res.body).id)).m, msg);
    }
    const form = await post(web.base, { username: 'long', message: '€'.repeat(280) }, 'htmx');
    assert.equal(form.status, 204);
  });

  test('Unicode blanks around a message are trimmed, those inside it kept', async () => {
    const message = '\u00a0\u200b\u3000 hi\u00a0there \u200d\ufeff\u2029';
    for (const format of ['json', 'htmx']) {
      const res = await post(web.base, { username: 'uni', message }, format);
      const id = format === 'json' ? JSON.parse(res.body).id : res.headers['x-post-id'];
      assert.equal((await stored(id)).m, 'hi\u00a0there', format);
    }
  });

  test('CRLF and CR become LF; the message is trimmed', async () => {
    const message = '  \r\n\tone\r\ntwo\rthree\n\n four  \r\n ';
    const res = await post(web.base, { username: 'nl', message }, 'htmx');
    assert.equal(res.status, 204);
    assert.equal((await stored(res.headers['x-post-id'])).m, 'one\ntwo\nthree\n\n four');
    const j = await post(web.base, { username: 'nl', message: 'a\r\nb' });
    assert.equal((await stored(JSON.parse(j.body).id)).m, 'a\nb');
  });

  test('a body of exactly 8 KiB is accepted', async () => {
    const base = JSON.stringify({ username: 'pad', message: 'padded' });
    const body = base.slice(0, -1) + ' '.repeat(8192 - base.length) + '}';
    assert.equal(Buffer.byteLength(body), 8192);
    const res = await raw(web.base, { ...JSON_CT, 'Content-Length': '8192' }, body, 'pad');
    assert.equal(res.status, 201);
    const chunked = await raw(web.base, JSON_CT, body, 'pad');
    assert.equal(chunked.status, 201);
  });
});

describe('refused posts store nothing', () => {
  test('415 for other or missing media types', async () => {
    await refused(() => raw(web.base, { 'Content-Type': 'text/plain' }, 'username=a&message=b'),
      415, { format: 'form', reason: /application\/x-www-form-urlencoded/ });
    await refused(() => raw(web.base, {}, 'username=a&message=b'), 415, { format: 'form' });
    await refused(() => raw(web.base, { 'Content-Type': 'multipart/form-data; boundary=x' }, '--x--'),
      415, { format: 'form' });
    await refused(() => raw(web.base, { 'Content-Type': 'text/plain', 'HX-Request': 'true' }, 'x'),
      415, { format: 'htmx', reason: /application\/json/ });
    await refused(() => raw(web.base, { 'Content-Type': 'application/jsonx' }, '{}'), 415);
  });

  test('413 for a body over 8 KiB, with or without Content-Length', async () => {
    const body = JSON.stringify({ username: 'big', message: 'x' }) + ' '.repeat(8192);
    const length = String(Buffer.byteLength(body));
    await refused(() => raw(web.base, { ...JSON_CT, 'Content-Length': length }, body),
      413, { format: 'json', reason: /8192 bytes/ });
    await refused(() => raw(web.base, JSON_CT, body), 413, { format: 'json', reason: /8192/ });
    const form = `username=big&message=${'x'.repeat(8200)}`;
    await refused(() => raw(web.base, FORM_CT, form), 413, { format: 'form', reason: /8192 bytes/ });
    await refused(() => raw(web.base, { ...FORM_CT, 'HX-Request': 'true' }, form), 413,
      { format: 'htmx', reason: /larger than 8192 bytes/ });
    const exact = JSON.stringify({ username: 'pad', message: 'padded' });
    const over = exact.slice(0, -1) + ' '.repeat(8193 - exact.length) + '}';
    await refused(() => raw(web.base, JSON_CT, over), 413, { format: 'json' });
    // A large body announced up front is refused, and the server stays healthy.
    const huge = 'x'.repeat(256 * 1024);
    await refused(() => raw(web.base, { ...JSON_CT, 'Content-Length': String(huge.length) }, huge),
      413, { format: 'json' });
    assert.equal((await post(web.base, { username: 'after', message: 'still fine' })).status, 201);
  });

  test('TweetsseMaxBody sets the limit', async () => {
    small = await startApache({ redis: redis.addr, extraConf: 'TweetsseMaxBody 512' });
    const base = JSON.stringify({ username: 'pad', message: 'small limit' });
    const at = base.slice(0, -1) + ' '.repeat(512 - base.length) + '}';
    const over = base.slice(0, -1) + ' '.repeat(513 - base.length) + '}';
    assert.equal((await raw(small.base, JSON_CT, at, 'pad')).status, 201);
    await refused(() => raw(small.base, JSON_CT, over), 413,
      { format: 'json', reason: /512 bytes/, base: small.base });
    await refused(() => raw(small.base, FORM_CT, `username=a&message=${'y'.repeat(600)}`), 413,
      { format: 'form', base: small.base });
    assert.deepEqual(small.badLogLines(), []);
  });

  test('a message over TweetsseMaxMessageLength is refused with that limit', async () => {
    const json = JSON.stringify({ username: 'pad', message: 'x'.repeat(281) });
    await refused(() => raw(web.base, JSON_CT, json), 400,
      { format: 'json', reason: /^message is too long: at most 280 characters$/ });
    const longer = await startApache({ redis: redis.addr, extraConf: 'TweetsseMaxMessageLength 12' });
    try {
      assert.equal((await post(longer.base, { username: 'pad', message: 'twelve chars' })).status,
        201);
      await refused(() => raw(longer.base, FORM_CT, 'message=thirteen+char'), 400,
        { format: 'form', reason: /at most 12 characters/, base: longer.base });
    } finally {
      await longer.stop();
    }
  });

  const JSON_BAD = [
    ['not JSON', '{"username": "a", "message": ', /not valid JSON/],
    ['a JSON array', '[{"username":"a","message":"b"}]', /object/],
    ['a JSON string', '"hello"', /JSON/],
    ['empty body', '', /JSON/],
    ['missing message', '{"username":"a"}', /message is missing/],
    ['number username', '{"username":7,"message":"hi"}', /username must be a string/],
    ['null message', '{"username":"a","message":null}', /message must be a string/],
    ['duplicate key', '{"username":"a","message":"x","message":"y"}', /JSON/],
    ['empty message', '{"username":"a","message":""}', /empty/],
    ['whitespace-only message', '{"username":"a","message":" \\n\\r\\n\\t  "}', /empty/],
    ['281 characters', JSON.stringify({ username: 'a', message: 'x'.repeat(281) }),
      /message is too long: at most 280 characters/],
    ['281 multi-byte characters', JSON.stringify({ username: 'a', message: '😀'.repeat(281) }),
      /at most 280 characters/],
    ['empty username', '{"username":"","message":"hi"}', /username is empty/],
    ['33-character username', JSON.stringify({ username: 'u'.repeat(33), message: 'hi' }), /too long/],
    ['username with a space', '{"username":"a b","message":"hi"}', /letters, digits/],
    ['username with HTML', '{"username":"<b>x</b>","message":"hi"}', /letters, digits/],
    ['username with a quote', '{"username":"a\\"b","message":"hi"}', /letters, digits/],
    ['non-ASCII username', '{"username":"jos\u00e9","message":"hi"}', /letters, digits/],
    ['control character U+0001', '{"username":"a","message":"bell\\u0001"}', /control/],
    ['control character U+001B', '{"username":"a","message":"esc\\u001b[31m"}', /control/],
    ['DEL', '{"username":"a","message":"del\\u007f"}', /control/],
    ['C1 control U+0085', '{"username":"a","message":"nel\\u0085x"}', /control/],
    ['NUL', '{"username":"a","message":"nul\\u0000x"}', /NUL|JSON/],
  ];
  for (const [what, body, reason] of JSON_BAD) {
    test(`400 for JSON with ${what}`, async () => {
      await refused(() => raw(web.base, JSON_CT, body), 400, { format: 'json', reason });
    });
  }

  test('400 for JSON with invalid UTF-8 bytes', async () => {
    const bytes = (...parts) => Buffer.concat(parts.map((p) => Buffer.from(p)));
    const bodies = [
      bytes('{"username":"a","message":"', [0xc3, 0x28], '"}'), // bad continuation
      bytes('{"username":"a","message":"', [0xed, 0xa0, 0x80], '"}'), // a UTF-16 surrogate
      bytes('{"username":"a","message":"', [0xff], '"}'), // never valid
      bytes('{"username":"', [0xe9], '","message":"x"}'), // Latin-1 in the username
    ];
    for (const b of bodies) await refused(() => raw(web.base, JSON_CT, b), 400, { format: 'json' });
  });

  const FORM_BAD = [
    ['missing message', 'username=a', /message is missing/],
    ['empty message', 'username=a&message=', /empty/],
    ['whitespace-only message', 'username=a&message=+%20%0D%0A%09', /empty/],
    ['invalid UTF-8 (%C3%28)', 'username=a&message=%C3%28', /UTF-8/],
    ['a lone continuation byte', 'username=a&message=x%80y', /UTF-8/],
    ['an overlong encoding', 'username=a&message=%C0%AF', /UTF-8/],
    ['a bad percent-escape', 'username=a&message=100%zz', /percent-escape/],
    ['a truncated percent-escape', 'username=a&message=50%', /percent-escape/],
    ['an escaped NUL', 'username=a&message=x%00y', /percent-escape|NUL/],
    ['a control character', 'username=a&message=x%07y', /control/],
    ['281 characters', `username=a&message=${'x'.repeat(281)}`,
      /message is too long: at most 280 characters/],
    ['281 multi-byte characters', `username=a&message=${encodeURIComponent('é'.repeat(281))}`,
      /at most 280 characters/],
    ['username given twice', 'username=a&username=b&message=hi', /twice/],
    ['message given twice', 'username=a&message=hi&message=ho', /twice/],
    ['username too long', `username=${'u'.repeat(33)}&message=hi`, /too long/],
    ['username with HTML', 'username=%3Cscript%3E&message=hi', /letters, digits/],
    ['username with a space', 'username=a+b&message=hi', /letters, digits/],
  ];
  for (const [what, body, reason] of FORM_BAD) {
    test(`400 for a form with ${what}`, async () => {
      await refused(() => raw(web.base, FORM_CT, body), 400, { format: 'form', reason });
      await refused(() => raw(web.base, { ...FORM_CT, 'HX-Request': 'true' }, body), 400,
        { format: 'htmx', reason });
    });
  }

  const UNICODE_BAD = [
    ['only no-break spaces', '\u00a0\u00a0', /empty/],
    ['only a zero-width space', '\u200b', /empty/],
    ['only Unicode blanks', '\u3000\u2003\ufeff\u2060\u200c \n\u00a0', /empty/],
    ['a right-to-left override', 'txt.\u202eexe.doc', /bidirectional/],
    ['an isolate', 'a\u2066b\u2069', /bidirectional/],
    ['a right-to-left mark alone', '\u200f', /bidirectional/],
  ];
  for (const [what, message, reason] of UNICODE_BAD) {
    test(`400 for a message of ${what}, in every format`, async () => {
      for (const format of ['json', 'htmx', 'form']) {
        await refused(() => post(web.base, { username: 'uni', message }, format), 400,
          { format, reason });
      }
    });
  }

  test('400 for a form with a raw NUL byte', async () => {
    const b = Buffer.concat([Buffer.from('username=a&message=x'), Buffer.from([0]), Buffer.from('y')]);
    await refused(() => raw(web.base, FORM_CT, b), 400, { format: 'form', reason: /NUL/ });
  });
});

describe('escaping', () => {
  const NASTY = [
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;', '<script>alert'],
    ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;', '<img src=x'],
    ['"><svg onload=alert(1)>', '&quot;&gt;&lt;svg onload=alert(1)&gt;', '<svg onload'],
    ["it's & </p><p>", 'it&#39;s &amp; &lt;/p&gt;&lt;p&gt;', '</p><p>'],
  ];

  test('HTML in messages is escaped on the page and in live events', async () => {
    const s = await openStream(`${web.base}home/sse`);
    try {
      await s.until((x) => x.retries.length > 0, 5000, 'retry line');
      const ids = [];
      for (const [msg] of NASTY) {
        const res = await post(web.base, { username: 'mallory', message: msg });
        assert.equal(res.status, 201);
        ids.push(JSON.parse(res.body).id);
        assert.equal((await stored(ids.at(-1))).m, msg, 'stored as written');
      }
      await s.until((x) => x.posts().length >= NASTY.length, 5000, 'the posts');
      const page = (await request('GET', web.base)).body;
      const onPage = cards(page);
      NASTY.forEach(([, escaped, rawTag], i) => {
        const ev = s.posts().find((e) => e.id === ids[i]);
        assert.ok(ev, `event ${ids[i]}`);
        const card = onPage.find((c) => c.id === ids[i]);
        assert.ok(card, `card ${ids[i]} on the page`);
        for (const [where, html] of [['event', ev.data], ['page', card.html]]) {
          assert.ok(html.includes(`<p class="tw-msg">${escaped}</p>`), `${where}: ${html}`);
          assert.ok(!html.includes(rawTag), `${where} holds the raw ${rawTag}`);
        }
      });
      assert.ok(!page.includes('<script>alert'));
      assert.ok(!page.includes('<img src=x'));
    } finally {
      s.close();
    }
  });

  test('a username cannot carry HTML, Unicode blanks or bidi controls in any format', async () => {
    for (const u of ['<b>', 'a"onmouseover="x', "a'b", 'a&b', 'a>b', 'a\u202eb', '\u00a0bob']) {
      for (const format of ['json', 'htmx', 'form']) {
        // As the visitor "a": the body's name is checked before it is compared.
        await refused(() => post(web.base, { username: u, message: 'hi' }, format,
          { Cookie: cookieFor('a') }), 400, { format });
      }
    }
  });

  test('the error log is clean', () => {
    assert.deepEqual(web.badLogLines(), []);
  });
});
