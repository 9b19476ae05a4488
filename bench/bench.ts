/**
 * `npm run bench` — Coffer's figures, plain and encrypted side by side, against a server running in
 * a child process (so the RSS we sample from /proc/<pid>/status is the server's alone).
 *
 *   node --import tsx bench/bench.ts [--quick] [--streams] [--encrypt-all] [--only=plain|encrypted] [--json=FILE]
 *
 * --quick uses small sizes (64 MiB instead of 1 GiB, fewer files) for a smoke run; --streams measures
 * only the big-file rows (PUT, GET, ranged GET, RSS); --encrypt-all only the encrypt-all/decrypt-all
 * rows (BENCH_OCC_NODE_ARGS adds node flags to those occ runs, BENCH_CONVERT_ARGS arguments such as `--jobs 16`); --small only the 4 KiB PUT and its PROPFIND rows. BENCH_NODE_ARGS adds node flags to the server
 * process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`); BENCH_TSX=1 runs the server through the tsx
 * loader instead of the compiled dist/ (see startBenchServer).
 * Instances live under $TMPDIR (default /tmp): `TMPDIR=/dev/shm npm run bench` takes the disk (and its
 * fsync cost) out of the figures, which then show the server's own CPU cost.
 * Every measurement cleans up after itself; a failing one prints its error in its cell and the
 * rest still run.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../src/config/config.ts';
import { writeStreamToFile } from '../src/storage/file-sink.ts';
import { OCC, spawnServer } from '../test/cli/occ-harness.ts';
import { writeTestConfig } from '../test/support/test-instance.ts';
import {
  benchCodeRoot, checkFreeSpace, printTable, type Cell, DavClient, dirBytes, expectStatus, generate, GiB, median, MiB, parallel, pct, RssSampler, startBenchServer, type BenchServer,
} from './bench-support.ts';
import { leanPutMany } from './lean-put-client.ts';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const ONLY = argv.find((a) => a.startsWith('--only='))?.slice(7);
const JSON_OUT = argv.find((a) => a.startsWith('--json='))?.slice(7);
/** Only the big-file streaming rows (PUT, GET, ranged GET, RSS): a fast loop while profiling. */
const STREAMS_ONLY = argv.includes('--streams');
/** Only the encrypt-all / decrypt-all rows (and process start). */
const CONVERT_ONLY = argv.includes('--encrypt-all');
/** Only the small-file rows (PUT 4 KiB and its PROPFIND): a fast loop while profiling. */
const SMALL_ONLY = argv.includes('--small');
/** The big GET is measured with curl when it is installed (see DavClient.curlGet). */
const HAVE_CURL = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
const S = QUICK
  ? { big: 64 * MiB, smallFiles: 200, manyFiles: 2000, mixedFiles: 200, propfindRuns: 10 }
  : { big: GiB, smallFiles: 1000, manyFiles: 10_000, mixedFiles: 1000, propfindRuns: 20 };
const UID = 'bench';
const PASSWORD = randomBytes(18).toString('base64url');

type Mode = 'plain' | 'encrypted';
const results: Record<string, Partial<Record<Mode, Cell>>> = {};
const put = (row: string, mode: Mode, v: Cell) => { (results[row] ??= {})[mode] = v; };
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

// ---------------------------------------------------------------- measurements

const fmt = (n: number, d = 1) => n.toFixed(d);

