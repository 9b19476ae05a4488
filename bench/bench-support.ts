/**
 * Pieces of `npm run bench`: the server in a child process, RSS/CPU sampling from /proc, a small
 * keep-alive WebDAV client, and statistics.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../src/config/config.ts';
import { writeTestConfig } from '../test/support/test-instance.ts';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/**
 * Logs the free space under $TMPDIR (where the benches keep their data).
 * @throws Error when less than `needGiB` is free
 */
export function checkFreeSpace(needGiB: number, log: (s: string) => void, sizes: unknown): void {
  const free = statfsSync(tmpdir());
  const freeGiB = (free.bavail * free.bsize) / GiB;
  log(`free space in ${tmpdir()}: ${freeGiB.toFixed(1)} GiB; sizes: ${JSON.stringify(sizes)}`);
  if (freeGiB < needGiB) throw new Error(`not enough space in ${tmpdir()} (${freeGiB.toFixed(1)} GiB free)`);
}

// ---------------------------------------------------------------- server in a child process

export interface BenchServer { url: URL; pid: number; dataDir: string; configPath: string; dir: string; stop(): Promise<void> }

/** Whether `dir` (a compiled tree with a `.stamp`) is newer than every file under src/. */
function freshBuild(dir: string): boolean {
  let stamp: number;
  try { stamp = statSync(join(dir, '.stamp')).mtimeMs; } catch { return false; }
  const newer = (d: string): boolean => readdirSync(d, { withFileTypes: true }).some((e) => (e.isDirectory()
    ? newer(join(d, e.name)) : statSync(join(d, e.name)).mtimeMs > stamp));
  return !newer(join(ROOT, 'src'));
}

let codeRoot: Promise<{ root: string; how: string }> | undefined;

/**
 * Which server code the bench runs: the compiled dist/ when it is up to date with src/ (what `npm
 * start` and `./occ serve` run, see scripts/run-node.sh); else a private tsc build of src/ under
 * node_modules/.cache/coffer-bench (dist/ is left alone: other processes may be running it); src/
 * through the tsx loader when BENCH_TSX=1 or that build fails; BENCH_CODE_ROOT=DIR runs DIR (a
 * compiled tree of another revision, for before/after comparisons).
 */
export function benchCodeRoot(log: (s: string) => void = () => {}): Promise<{ root: string; how: string }> {
  codeRoot ??= (async () => {
    const fixed = process.env.BENCH_CODE_ROOT; // e.g. a compiled older tree, for before/after figures
    if (fixed) return { root: fixed, how: `${fixed} (BENCH_CODE_ROOT)` };
    if (process.env.BENCH_TSX === '1') return { root: join(ROOT, 'src'), how: 'src/ through tsx (BENCH_TSX=1)' };
    if (freshBuild(join(ROOT, 'dist'))) return { root: join(ROOT, 'dist'), how: 'dist/ (compiled, as npm start)' };
    const out = join(ROOT, 'node_modules/.cache/coffer-bench/dist');
    if (freshBuild(out)) return { root: out, how: 'src/ compiled by tsc (dist/ is stale), as npm start runs dist/' };
    log('dist/ is stale: compiling src/ with tsc into node_modules/.cache/coffer-bench (type check skipped: npm test does it)');
    rmSync(out, { recursive: true, force: true });
    const stampAt = new Date();
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out, '--noCheck'], { encoding: 'utf8' });
    // tsc emits despite type errors elsewhere in the tree; only a missing entry point is fatal.
    if (!existsSync(join(out, 'app.js')) || !existsSync(join(out, 'http/server.js'))) {
      log(`tsc build failed (${r.stdout.slice(0, 300)}); running src/ through tsx`);
      return { root: join(ROOT, 'src'), how: 'src/ through tsx (tsc build failed)' };
    }
    // the compiled modules find package.json (version, "type": "module") one level above them
    writeFileSync(join(out, '../package.json'), readFileSync(join(ROOT, 'package.json')));
    writeFileSync(join(out, '.stamp'), stampAt.toISOString() + '\n');
    utimesSync(join(out, '.stamp'), stampAt, stampAt);
    return { root: out, how: 'src/ compiled by tsc (dist/ is stale), as npm start runs dist/' };
  })();
  return codeRoot;
}

