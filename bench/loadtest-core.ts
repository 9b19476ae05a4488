/**
 * The load generator behind `npm run loadtest` and test/reliability/load.test.ts: N keep-alive
 * clients mixing PUT/GET/PROPFIND/MOVE/COPY/DELETE on an encrypted instance, each verifying every
 * GET byte-for-byte (SHA-256) against what it last wrote and every PROPFIND listing against the
 * names it expects; then a contended phase (several clients PUT the same path: the result must be
 * one of the written versions, whole) and a lock phase (LOCK/PUT/UNLOCK: others get 423); at the
 * end no blob may be left that no file references.
 */
import { GarbageCollector } from '../src/files/garbage-collector.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { startTestInstance, ADMIN } from '../test/support/test-instance.ts';
import { enableEncryption } from '../test/support/encryption-enabler.ts';

export interface LoadOptions {
  db: 'sqlite' | 'pgsql';
  clients: number;
  seconds: number;
  /** Files per client. */
  filesPerClient?: number;
  /** Largest PUT body, bytes. */
  maxSize?: number;
  encrypted?: boolean;
  /** Serve with `./occ serve --workers N` in child processes (default: in this process). */
  workers?: number;
  log?: (s: string) => void;
}

export interface MethodStats { count: number; opsPerSec: number; p50: number; p99: number; max: number }
export interface LoadResult {
  db: string;
  clients: number;
  seconds: number;
  totalOps: number;
  opsPerSec: number;
  perMethod: Record<string, MethodStats>;
  /** Everything that went wrong (5xx, unexpected status, corrupted byte, wrong listing). */
  errors: string[];
  contendedRounds: number;
  lockChecks: number;
  /** `--workers` of the served run, when the server ran in child processes. */
  workers?: number;
  /** CPU-seconds (user + system) of the mixed phase: the server's processes (child-process runs), and this client process. */
  cpu: { server?: number; client: number };
}

/** user + system CPU-seconds of a live process (Linux /proc); 0 when it is gone. */
function procCpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch { return 0; }
}

interface Resp { status: number; body: Buffer; headers: http.IncomingHttpHeaders }