async function measure(mode: Mode, srv: BenchServer, rss: RssSampler): Promise<void> {
  const dav = new DavClient(srv.url, UID, PASSWORD);
  const blobs = join(srv.dataDir, 'blobs');
  const step = async (name: string, fn: () => Promise<void>) => {
    log(`${mode}: ${name}`);
    try { await fn(); } catch (err) { log(`${mode}: ${name} FAILED: ${(err as Error).message}`); put(name, mode, `ERR ${(err as Error).message.slice(0, 60)}`); }
  };

  // on-disk overhead of small files first, while the blob store is nearly empty
  if (!SMALL_ONLY) for (const [label, size] of [['4 KiB', 4096], ['1 MiB', MiB]] as const) {
    await step(`overhead ${label} (blob vs plaintext)`, async () => {
      const before = dirBytes(blobs);
      await dav.putFile(`overhead-${size}.bin`, size);
      const blob = dirBytes(blobs) - before;
      put(`overhead ${label} (blob vs plaintext)`, mode, `${blob - size} B (${fmt(((blob - size) / size) * 100, 3)} %)`);
    });
  }

  const bigLabel = S.big === GiB ? '1 GiB' : `${S.big / MiB} MiB`;
  // The disk's own rate for what a big PUT must do (write the bytes, then make them durable), in
  // the server's data folder just before its PUT, flushed as the server flushes.
  if (!SMALL_ONLY) await step(`disk alone: write ${bigLabel} + fdatasync, MiB/s`, async () => {
    put(`disk alone: write ${bigLabel} + fdatasync, MiB/s`, mode, fmt(await diskWriteRate(srv.dataDir, S.big)));
  });
  if (!SMALL_ONLY) await step(`PUT ${bigLabel} MiB/s`, async () => {
    dropPageCache();
    const before = dirBytes(blobs);
    rss.phase('put-big');
    const c0 = rss.cpuSeconds();
    const t0 = performance.now();
    await dav.putFile('big.bin', S.big);
    const s = (performance.now() - t0) / 1000;
    const cpu = rss.cpuSeconds() - c0;
    rss.phase('idle');
    put(`PUT ${bigLabel} MiB/s`, mode, fmt(S.big / MiB / s));
    put(`PUT ${bigLabel}: MiB per server CPU-second`, mode, fmt(S.big / MiB / cpu, 0));
    const blob = dirBytes(blobs) - before;
    put(`overhead ${bigLabel} (blob vs plaintext)`, mode, `${blob - S.big} B (${fmt(((blob - S.big) / S.big) * 100, 4)} %)`);
    const st = rss.stats('put-big');
    if (st) put(`server RSS during PUT ${bigLabel}: peak (start→mid→end) MiB`, mode, `${st.peakMiB} (${st.startMiB}→${st.midMiB}→${st.endMiB})`);
  });

  if (!SMALL_ONLY) await step(`GET ${bigLabel} MiB/s`, async () => {
    rss.phase('get-big');
    const c0 = rss.cpuSeconds();
    const t0 = performance.now();
    const r = HAVE_CURL ? await dav.curlGet(dav.path('big.bin')) : await dav.request('GET', dav.path('big.bin'), { discard: true });
    const s = (performance.now() - t0) / 1000;
    const cpu = rss.cpuSeconds() - c0;
    rss.phase('idle');
    put(`GET ${bigLabel}: MiB per server CPU-second`, mode, fmt(S.big / MiB / cpu, 0));
    if (r.status !== 200) throw new Error(`GET big → ${r.status}`);
    if (r.bytes !== S.big) throw new Error(`GET returned ${r.bytes} bytes`);
    put(`GET ${bigLabel} MiB/s`, mode, fmt(S.big / MiB / s));
    put(`GET ${bigLabel}: client`, mode, HAVE_CURL ? 'curl' : 'Node http');
    const st = rss.stats('get-big');
    if (st) put(`server RSS during GET ${bigLabel}: peak (start→mid→end) MiB`, mode, `${st.peakMiB} (${st.startMiB}→${st.midMiB}→${st.endMiB})`);
  });

  if (!SMALL_ONLY) await step('ranged GET 64 KiB latency ms (median / p95)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = Math.floor(Math.random() * (S.big - 65536));
      const t0 = performance.now();
      const r = await dav.request('GET', dav.path('big.bin'), { headers: { Range: `bytes=${start}-${start + 65535}` }, discard: true });
      times.push(performance.now() - t0);
      expectStatus(r, [206], 'ranged GET');
      if (r.bytes !== 65536) throw new Error(`range returned ${r.bytes} bytes`);
    }
    put('ranged GET 64 KiB latency ms (median / p95)', mode, `${fmt(median(times), 2)} / ${fmt(pct(times, 0.95), 2)}`);
  });
  // The desktop client sends a big file as chunks (chunking v2); assembly decrypts each chunk blob
  // and writes the file's own blob (docs/ARCHITECTURE.md), so its cost is shown apart.
  const chunkedRow = `chunked upload ${bigLabel} (10 MiB chunks) MiB/s: whole / assembly`;
  if (!SMALL_ONLY) await step(chunkedRow, async () => {
    dropPageCache();
    const c0 = rss.cpuSeconds();
    const t0 = performance.now();
    const { assembleMs } = await dav.chunkedPut('chunked.bin', S.big, 10 * MiB);
    const s = (performance.now() - t0) / 1000;
    const cpu = rss.cpuSeconds() - c0;
    put(chunkedRow, mode, `${fmt(S.big / MiB / s)} / ${fmt(S.big / MiB / (assembleMs / 1000))}`);
    put(`chunked upload ${bigLabel}: MiB per server CPU-second`, mode, fmt(S.big / MiB / cpu, 0));
    expectStatus(await dav.request('DELETE', dav.path('chunked.bin')), [204], 'DELETE chunked');
  });
  if (!SMALL_ONLY) await step('delete big file', async () => { expectStatus(await dav.request('DELETE', dav.path('big.bin')), [204], 'DELETE big'); });
  if (STREAMS_ONLY) { dav.destroy(); return; }

  const smallRow = `PUT ${S.smallFiles} × 4 KiB files/s (8 clients), warm server`;
  const coldRow = `PUT ${S.smallFiles} × 4 KiB files/s (8 clients), the first after start`;
  const body = randomBytes(4096);
  // The first small PUTs after start also pay for V8 compiling the request path (about half the
  // rate of a server that has run a while), so they are measured on their own, into another folder.
  await step(coldRow, async () => {
    expectStatus(await dav.request('MKCOL', dav.path('warm-up')), [201], 'MKCOL warm-up');
    const ms = await leanPutMany({
      url: srv.url, auth: dav.authorization, count: S.smallFiles, connections: 8, body,
      pathOf: (i) => dav.path(`warm-up/f${String(i).padStart(5, '0')}.txt`), headers: { 'X-OC-Mtime': 1_700_000_000 },
    });
    put(coldRow, mode, fmt(S.smallFiles / (ms / 1000), 0));
  });
  await step(smallRow, async () => {
    expectStatus(await dav.request('MKCOL', dav.path('small')), [201], 'MKCOL small');
    const c0 = rss.cpuSeconds();
    const client0 = process.cpuUsage();
    const ms = await leanPutMany({
      url: srv.url, auth: dav.authorization, count: S.smallFiles, connections: 8, body,
      pathOf: (i) => dav.path(`small/f${String(i).padStart(5, '0')}.txt`), headers: { 'X-OC-Mtime': 1_700_000_000 },
    });
    const cpu = rss.cpuSeconds() - c0;
    const client = process.cpuUsage(client0);
    put(`PUT 4 KiB: bench client CPU ms per PUT (lean keep-alive client)`, mode, fmt((client.user + client.system) / 1000 / S.smallFiles, 2));
    put(smallRow, mode, fmt(S.smallFiles / (ms / 1000), 0));
    put(`PUT 4 KiB files per server CPU-second`, mode, fmt(S.smallFiles / cpu, 0));
    put(`PUT 4 KiB: server CPU ms per PUT (user + sys)`, mode, fmt((cpu * 1000) / S.smallFiles, 2));
  });

  await step(`PROPFIND Depth 1, ${S.smallFiles} entries: median / p95 ms`, async () => {
    const r = await dav.propfindLatency('small', S.smallFiles, S.propfindRuns, rss, log);
    put(`PROPFIND Depth 1, ${S.smallFiles} entries: median / p95 ms`, mode, `${fmt(r.median)} / ${fmt(r.p95)}`);
    put(`PROPFIND Depth 1, ${S.smallFiles} entries: server CPU ms (mean)`, mode, fmt(r.cpuMs, 0));
  });

  if (SMALL_ONLY) { dav.destroy(); return; }
  const manyRow = `PUT ${S.manyFiles} × 100 B files/s (8 clients)`;
  await step(manyRow, async () => {
    expectStatus(await dav.request('MKCOL', dav.path('many')), [201], 'MKCOL many');
    const body = randomBytes(100);
    const c0 = rss.cpuSeconds();
    const ms = await leanPutMany({
      url: srv.url, auth: dav.authorization, count: S.manyFiles, connections: 8, body,
      pathOf: (i) => dav.path(`many/entry ${String(i).padStart(5, '0')}.txt`),
    });
    put(manyRow, mode, fmt(S.manyFiles / (ms / 1000), 0));
    put(`PUT 100 B (${S.manyFiles} files): server CPU ms per PUT`, mode, fmt(((rss.cpuSeconds() - c0) * 1000) / S.manyFiles, 2));
  });
  await step(`PROPFIND Depth 1, ${S.manyFiles} entries: median / p95 ms`, async () => {
    const r = await dav.propfindLatency('many', S.manyFiles, S.propfindRuns, rss, log);
    put(`PROPFIND Depth 1, ${S.manyFiles} entries: median / p95 ms`, mode, `${fmt(r.median)} / ${fmt(r.p95)}`);
    put(`PROPFIND Depth 1, ${S.manyFiles} entries: server CPU ms (mean)`, mode, fmt(r.cpuMs, 0));
  });
  const idle = rss.stats('idle');
  if (idle) put('server peak RSS over the whole run, MiB', mode, idle.peakMiB);
  dav.destroy();
}

