// Test harness: a real redis-server and real Apache instances (the module from the build
// tree), each on private ports in a private directory, plus small HTTP and SSE clients.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A directory that Apache's children (www-data when run as root) can read.
export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tweetsse-${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

// SIGTERM the server process held in owner.proc (if any) and wait until it has exited.
async function stopProc(owner) {
  if (!owner.proc) return;
  const p = owner.proc;
  owner.proc = null;
  p.kill('SIGTERM');
  await exited(p);
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

// redis-server on a private port, AOF on, data in its own directory (kept across restart()).
export async function startRedis() {
  const dir = tempDir('redis');
  const port = await freePort();
  const r = {
    dir,
    port,
    addr: `127.0.0.1:${port}`,
    proc: null,
    async start() {
      this.proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
        '--dir', dir, '--appendonly', 'yes', '--save', '', '--logfile', path.join(dir, 'redis.log')],
        { stdio: 'ignore' });
      await waitFor(() => this.cli('PING') === 'PONG', 10000, 'redis-server');
    },
    cli(...args) {
      const res = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
      return res.stdout.trim();
    },
    stop() { return stopProc(this); },
  };
  await r.start();
  return r;
}

// An Apache instance with the module. Options: redis (address), mpm, mount, keepalive,
// history, logLevel, extraConf (appended to the config), nofile (open-files limit), tls
// (the config makes the port TLS: base is https://).
export async function startApache(opts) {
  const dir = tempDir('httpd');
  const port = opts.port ?? (await freePort());
  fs.mkdirSync(path.join(dir, 'htdocs'));
  fs.cpSync(path.join(TOP, 'htdocs/lib'), path.join(dir, 'htdocs/lib'), { recursive: true });
  const env = {
    ...process.env, RUNDIR: dir, PORT: String(port), REDIS: opts.redis,
    MPM: opts.mpm ?? 'event', MOUNT: opts.mount ?? '/', KEEPALIVE: String(opts.keepalive ?? 15),
    HISTORY: String(opts.history ?? 1000), LOGLEVEL: opts.logLevel ?? 'warn',
  };
  const conf = spawnSync('bash', [path.join(TOP, 'scripts/apache-conf.sh')], { env, encoding: 'utf8' });
  if (conf.status !== 0) throw new Error(`apache-conf.sh: ${conf.stderr}`);
  let text = conf.stdout + (opts.extraConf ? `\n${opts.extraConf}\n` : '');
  fs.writeFileSync(path.join(dir, 'httpd.conf'), text);
  const a = {
    dir,
    port,
    mount: opts.mount ?? '/',
    base: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}${opts.mount ?? '/'}`,
    proc: null,
    async start() {
      // In its own process group: with -DFOREGROUND apache2 does not detach, and prefork
      // signals its whole group (SIGTERM on stop, SIGUSR1 on graceful), which would hit the
      // test runner too.
      const argv = ['/usr/sbin/apache2', '-f', path.join(dir, 'httpd.conf'), '-DFOREGROUND'];
      this.proc = opts.nofile
        ? spawn('prlimit', [`--nofile=${opts.nofile}`, '--', ...argv],
          { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
        : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      this.proc.stderr.on('data', (d) => { stderr += d; });
      const p = this.proc;
      await waitFor(async () => {
        if (p.exitCode !== null) throw new Error(`apache2 exited: ${stderr}`);
        const res = await request('GET', this.base);
        return res.status === 200 || res.status === 503;
      }, 15000, 'apache2');
    },
    stop() { return stopProc(this); },
    // Graceful restart: children finish, new ones start; the listener stays.
    graceful() {
      this.proc.kill('SIGUSR1');
    },
    errorLog() {
      try { return fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { return ''; }
    },
    // Lines at error level or worse, except those matching an allowed pattern.
    badLogLines(allowed = []) {
      return this.errorLog().split('\n').filter((l) => /:(error|crit|alert|emerg)\]/.test(l))
        .filter((l) => !allowed.some((re) => re.test(l)));
    },
    // pids of the children (not the parent).
    childPids() {
      const parent = this.proc?.pid;
      const out = spawnSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' }).stdout;
      return out.split('\n').filter(Boolean).map(Number);
    },
  };
  await a.start();
  return a;
}

// http or https (self-signed certificates of the test servers accepted) by the URL.
const client = (url) => (url.startsWith('https:') ? https : http);

// One HTTP request without connection reuse. Resolves {status, headers, body}.
export function request(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = client(url).request(url, { method, headers, agent: false,
      rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// POST a post. kind: 'form' (plain form), 'htmx' (form with HX-Request), 'json'.
export function post(base, fields, kind = 'json') {
  if (kind === 'json') {
    return request('POST', `${base}home`, { headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(fields) });
  }
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (kind === 'htmx') headers['HX-Request'] = 'true';
  return request('POST', `${base}home`, { headers, body: new URLSearchParams(fields).toString() });
}

// Parse an event-stream incrementally (WHATWG rules, enough for these tests).
export class SseParser {
  constructor(onEvent) {
    this.buf = '';
    this.onEvent = onEvent;
    this.reset();
  }
  reset() { this.ev = { id: undefined, event: 'message', data: [] }; }
  feed(text) {
    this.buf += text;
    let i;
    while ((i = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + (this.buf.startsWith('\r\n', i) ? 2 : 1));
      this.line(line);
    }
  }
  line(line) {
    if (line === '') {
      if (this.ev.data.length || this.ev.event !== 'message') {
        this.onEvent({ id: this.ev.id, event: this.ev.event, data: this.ev.data.join('\n') });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) { this.onEvent({ comment: line.slice(1).trim() }); return; }
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.ev.data.push(value);
    else if (field === 'id') this.ev.id = value;
    else if (field === 'event') this.ev.event = value;
    else if (field === 'retry') this.onEvent({ retry: Number(value) });
  }
}

// An open SSE connection. events: post/reload events; comments, retries recorded too.
export function openStream(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const s = { events: [], comments: [], retries: [], ended: false, status: 0, headers: {},
      waiters: [] };
    const parser = new SseParser((e) => {
      if (e.comment !== undefined) s.comments.push(e.comment);
      else if (e.retry !== undefined) s.retries.push(e.retry);
      else s.events.push(e);
      s.waiters = s.waiters.filter((w) => !w());
    });
    const req = client(url).get(url, { headers: { Accept: 'text/event-stream', ...headers },
      agent: false, rejectUnauthorized: false },
      (res) => {
        s.status = res.statusCode;
        s.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (d) => parser.feed(d));
        res.on('end', () => { s.ended = true; s.waiters = s.waiters.filter((w) => !w()); });
        res.on('error', () => { s.ended = true; });
        resolve(s);
      });
    req.on('error', reject);
    s.close = () => req.destroy();
    s.posts = () => s.events.filter((e) => e.event === 'post');
    // Resolve when pred(s) holds; reject after timeoutMs.
    s.until = (pred, timeoutMs = 5000, what = 'condition') => new Promise((res, rej) => {
      if (pred(s)) { res(s); return; }
      const t = setTimeout(() => rej(new Error(`stream: timed out waiting for ${what}; got ` +
        `${s.posts().length} posts, ended=${s.ended}`)), timeoutMs);
      s.waiters.push(() => { if (pred(s)) { clearTimeout(t); res(s); return true; } return false; });
    });
  });
}