/**
 * Writes a fresh config (SQLite, data under $TMPDIR) and starts bench/bench-server.mjs on it in a
 * child process (code from benchCodeRoot); resolves once it prints READY.
 * @throws Error when the server does not start within 60 s or exits.
 */
export async function startBenchServer(o: { encrypted: boolean; uid: string; password: string }): Promise<BenchServer> {
  const cfg = await writeTestConfig();
  const dataDir = loadConfig(cfg.configPath).datadirectory;
  const { root } = await benchCodeRoot();
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const loader = root.endsWith('/src') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...extra, ...loader, join(ROOT, 'bench/bench-server.mjs'), root, cfg.configPath, o.uid, ...(o.encrypted ? ['--encrypted'] : [])], {
    cwd: ROOT, env: { COFFER_WEB_DIST: join(ROOT, 'web/dist'), ...process.env, BENCH_PASSWORD: o.password }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('bench server did not start within 60 s')), 60_000);
    let ready = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (ready) { process.stderr.write(d); return; } // e.g. BENCH_NODE_ARGS=--trace-gc
      buf += d;
      const m = /READY (\S+)/.exec(buf);
      if (m) { ready = true; clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`bench server exited with ${code}`)); });
  });
  return {
    url: new URL(url), pid: child.pid!, dataDir, configPath: cfg.configPath, dir: cfg.dir,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }),
  };
}

// ---------------------------------------------------------------- RSS sampling

/** Samples the server's VmRSS every 100 ms, tagged with the current phase. */
export class RssSampler {
  readonly samples: { t: number; kb: number; phase: string }[] = [];
  #phase = 'idle';
  #timer: NodeJS.Timeout;
  constructor(readonly pid: number) {
    this.#timer = setInterval(() => this.sample(), 100);
    this.sample();
  }
  sample(): void {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      if (m) this.samples.push({ t: Date.now(), kb: Number(m[1]), phase: this.#phase });
    } catch { /* process gone */ }
  }
  phase(name: string): void { this.sample(); this.#phase = name; this.sample(); }
  stats(phase: string): { peakMiB: number; startMiB: number; endMiB: number; midMiB: number } | undefined {
    const s = this.samples.filter((x) => x.phase === phase);
    if (s.length === 0) return undefined;
    const mib = (kb: number) => Math.round(kb / 1024);
    return { peakMiB: mib(Math.max(...s.map((x) => x.kb))), startMiB: mib(s[0].kb), midMiB: mib(s[Math.floor(s.length / 2)].kb), endMiB: mib(s[s.length - 1].kb) };
  }
  stop(): void { clearInterval(this.#timer); }
  /** CPU seconds (user + system) the server has used so far: a figure that other load on the machine does not skew. */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
    } catch { return NaN; }
  }
}

// ---------------------------------------------------------------- HTTP

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer; bytes: number }

/** WebDAV requests as one user over a keep-alive agent (16 sockets). */
export class DavClient {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  readonly #auth: string;
  constructor(readonly base: URL, readonly uid: string, password: string) {
    this.#auth = 'Basic ' + Buffer.from(`${uid}:${password}`).toString('base64');
  }