/** Mixed sizes for encrypt-all: mostly small, some medium, a few large (deterministic). */
function mixedSizes(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = (i * 2654435761) % 1000 / 1000;
    if (i % 20 === 0) out.push(MiB + Math.floor(r * 7 * MiB));          // 5 %: 1–8 MiB
    else if (i % 4 === 0) out.push(64 * 1024 + Math.floor(r * 960 * 1024)); // 20 %: 64 KiB–1 MiB
    else out.push(1 + Math.floor(r * 64 * 1024));                       // 75 %: up to 64 KiB
  }
  return out;
}

/** One `occ` run of the code the bench measures (benchCodeRoot): wall seconds, CPU seconds (user + sys, all threads). */
async function occRun(configPath: string, dir: string, args: string[]): Promise<{ wall: number; cpu: number | undefined; status: number | null; stderr: string }> {
  const { root } = await benchCodeRoot();
  const extra = (process.env.BENCH_OCC_NODE_ARGS ?? '').split(/\s+/).filter(Boolean); // e.g. --cpu-prof
  // what ./occ runs: the one-file bundle when the build made one (scripts/run-node.sh)
  const compiled = existsSync(join(root, 'cli/main.bundle.js')) ? join(root, 'cli/main.bundle.js') : join(root, 'cli/main.js');
  const entry = [...extra, ...(root.endsWith('/src') ? ['--import', 'tsx', join(root, 'cli/main.ts')] : [compiled])];
  const timeFile = join(dir, 'occ.time');
  const useTime = spawnSync('sh', ['-c', 'test -x /usr/bin/time']).status === 0;
  const cmd = useTime ? ['/usr/bin/time', '-f', '%U %S', '-o', timeFile, process.execPath, ...entry] : [process.execPath, ...entry];
  const t0 = performance.now();
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, COFFER_CONFIG: configPath }, stdio: ['ignore', extra.length ? 'inherit' : 'ignore', 'pipe'] });
  const wall = (performance.now() - t0) / 1000;
  let cpu: number | undefined;
  try {
    const [u, sy] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
    cpu = u! + sy!;
  } catch { /* no /usr/bin/time */ }
  return { wall, cpu, status: r.status, stderr: r.stderr ?? '' };
}

