// bench/latency.mjs: the latency of pages and posts as one client sees them: N GETs of the page
// and N JSON POSTs, alternating, one at a time, each given up to 120 s. Prints one JSON object:
// {"get": {n, failed, p50, p99, max}, "post": {...}} (milliseconds). The posts are made as the
// visitor the first page view names (its tw_name cookie, signed or, from older builds, plain).
//
//   node bench/latency.mjs BASE_URL [N]
import http from 'node:http';

const [base, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 50);

function once(method, url, body, headers = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request(url, { method, agent: false,
      headers: body ? { 'Content-Type': 'application/json', ...headers } : headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode < 400, ms: performance.now() - t0,
        cookie: /^tw_name=[^;]*/.exec(res.headers['set-cookie']?.[0] ?? '')?.[0] }));
    });
    req.setTimeout(120000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false, ms: performance.now() - t0 }));
    if (body) req.write(body);
    req.end();
  });
}

function summary(runs) {
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
  const at = (p) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)];
  const r1 = (x) => Math.round(x * 10) / 10;
  return { n: runs.length, failed: runs.filter((r) => !r.ok).length, p50: r1(at(50)),
    p99: r1(at(99)), max: r1(ms.at(-1)) };
}

const { cookie } = await once('GET', base);
if (!cookie) throw new Error(`no tw_name cookie from ${base}`);
const username = decodeURIComponent(cookie.slice('tw_name='.length)).replace(/\.[\w-]{43}$/, '');
const get = [];
const post = [];
for (let i = 0; i < n; i++) {
  get.push(await once('GET', base));
  post.push(await once('POST', `${base}home`,
    JSON.stringify({ username, message: `latency probe ${i}` }), { Cookie: cookie }));
}
console.log(JSON.stringify({ get: summary(get), post: summary(post) }));