  /** The Authorization header value. */
  get authorization(): string { return this.#auth; }

  /** `/remote.php/dav/files/<uid>/<p>`, percent-encoded per segment. */
  path(p: string): string {
    return `/remote.php/dav/files/${this.uid}/` + p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  }

  /** One request; the body may be a stream. `discard` drops the response body, counting bytes. @throws on network errors */
  request(method: string, path: string, o: { headers?: Record<string, string | number>; body?: Buffer | string | Readable; discard?: boolean } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.base.hostname, port: this.base.port, method, path, agent: this.#agent, headers: { Authorization: this.#auth, ...o.headers } }, (res) => {
        const parts: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => { bytes += c.length; if (!o.discard) parts.push(c); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), bytes }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (o.body instanceof Readable) pipeline(o.body, req).catch(reject);
      else req.end(o.body);
    });
  }

  /**
   * GET through curl into /dev/null, as a download client does. The Node client above spends two
   * CPU-seconds per GiB of its own on a plain download on this 2-core machine, so it, not the
   * server, would set the figure. The credentials go to curl on stdin (`-K -`), not on its command line.
   * @throws Error when curl fails
   */
  curlGet(path: string): Promise<{ status: number; bytes: number }> {
    return new Promise((resolve, reject) => {
      const child = spawn('curl', ['-s', '-K', '-', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', new URL(path, this.base).href], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
      child.on('error', reject);
      child.on('exit', (code) => {
        const [status, bytes] = out.trim().split(' ').map(Number);
        if (code !== 0) reject(new Error(`curl exited with ${code}`));
        else resolve({ status: status ?? 0, bytes: bytes ?? 0 });
      });
      child.stdin.end(`header = "Authorization: ${this.#auth}"\n`);
    });
  }

  /** PUT of `size` generated bytes, streamed. @throws Error unless 201/204 */
  async putFile(path: string, size: number): Promise<Reply> {
    const r = await this.request('PUT', this.path(path), {
      headers: { 'Content-Length': size, 'Content-Type': 'application/octet-stream', 'X-OC-Mtime': Math.floor(Date.now() / 1000) },
      body: Readable.from(generate(size), { objectMode: false }),
    });
    expectStatus(r, [201, 204], `PUT ${path}`);
    return r;
  }

  /**
   * Nextcloud's chunked upload v2, as the desktop client sends a big file: MKCOL of an upload folder
   * under /remote.php/dav/uploads/<uid>/, PUTs of `chunk`-byte parts, then MOVE of `.file` onto the
   * target with OC-Total-Length. Returns the wall ms of the parts and of the assembling MOVE apart.
   * @throws Error naming the request that failed
   */
  async chunkedPut(path: string, size: number, chunk: number): Promise<{ partsMs: number; assembleMs: number }> {
    const folder = `/remote.php/dav/uploads/${this.uid}/bench-${randomBytes(6).toString('hex')}`;
    const dest = new URL(this.path(path), this.base).href;
    expectStatus(await this.request('MKCOL', folder, { headers: { Destination: dest } }), [201], 'MKCOL upload folder');
    const t0 = performance.now();
    for (let off = 0, n = 1; off < size; off += chunk, n++) {
      const len = Math.min(chunk, size - off);
      const r = await this.request('PUT', `${folder}/${String(n).padStart(5, '0')}`, {
        headers: { 'Content-Length': len, 'OC-Total-Length': size, Destination: dest },
        body: Readable.from(generate(len), { objectMode: false }),
      });
      expectStatus(r, [201, 204], `PUT chunk ${n}`);
    }
    const t1 = performance.now();
    const r = await this.request('MOVE', `${folder}/.file`, { headers: { Destination: dest, 'OC-Total-Length': size, 'X-OC-Mtime': Math.floor(Date.now() / 1000) } });
    expectStatus(r, [201, 204], 'MOVE .file');
    return { partsMs: t1 - t0, assembleMs: performance.now() - t1 };
  }

  /**
   * `runs` PROPFIND Depth 1 of `folder` (after one warm-up) with the desktop client's property list;
   * wall-clock median/p95 and the server's mean CPU ms per request (from `cpu`).
   */
  async propfindLatency(folder: string, expectEntries: number, runs: number, cpu?: RssSampler, warn?: (s: string) => void): Promise<{ median: number; p95: number; cpuMs: number }> {
    const times: number[] = [];
    const cpuMs: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const c0 = cpu?.cpuSeconds() ?? NaN;
      const t0 = performance.now();
      const r = await this.request('PROPFIND', this.path(folder) + '/', { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: PROPFIND_BODY });
      const ms = performance.now() - t0;
      expectStatus(r, [207], `PROPFIND ${folder}`);
      if (i === 0) {
        const n = (r.body.toString().match(/<(?:[\w-]+:)?response[\s>]/g) ?? []).length;
        if (n < expectEntries + 1) warn?.(`PROPFIND ${folder} returned ${n} responses, expected ${expectEntries + 1}`);
        continue; // warm-up
      }
      times.push(ms);
      cpuMs.push(((cpu?.cpuSeconds() ?? NaN) - c0) * 1000);
    }
    return { median: median(times), p95: pct(times, 0.95), cpuMs: cpuMs.reduce((a, b) => a + b, 0) / cpuMs.length };
  }

  destroy(): void { this.#agent.destroy(); }
}

/** @throws Error naming the request when the status is not one of `ok`. */
export function expectStatus(r: Reply, ok: number[], what: string): void {
  if (!ok.includes(r.status)) throw new Error(`${what} → ${r.status} ${r.body.toString('utf8', 0, 300)}`);
}

/** A generator of `total` bytes: one random 1 MiB block, repeated (memory stays flat). */
export function* generate(total: number): Generator<Buffer> {
  const block = randomBytes(MiB);
  for (let left = total; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
}

/**
 * Runs jobs 0..count-1 with `workers` concurrent workers (each job index exactly once: `next++`
 * runs synchronously between awaits); returns the wall time in ms. After a failure the other
 * workers stop taking jobs, so that a failed step does not keep loading the server during the
 * next one; the first error is thrown once every worker has stopped.
 */
export async function parallel(count: number, workers: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let failed = false;
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: Math.min(workers, count) }, async () => {
    try {
      while (!failed && next < count) await job(next++);
    } catch (err) {
      failed = true;
      throw err;
    }
  }));
  const err = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (err) throw err.reason;
  return performance.now() - t0;
}

