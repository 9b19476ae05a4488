/**
 * Pieces of `npm run bench`: the server in a child process, RSS/CPU sampling from /proc, a small
 * keep-alive WebDAV client, and statistics.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../src/config/config.ts';
import { writeTestConfig } from '../test/support/test-instance.ts';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

// ---------------------------------------------------------------- server in a child process

export interface BenchServer { url: URL; pid: number; dataDir: string; configPath: string; dir: string; stop(): Promise<void> }

/**
 * Writes a fresh config (SQLite, data under $TMPDIR) and starts bench/bench-server.ts on it in a child
 * process; resolves once it prints READY.
 * @throws Error when the server does not start within 60 s or exits.
 */
export async function startBenchServer(o: { encrypted: boolean; uid: string; password: string }): Promise<BenchServer> {
  const cfg = await writeTestConfig();
  const dataDir = loadConfig(cfg.configPath).datadirectory;
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/bench-server.ts'), cfg.configPath, o.uid, ...(o.encrypted ? ['--encrypted'] : [])], {
    cwd: ROOT, env: { ...process.env, BENCH_PASSWORD: o.password }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('bench server did not start within 60 s')), 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const m = /READY (\S+)/.exec(buf);
      if (m) { clearTimeout(timer); resolve(m[1]); }
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

/** Runs `count` jobs with `parallel` workers; returns the wall time in ms. */
export async function parallel(count: number, workers: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < count) await job(next++);
  }));
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