/**
 * encrypt-all, then decrypt-all, of 1,000 mixed files through `occ` (the compiled code, as ./occ runs
 * it): MiB/s and files/s by wall clock (with and without process start), and the CPU seconds the occ
 * process used per MiB and per file: a figure other load on the machine skews far less.
 */
async function measureEncryptAll(): Promise<void> {
  const row1 = `encrypt-all MiB/s (${S.mixedFiles} mixed files)`;
  const row2 = `encrypt-all files/s (${S.mixedFiles} mixed files)`;
  log('encrypt-all: uploading mixed files to a plain instance');
  const srv = await startBenchServer({ encrypted: false, uid: UID, password: PASSWORD });
  const dav = new DavClient(srv.url, UID, PASSWORD);
  try {
    const sizes = mixedSizes(S.mixedFiles);
    const total = sizes.reduce((a, b) => a + b, 0);
    const mib = total / MiB;
    expectStatus(await dav.request('MKCOL', dav.path('mixed')), [201], 'MKCOL mixed');
    await parallel(sizes.length, 8, async (i) => { await dav.putFile(`mixed/m${i}.bin`, sizes[i]); });
    await srv.stop();
    log(`encrypt-all: ${sizes.length} files, ${fmt(mib)} MiB; server stopped`);

    const [{ openApp }, { silentLogger }, { enableEncryption }] = await Promise.all([
      import('../src/app.ts'), import('../src/logger.ts'), import('../test/support/encryption-enabler.ts'),
    ]);
    const app = await openApp(loadConfig(srv.configPath), { logger: silentLogger() });
    try {
      await enableEncryption({ app, configPath: srv.configPath });
    } finally {
      await app.close();
    }
    const countEncrypted = async () => {
      const a = await openApp(loadConfig(srv.configPath), { logger: silentLogger() });
      try { return await a.encryption.countEncrypted(); } finally { await a.close(); }
    };
    const start = await occRun(srv.configPath, srv.dir, ['encryption:status']);
    put('occ process start (encryption:status): wall s / CPU s', 'encrypted', `${fmt(start.wall, 2)} / ${start.cpu === undefined ? '?' : fmt(start.cpu, 2)}`);
    for (const target of ['encrypt', 'decrypt'] as const) {
      const load = loadavg()[0];
      const r = await occRun(srv.configPath, srv.dir, [`encryption:${target}-all`, '-n', ...(process.env.BENCH_CONVERT_ARGS ?? '').split(/\s+/).filter(Boolean)]);
      if (r.status !== 0) throw new Error(`occ encryption:${target}-all -n exited ${r.status}: ${r.stderr.slice(-300)}`);
      const n = await countEncrypted();
      if (n !== (target === 'encrypt' ? sizes.length : 0)) throw new Error(`after ${target}-all ${n} of ${sizes.length} files are encrypted`);
      const label = `${target}-all`;
      put(target === 'encrypt' ? row1 : `decrypt-all MiB/s (${S.mixedFiles} mixed files)`, 'encrypted', fmt(mib / r.wall));
      put(target === 'encrypt' ? row2 : `decrypt-all files/s (${S.mixedFiles} mixed files)`, 'encrypted', fmt(sizes.length / r.wall, 0));
      put(`${label} MiB/s without process start`, 'encrypted', fmt(mib / Math.max(0.01, r.wall - start.wall)));
      if (r.cpu !== undefined) {
        put(`${label} CPU seconds (user + sys, all threads, incl. start)`, 'encrypted', fmt(r.cpu, 2));
        put(`${label} CPU ms per MiB / per file (incl. start)`, 'encrypted', `${fmt((r.cpu * 1000) / mib, 2)} / ${fmt((r.cpu * 1000) / sizes.length, 2)}`);
      }
      put(`${label} load average at start`, 'encrypted', fmt(load, 2));
      log(`${label}: wall ${fmt(r.wall, 2)} s (process start ~${fmt(start.wall, 2)} s), CPU ${r.cpu === undefined ? '?' : fmt(r.cpu, 2)} s, load ${fmt(load, 2)}`);
    }
    results['encrypt-all method'] = { encrypted: 'occ encrypt-all -n, then decrypt-all -n (code as above)' };
  } catch (err) {
    log(`encrypt-all FAILED: ${(err as Error).message}`);
    put(row1, 'encrypted', `ERR ${(err as Error).message.slice(0, 60)}`);
  } finally {
    dav.destroy();
    await srv.stop();
    rmSync(srv.dir, { recursive: true, force: true });
  }
}