export const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
export const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };

/** Bytes of every file below `dir`. */
export function dirBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try { st = statSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p); else total += st.size;
    }
  };
  walk(dir);
  return total;
}

export const PROPFIND_BODY = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>
<d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/><oc:size/><oc:id/><oc:fileid/><oc:downloadURL/>
<oc:dDC/><oc:permissions/><oc:checksums/><oc:share-types/></d:prop></d:propfind>`;

/** A figure of a bench table: a number, a text such as `3.3 / 6.3`, or none (printed `—`). */
export type Cell = number | string | undefined;

/**
 * Prints a bench's table, plain and encrypted side by side, after its header lines; each row's
 * target is the first of `targets` whose pattern matches the row's name.
 */
export function printTable(results: Record<string, { plain?: Cell; encrypted?: Cell }>, targets: readonly [RegExp, string][], header: readonly string[]): void {
  const rows = Object.entries(results);
  const w0 = Math.max(...rows.map(([k]) => k.length), 10);
  const cell = (v: Cell) => (v === undefined ? '—' : String(v));
  const w1 = Math.max(5, ...rows.map(([, v]) => cell(v.plain).length));
  const w2 = Math.max(9, ...rows.map(([, v]) => cell(v.encrypted).length));
  const line = (a: string, b: string, c: string, d: string) => `| ${a.padEnd(w0)} | ${b.padStart(w1)} | ${c.padStart(w2)} | ${d}`;
  for (const h of header) console.log(h);
  console.log(line('measurement', 'plain', 'encrypted', 'target'));
  console.log(line('-'.repeat(w0), '-'.repeat(w1), '-'.repeat(w2), '------'));
  for (const [k, v] of rows) console.log(line(k, cell(v.plain), cell(v.encrypted), targets.find(([re]) => re.test(k))?.[1] ?? ''));
}