function sha(b: Buffer): string { return createHash('sha256').update(b).digest('hex'); }

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs the whole load scenario on a fresh instance; never throws for server misbehaviour (see errors). */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const log = opts.log ?? (() => {});
  const inst = await startTestInstance({ db: opts.db, workers: opts.workers });
  const errors: string[] = [];
  const lat: Record<string, number[]> = {};
  /** The server's processes: the primary and its workers, or the one process. */
  const serverPids = () => (inst.workers ? [inst.workers.served.child.pid!, ...inst.workers.workerPids()] : []);
  const serverCpu = () => serverPids().reduce((a, p) => a + procCpuSeconds(p), 0);
  try {
    if (opts.encrypted !== false) await enableEncryption(inst);
    // served elsewhere: the processes see the switch within their 1 s state cache
    if (inst.workers) await new Promise((r) => setTimeout(r, 1100));
    const u = new URL(inst.url);
    const auth = inst.basic(ADMIN.uid, ADMIN.password);
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients + 2 });
    const base = '/remote.php/dav/files/admin';
    const call = (method: string, path: string, headers: Record<string, string | number> = {}, body?: Buffer | string): Promise<Resp> => {
      const h: Record<string, string | number> = { authorization: auth, ...headers };
      if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
      const t0 = performance.now();
      return new Promise((resolve, reject) => {
        const req = http.request({ host: u.hostname, port: u.port, method, path, headers: h, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            (lat[method] ??= []).push(performance.now() - t0);
            const r = { status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers };
            if (r.status >= 500) errors.push(`${method} ${path} → ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
            resolve(r);
          });
          res.on('error', reject);
        });
        req.on('error', (e) => { errors.push(`${method} ${path}: ${e.message}`); reject(e); });
        req.end(body);
      });
    };
    const expect = (r: Resp, ok: number[], what: string) => {
      if (!ok.includes(r.status)) errors.push(`${what}: status ${r.status} (expected ${ok.join('/')}) ${r.body.toString('utf8').slice(0, 200)}`);
      return ok.includes(r.status);
    };
    const destHeader = (p: string) => `${inst.url}${base}/${p}`;

    const nFiles = opts.filesPerClient ?? 6;
    const maxSize = opts.maxSize ?? 192 * 1024;
    for (let c = 0; c < opts.clients; c++) expect(await call('MKCOL', `${base}/c${c}`), [201], `MKCOL c${c}`);
    expect(await call('MKCOL', `${base}/shared`), [201], 'MKCOL shared');

    // ---- mixed phase
    const deadline = Date.now() + opts.seconds * 1000;
    let seq = 0;
    const client = async (c: number) => {
      const mine = new Map<string, string>(); // name → sha256
      let rnd = (c + 1) * 7919;
      const rand = (n: number) => { rnd = (rnd * 1103515245 + 12345) & 0x7fffffff; return rnd % n; };
      const anyOwned = () => [...mine.keys()][rand(Math.max(1, mine.size))];
      while (Date.now() < deadline) {
        const op = rand(100);
        const name = `f${rand(nFiles)}.bin`;
        try {
          if (op < 30 || mine.size === 0) {
            const size = rand(maxSize) + 1;
            const body = Buffer.alloc(size, `${c}:${name}:${seq++}:`);
            if (expect(await call('PUT', `${base}/c${c}/${name}`, {}, body), [201, 204], `PUT c${c}/${name}`)) mine.set(name, sha(body));
          } else if (op < 60) {
            const n = anyOwned()!;
            const r = await call('GET', `${base}/c${c}/${n}`);
            if (expect(r, [200], `GET c${c}/${n}`) && sha(r.body) !== mine.get(n)) errors.push(`GET c${c}/${n}: corrupted content (${r.body.length} bytes)`);
          } else if (op < 72) {
            const r = await call('PROPFIND', `${base}/c${c}/`, { depth: '1', 'content-type': 'application/xml' },
              '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontentlength/></d:prop></d:propfind>');
            if (expect(r, [207], `PROPFIND c${c}`)) {
              const names = [...r.body.toString('utf8').matchAll(/<d:href>[^<]*\/c\d+\/([^<\/]+)<\/d:href>/g)].map((m) => decodeURIComponent(m[1]!)).sort();
              const want = [...mine.keys()].sort();
              if (names.join(',') !== want.join(',')) errors.push(`PROPFIND c${c}: listed [${names}] expected [${want}]`);
            }
          } else if (op < 82) {
            const from = anyOwned()!;
            if (from === name) continue;
            if (expect(await call('MOVE', `${base}/c${c}/${from}`, { destination: destHeader(`c${c}/${name}`), overwrite: 'T' }), [201, 204], `MOVE c${c}/${from}`)) {
              mine.set(name, mine.get(from)!);
              mine.delete(from);
            }
          } else if (op < 92) {
            const from = anyOwned()!;
            if (from === name) continue;
            if (expect(await call('COPY', `${base}/c${c}/${from}`, { destination: destHeader(`c${c}/${name}`), overwrite: 'T' }), [201, 204], `COPY c${c}/${from}`)) {
              mine.set(name, mine.get(from)!);
            }
          } else {
            const n = anyOwned()!;
            if (expect(await call('DELETE', `${base}/c${c}/${n}`), [204], `DELETE c${c}/${n}`)) mine.delete(n);
          }
        } catch { /* counted in errors */ }
      }
      // final check of everything this client owns
      for (const [n, h] of mine) {
        const r = await call('GET', `${base}/c${c}/${n}`);
        if (expect(r, [200], `final GET c${c}/${n}`) && sha(r.body) !== h) errors.push(`final GET c${c}/${n}: corrupted`);
      }
    };
    const t0 = Date.now();
    const cpu0 = { server: serverCpu(), client: process.cpuUsage() };
    await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
    const elapsed = (Date.now() - t0) / 1000;
    const clientUsage = process.cpuUsage(cpu0.client);
    const cpu = { server: inst.workers ? serverCpu() - cpu0.server : undefined, client: (clientUsage.user + clientUsage.system) / 1e6 };
    log(`mixed phase done: ${elapsed.toFixed(1)} s, errors so far ${errors.length}`);

    // ---- contended phase: same path, many writers
    const writers = Math.max(2, Math.min(opts.clients, 6));
    let contendedRounds = 0;
    for (let round = 0; round < 5; round++) {
      const bodies = Array.from({ length: writers }, (_, w) => Buffer.alloc(64 * 1024 + w * 1000 + round, `round${round}-writer${w}-`));
      const rs = await Promise.all(bodies.map((b) => call('PUT', `${base}/shared/contended.bin`, {}, b)));
      rs.forEach((r, w) => expect(r, [201, 204], `contended PUT w${w}`));
      const g = await call('GET', `${base}/shared/contended.bin`);
      if (expect(g, [200], 'contended GET') && !bodies.some((b) => sha(b) === sha(g.body))) errors.push(`contended round ${round}: content is none of the written versions (${g.body.length} bytes)`);
      contendedRounds++;
    }

    // ---- lock phase: LOCK / others refused with 423 / holder writes / UNLOCK / others write
    let lockChecks = 0;
    const lockBody = '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype><d:owner>loadtest</d:owner></d:lockinfo>';
    for (let round = 0; round < 3; round++) {
      const p = `${base}/shared/locked-${round}.bin`;
      const lk = await call('LOCK', p, { timeout: 'Second-60', depth: '0', 'content-type': 'application/xml' }, lockBody);
      if (!expect(lk, [200, 201], 'LOCK')) continue;
      const token = String(lk.headers['lock-token'] ?? '').replace(/[<>]/g, '');
      const others = await Promise.all(Array.from({ length: writers }, (_, w) => call('PUT', p, {}, `intruder ${w}`)));
      others.forEach((r) => { expect(r, [423], 'PUT on a locked path without the token'); lockChecks++; });
      const mine = Buffer.from(`holder ${round}`);
      expect(await call('PUT', p, { if: `(<${token}>)` }, mine), [201, 204], 'PUT with the lock token');
      const g = await call('GET', p);
      if (sha(g.body) !== sha(mine)) errors.push('locked file changed by someone else');
      expect(await call('UNLOCK', p, { 'lock-token': `<${token}>` }), [204], 'UNLOCK');
      expect(await call('PUT', p, {}, 'after unlock'), [204], 'PUT after UNLOCK');
      lockChecks += 3;
    }
    agent.destroy();

    // ---- no leaked blob: every overwrite, DELETE and MOVE-over released its old blob or kept it as
    // a version or in the trash (deletes run right after the commit; give in-flight ones a moment).
    // The collector's own dry run says which blobs nothing references.
    const gc = new GarbageCollector({ db: inst.app.db, rawBlobs: inst.app.rawBlobs, uploads: inst.app.uploads, locks: inst.app.locks });
    let leaked = 0;
    for (let i = 0; i < 20; i++) {
      leaked = (await gc.run({ dryRun: true, graceSeconds: 0 })).orphanedBlobs;
      if (leaked === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (leaked > 0) errors.push(`${leaked} blob(s) no file, version or trash item references after the run (leaked)`);

    const perMethod: Record<string, MethodStats> = {};
    let total = 0;
    for (const [m, xs] of Object.entries(lat)) {
      const s = [...xs].sort((a, b) => a - b);
      total += s.length;
      perMethod[m] = { count: s.length, opsPerSec: s.length / elapsed, p50: pct(s, 50), p99: pct(s, 99), max: s[s.length - 1] ?? 0 };
    }
    const mixedOps = ['PUT', 'GET', 'PROPFIND', 'MOVE', 'COPY', 'DELETE'].reduce((a, m) => a + (perMethod[m]?.count ?? 0), 0);
    return {
      db: opts.db, clients: opts.clients, seconds: elapsed, totalOps: total, opsPerSec: mixedOps / elapsed,
      perMethod, errors, contendedRounds, lockChecks, workers: opts.workers, cpu,
    };
  } finally {
    await inst.stop();
  }
}

/** A printable table of a result. */
export function formatResult(r: LoadResult): string {
  const served = r.workers ? `, ./occ serve --workers ${r.workers}` : ', server in the client\'s process';
  const cpu = `CPU-s in the mixed phase: ${r.cpu.server !== undefined ? `server ${r.cpu.server.toFixed(1)}, ` : ''}client ${r.cpu.client.toFixed(1)}`;
  const lines = [`${r.db}${served}: ${r.clients} clients × ${r.seconds.toFixed(1)} s: ${r.opsPerSec.toFixed(1)} ops/s (mixed), ${r.errors.length} error(s), ${r.contendedRounds} contended rounds, ${r.lockChecks} lock checks; ${cpu}`];
  lines.push('  method     count   ops/s   p50 ms   p99 ms   max ms');
  for (const [m, s] of Object.entries(r.perMethod)) {
    lines.push(`  ${m.padEnd(9)} ${String(s.count).padStart(6)} ${s.opsPerSec.toFixed(1).padStart(7)} ${s.p50.toFixed(1).padStart(8)} ${s.p99.toFixed(1).padStart(8)} ${s.max.toFixed(1).padStart(8)}`);
  }
  for (const e of r.errors.slice(0, 20)) lines.push(`  ERROR ${e}`);
  return lines.join('\n');
}