/**
 * Writes back and drops the page cache (as root; otherwise does nothing), so that each big PUT
 * starts from the same state. On this kind of VM, memory the guest has not touched yet, or that the
 * host took back (DAMON pageout), costs a fault per page on first use: each further GiB of page
 * cache made the same plain PUT cost 2.2, then 2.9, then 5.2 server CPU-seconds (242 → 580 MiB/s
 * when dropped first). Writes are fsynced before the reply, so nothing of Coffer's is lost.
 */
function dropPageCache(): void {
  if (process.getuid?.() !== 0) return;
  const r = spawnSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
  if (r.status === 0) pageCacheDropped = true;
}
let pageCacheDropped = false;

/**
 * MiB/s of writing `size` generated bytes to a new file in `dir` through the server's own file sink
 * (writeStreamToFile: 1 MiB writev batches, a background fdatasync every 32 MiB), then the final
 * fdatasync; the file is deleted after. No server and no network: only the page cache and the disk,
 * at the same moment as the PUT. (This VM's disk varies from about 300 to 1,900 MiB/s between runs
 * a minute apart.)
 */
async function diskWriteRate(dir: string, size: number): Promise<number> {
  const path = join(dir, `disk-rate-${randomBytes(4).toString('hex')}.tmp`);
  const t0 = performance.now();
  const fh = await open(path, 'wx', 0o600);
  try {
    await writeStreamToFile(fh, Readable.from(generate(size), { objectMode: false }));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  const s = (performance.now() - t0) / 1000;
  rmSync(path, { force: true });
  return size / MiB / s;
}

/**
 * VmRSS of a real `./occ serve` (scripts/run-node.sh: the bundle when dist/ is fresh, as `npm
 * start`) on a fresh SQLite instance after one request. The bench's own server process loads the
 * compiled module tree instead (it needs openApp); this row shows what the product itself holds.
 */
async function occServeIdleRss(): Promise<number> {
  const cfg = await writeTestConfig();
  const served = await spawnServer(OCC, ['serve', '--port', '0'], { COFFER_CONFIG: cfg.configPath }, { timeoutMs: 30_000 });
  try {
    await (await fetch(`${served.url}/status.php`)).arrayBuffer();
    await new Promise((res) => setTimeout(res, 500));
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${served.child.pid}/status`, 'utf8'))?.[1]);
    return Math.round(kb / 1024);
  } finally {
    served.child.kill('SIGTERM');
    await served.exited;
    rmSync(cfg.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

const TARGETS: [RegExp, string][] = [
  [/^disk alone/, 'the disk at the same moment'],
  [/^PUT (1 GiB|\d+ MiB) MiB/, 'plain ≥ 600; enc ≥ 400 and ≥ 85 % of plain'],
  [/^GET (1 GiB|\d+ MiB) MiB/, 'plain ≥ 1,000; enc ≥ 400 and ≥ 85 % of plain'],
  [/^PUT \d+ × 4 KiB files\/s \(8 clients\), warm/, '≥ 1,000/s'],
  [/^PROPFIND Depth 1, 1000 /, '≤ 15 ms'],
  [/^server RSS during/, '≤ 150 MiB, flat'],
  [/^overhead (1 MiB|1 GiB)/, 'enc ≤ 0.05 %'],
  [/^encrypt-all MiB/, '≥ 300 MiB/s'],
];

async function main(): Promise<void> {
  checkFreeSpace((S.big / GiB) * 2.5 + 1, log, S);

  const code = await benchCodeRoot(log);
  log(`server code: ${code.how}`);
  const load0 = loadavg()[0];
  if (load0 > cpus().length) log(`warning: load average ${fmt(load0, 2)} on ${cpus().length} cores: other work is running, figures will be low`);
  const modes: Mode[] = CONVERT_ONLY ? [] : ONLY ? [ONLY as Mode] : ['plain', 'encrypted'];
  for (const mode of modes) {
    let srv: BenchServer | undefined;
    try {
      srv = await startBenchServer({ encrypted: mode === 'encrypted', uid: UID, password: PASSWORD });
    } catch (err) {
      log(`${mode}: server failed to start: ${(err as Error).message}`);
      put('server start', mode, `ERR ${(err as Error).message.slice(0, 80)}`);
      continue;
    }
    const rss = new RssSampler(srv.pid);
    await new Promise((r) => setTimeout(r, 500));
    const idle = rss.stats('idle');
    if (idle) put('server RSS idle after start, MiB', mode, idle.endMiB);
    try {
      await measure(mode, srv, rss);
    } finally {
      rss.stop();
      await srv.stop();
      rmSync(srv.dir, { recursive: true, force: true });
    }
  }
  if ((!ONLY || ONLY === 'encrypted') && !STREAMS_ONLY && !SMALL_ONLY) await measureEncryptAll();
  if (!CONVERT_ONLY) {
    try {
      // ./occ runs src/ through tsx while dist/ is stale (scripts/run-node.sh): not what npm start runs
      put('server RSS idle, ./occ serve as npm start runs it, MiB', 'plain', code.root === join(ROOT, 'dist') ? await occServeIdleRss() : 'dist/ stale: npm run build');
    } catch (err) {
      put('server RSS idle, ./occ serve as npm start runs it, MiB', 'plain', `ERR ${(err as Error).message.slice(0, 60)}`);
    }
  }

  for (const m of ['PUT', 'GET']) {
    const row = Object.keys(results).find((k) => k.startsWith(`${m} `) && k.endsWith('MiB/s'));
    const p = Number(row && results[row].plain);
    const e = Number(row && results[row].encrypted);
    if (row && p > 0 && e > 0) put(`${m} encrypted / plain`, 'encrypted', `${fmt((e / p) * 100, 0)} %`);
  }

  printTable(results, TARGETS, [
    `\nCoffer bench (${QUICK ? 'quick' : 'full'}), node ${process.version}, ${cpus().length} cores, data under ${tmpdir()}, load average ${fmt(load0, 2)} at start / ${fmt(loadavg()[0], 2)} at end, ${new Date().toISOString()}`,
    `server code: ${code.how}`,
    ...(pageCacheDropped ? ['page cache written back and dropped before each big PUT (see dropPageCache)'] : []),
  ]);
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ quick: QUICK, at: new Date().toISOString(), results }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
