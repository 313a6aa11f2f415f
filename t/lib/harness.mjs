// Test harness: a real redis-server and real Apache instances (the module from the build
// tree), each on private ports in a private directory, both started by scripts/server.sh,
// plus small HTTP and SSE clients. Waits are on events (a server's log line, a process
// exit, a connect); nothing here blocks the event loop.
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient } from 'redis';

export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER_SH = path.join(TOP, 'scripts/server.sh');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const execFileAsync = promisify(execFile);

// A directory that Apache's children (www-data when run as root) can read.
export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tweetsse-${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

// The secret that signs the name cookie, shared by every server these tests start (as a
// fleet shares one), so that a test can post as any name it likes: signName.
export const SECRET_FILE = path.join(tempDir('secret'), 'secret');
fs.writeFileSync(SECRET_FILE, `${crypto.randomBytes(48).toString('base64')}\n`, { mode: 0o600 });
const SECRET = fs.readFileSync(SECRET_FILE, 'utf8').trim();

// The identity a test gives `name` (src/tw_identity.h: 16 bytes in base64url): derived from
// the name, so that one name is one visitor across a test.
export const identityFor = (name) => crypto.createHash('sha256').update(`test:${name}`).digest()
  .subarray(0, 16).toString('base64url');

// The tag shown beside the name of identity `id` (src/tw_identity.h).
export function tagOf(id) {
  const h = crypto.createHash('sha256').update(`tweetsse-identity-v2:${id}`).digest();
  const alpha = '0123456789abcdefghjkmnpqrstvwxyz';
  let v = 0n;
  for (let i = 0; i < 5; i++) v = (v << 8n) | BigInt(h[i]);
  let tag = '';
  for (let i = 0; i < 8; i++) tag += alpha[Number((v >> BigInt(35 - 5 * i)) & 31n)];
  return tag;
}

// The marker of author `author` ("c:<identity>", "u:<user>") that cards carry in data-by and
// the viewer's stylesheet names (src/tw_identity.h: tw_identity_by).
export function byOf(author) {
  const h = crypto.createHash('sha256').update(`tweetsse-by-v1:${author}`).digest();
  const alpha = '0123456789abcdefghjkmnpqrstvwxyz';
  const v = h.readBigUInt64BE(0);
  let by = '';
  for (let i = 0; i < 12; i++) by += alpha[Number((v >> BigInt(59 - 5 * i)) & 31n)];
  return by + alpha[Number((v << 1n) & 31n)];
}

// The value of a tw_name cookie for `name` and identity `id`, signed as the module signs it
// (src/tw_sign.h).
export function signName(name, secret = SECRET, id = identityFor(name)) {
  const mac = crypto.createHmac('sha256', secret).update(`tweetsse-id-v2:${id}.${name}`)
    .digest('base64url');
  return `${name}.${id}.${mac}`;
}

// A value of the cookie's first version: a name, no identity.
export function signNameV1(name, secret = SECRET) {
  const mac = crypto.createHmac('sha256', secret).update(`tweetsse-name-v1:${name}`)
    .digest('base64url');
  return `${name}.${mac}`;
}

// A Cookie header that makes the visitor `name` (with the identity identityFor(name)).
export const cookieFor = (name) => `tw_name=${signName(name)}`;

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

// Settle with `promise`, or reject with "timed out waiting for <what>" after timeoutMs.
export function within(promise, timeoutMs, what) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

// A server's start-up wait: resolves with `ready`, or rejects as soon as the process exits
// first (once its piped output is read), with `what`, its status and output(). `abort`, if
// given, is told when the wait is over either way (to drop a log watch).
function startedOr(child, ready, what, output, abort) {
  let onClose;
  const exit = new Promise((_, reject) => {
    onClose = (code, signal) => reject(new Error(
      `${what} exited (${signal ?? `status ${code}`}): ${output().trim()}`));
    child.once('close', onClose);
  });
  exit.catch(() => {});
  ready.catch(() => {});
  return Promise.race([ready, exit]).finally(() => {
    child.off('close', onClose);
    abort?.abort();
  });
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

// Follow a file that servers append to (inotify through fs.watch): resolves with the first
// truthy value of check(lines), where lines are the complete lines written from byte offset
// `from` on. check runs at once and again after every change of the file.
// An AbortSignal in `signal` ends the wait (rejecting).
export function waitForLines(file, check,
  { from = 0, timeoutMs = 10000, what = 'a log line', signal } = {}) {
  fs.closeSync(fs.openSync(file, 'a')); // fs.watch needs the file to exist
  return new Promise((resolve, reject) => {
    let done = false;
    let running = false;
    let again = false;
    const finish = (err, v) => {
      if (done) return;
      done = true;
      watcher.close();
      clearTimeout(timer);
      if (err) reject(err); else resolve(v);
    };
    const run = async () => {
      if (running) { again = true; return; }
      running = true;
      try {
        do {
          again = false;
          const text = (await fs.promises.readFile(file)).subarray(from).toString('utf8');
          const lines = text.split('\n');
          lines.pop(); // the last one is still being written (or empty)
          const v = check(lines);
          if (v) { finish(null, v); return; }
        } while (again && !done);
      } catch (e) {
        finish(e);
      } finally {
        running = false;
      }
    };
    const watcher = fs.watch(file, () => { if (!done) run(); });
    watcher.on('error', (e) => finish(e));
    const timer = setTimeout(() => {
      finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what} in ${file}`));
    }, timeoutMs);
    signal?.addEventListener('abort', () => finish(new Error(`stopped waiting for ${what}`)),
      { once: true });
    run();
  });
}

// A password file for mod_auth_basic in a directory Apache's children can read, with `users`
// ({name: password}); and the modules that Basic authentication from such a file needs, as
// LoadModule lines for startApache's extraConf.
export async function htpasswdFile(users) {
  const file = path.join(tempDir('users'), 'users');
  let flags = '-cbB'; // the first one creates the file
  for (const [name, password] of Object.entries(users)) {
    await execFileAsync('htpasswd', [flags, file, name, password]);
    flags = '-bB';
  }
  fs.chmodSync(file, 0o644);
  return file;
}
export const BASIC_AUTH_MODULES = ['auth_basic', 'authn_core', 'authn_file', 'authz_user']
  .map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`);

// The pids of a process's living children, from /proc (zombies are gone already).
export async function childrenOf(ppid) {
  const names = (await fs.promises.readdir('/proc')).filter((n) => /^\d+$/.test(n));
  const kids = await Promise.all(names.map(async (n) => {
    try {
      const stat = await fs.promises.readFile(`/proc/${n}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(parent) === ppid && state !== 'Z' ? Number(n) : null;
    } catch {
      return null; // it just exited
    }
  }));
  return kids.filter((p) => p !== null).sort((a, b) => a - b);
}

// redis-server on a private port, AOF on, data in its own directory (kept across restart()),
// its log in DIR/redis.log. r.client is a connected node-redis client while it runs.
export async function startRedis() {
  const dir = tempDir('redis');
  const port = await freePort();
  const r = {
    dir,
    port,
    addr: `127.0.0.1:${port}`,
    proc: null,
    client: null,
    async start() {
      const proc = spawn('bash', [SERVER_SH, 'redis', path.join(dir, 'data'), String(port)],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = proc;
      const log = fs.createWriteStream(path.join(dir, 'redis.log'), { flags: 'a' });
      let out = '';
      let stderr = '';
      proc.stderr.on('data', (d) => { stderr += d; });
      const ready = new Promise((resolve) => {
        proc.stdout.on('data', (d) => {
          log.write(d);
          if (out !== null) {
            out += d;
            if (/Ready to accept connections/.test(out)) { out = null; resolve(); }
          }
        });
      });
      proc.stdout.on('end', () => log.end());
      await within(startedOr(proc, ready, 'redis-server', () => `${stderr}${out ?? ''}`),
        10000, 'redis-server to be ready');
      // No reconnecting: when the server goes, so does the client (stop() closes it first).
      const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
      client.on('error', () => {}); // failures surface as rejected commands
      await client.connect();
      this.client = client;
    },
    async stop() {
      const c = this.client;
      this.client = null;
      if (c) await c.close().catch(() => c.destroy());
      await stopProc(this);
    },
  };
  await r.start();
  return r;
}

// An Apache instance with the module. Options: redis (address), mpm, mount, keepalive,
// history, logLevel, extraConf (appended to the config), nofile (open-files limit), tls
// (the config makes the port TLS: base is https://); or conf, a function ({dir, port}) that
// returns a whole config of its own instead (its ErrorLog must be DIR/error.log).
export async function startApache(opts) {
  const dir = tempDir('httpd');
  const port = opts.port ?? (await freePort());
  fs.mkdirSync(path.join(dir, 'htdocs'));
  fs.cpSync(path.join(TOP, 'htdocs/lib'), path.join(dir, 'htdocs/lib'), { recursive: true });
  const text = opts.conf ? opts.conf({ dir, port }) : await apacheConf({ dir, port, ...opts });
  fs.writeFileSync(path.join(dir, 'httpd.conf'), text + (opts.extraConf ? `\n${opts.extraConf}\n` : ''));
  const logFile = path.join(dir, 'error.log');
  const logSize = () => { try { return fs.statSync(logFile).size; } catch { return 0; } };
  const a = {
    dir,
    port,
    mount: opts.mount ?? '/',
    base: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}${opts.mount ?? '/'}`,
    proc: null,
    async start() {
      const from = logSize();
      // In its own process group: with -DFOREGROUND apache2 does not detach, and prefork
      // signals its whole group (SIGTERM on stop, SIGUSR1 on graceful), which would hit the
      // test runner too.
      const env = opts.nofile ? { ...process.env, NOFILE: String(opts.nofile) } : process.env;
      const proc = spawn('bash', [SERVER_SH, 'apache', dir],
        { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env });
      this.proc = proc;
      let stderr = '';
      proc.stderr.on('data', (d) => { stderr += d; });
      // The parent logs this notice once its listener is open and it starts the children;
      // the first request then waits in the accept queue until a child takes it.
      const abort = new AbortController();
      const up = this.waitForLog((lines) => lines.some((l) => /resuming normal operations/.test(l)),
        { from, timeoutMs: 15000, what: 'apache2 to start', signal: abort.signal });
      await startedOr(proc, up, 'apache2',
        () => stderr + Buffer.from(this.errorLog()).subarray(from).toString(), abort);
      const res = await request('GET', this.base);
      // 401: up, behind an authentication the test configured.
      if (res.status !== 200 && res.status !== 503 && res.status !== 401) {
        throw new Error(`apache2: GET ${this.base}: ${res.status}`);
      }
    },
    stop() { return stopProc(this); },
    // Graceful restart: children finish, new ones start; the listener stays.
    graceful() {
      this.proc.kill('SIGUSR1');
    },
    errorLog() {
      try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; }
    },
    // The error log's size now: a mark for waitForLog({from}).
    logMark: logSize,
    // Resolves with the first truthy check(lines) over the error log's lines from `from` on.
    waitForLog(check, options = {}) {
      return waitForLines(logFile, check, options);
    },
    // Lines at error level or worse, except those matching an allowed pattern.
    badLogLines(allowed = []) {
      return this.errorLog().split('\n').filter((l) => /:(error|crit|alert|emerg)\]/.test(l))
        .filter((l) => !allowed.some((re) => re.test(l)));
    },
    // pids of the children (not the parent).
    childPids() {
      return this.proc ? childrenOf(this.proc.pid) : Promise.resolve([]);
    },
  };
  await a.start();
  return a;
}

// The private Apache config of scripts/server.sh for these options (see startApache), as
// text. dir and port are required; the tests default to the event MPM.
// The rate limits are off unless asked for (rateLimit, addressRateLimit: the directives'
// values): most tests post faster than a person.
export async function apacheConf({ dir, port, redis, mpm, mount, keepalive, history, logLevel,
  rateLimit, addressRateLimit }) {
  const env = {
    ...process.env, RUNDIR: dir, PORT: String(port), REDIS: redis,
    MPM: mpm ?? 'event', MOUNT: mount ?? '/', KEEPALIVE: String(keepalive ?? 15),
    HISTORY: String(history ?? 1000), LOGLEVEL: logLevel ?? 'warn', SECRET_FILE,
    RATE_LIMIT: rateLimit ?? 'off', ADDRESS_RATE_LIMIT: addressRateLimit ?? 'off',
    // A MIN_REPLICAS or EXTRA_CONF in the caller's environment (server.sh conf reads them)
    // stays out of these instances: extraConf is their way to add directives.
    MIN_REPLICAS: '', EXTRA_CONF: '',
  };
  const { stdout } = await execFileAsync('bash', [SERVER_SH, 'conf'], { env });
  return stdout;
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

// POST a post as fields.username ('tester' if absent), with that name's signed cookie.
// kind: 'form' (plain form), 'htmx' (form with HX-Request), 'json'. headers are added.
export function post(base, fields, kind = 'json', headers = {}) {
  const h = { Cookie: cookieFor(fields.username ?? 'tester'), ...headers };
  if (kind === 'json') {
    return request('POST', `${base}home`, { headers: { 'Content-Type': 'application/json', ...h },
      body: JSON.stringify(fields) });
  }
  h['Content-Type'] = 'application/x-www-form-urlencoded';
  if (kind === 'htmx') h['HX-Request'] = 'true';
  return request('POST', `${base}home`, { headers: h, body: new URLSearchParams(fields).toString() });
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

// An open SSE connection. events: the events of the log (post, delete, count) and reload;
// notes: the presence events (outside the log, no id: how many read the feed), apart so that
// a count of readers changing meanwhile does not disturb what a test expects of the log;
// comments, retries recorded too.
export function openStream(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const s = { events: [], notes: [], comments: [], retries: [], ended: false, status: 0,
      headers: {},
      waiters: [] };
    const parser = new SseParser((e) => {
      if (e.comment !== undefined) s.comments.push(e.comment);
      else if (e.retry !== undefined) s.retries.push(e.retry);
      else if (e.event === 'presence') s.notes.push(e);
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
