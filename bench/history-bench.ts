/**
 * `npm run bench:history` — the figures of issue #15 (versions and the trash bin), plain and
 * encrypted side by side, against a server in a child process (startBenchServer), with the
 * server's CPU seconds (from /proc) beside every wall-clock figure:
 *
 *   node --import tsx bench/history-bench.ts [--quick] [--only=plain|encrypted]
 *
 *  1. overwrite of a 1 GiB file (one version kept) against a fresh upload of 1 GiB, three pairs in
 *     alternating order: wall, server CPU (user + sys), bytes the server process wrote
 *     (/proc/<pid>/io write_bytes) and the blob folder's growth, medians;
 *  2. DELETE of a folder of 10,000 × 4 KiB files to the trash, then its restore (MOVE to
 *     trashbin/<user>/restore/<name>);
 *  3. PROPFIND Depth 1 of a trash bin holding 10,000 items;
 *  4. `./occ versions:expire` of 100,000 versions (10,000 files overwritten 10 times over HTTP with
 *     X-OC-Mtime in 2001, so that `versions_retention_obligation: '1, 2'` expires them all).
 * --quick: 64 MiB, 1,000 files, 10,000 versions (a smoke run). Each step checks its outcome
 * (statuses, counts); a failing one prints its error in its cell and the rest still run.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import {
  benchCodeRoot, checkFreeSpace, printTable, type Cell, DavClient, dirBytes, expectStatus, GiB, median, MiB, parallel, pct, RssSampler, startBenchServer, type BenchServer,
} from './bench-support.ts';
import { leanPutMany } from './lean-put-client.ts';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const ONLY = argv.find((a) => a.startsWith('--only='))?.slice(7);
const S = QUICK
  ? { big: 64 * MiB, files: 1000, verFiles: 1000, verRounds: 10, propfindRuns: 10 }
  : { big: GiB, files: 10_000, verFiles: 10_000, verRounds: 10, propfindRuns: 10 };
const VERSIONS = S.verFiles * S.verRounds;
/** Fresh-upload / overwrite pairs of the big file. */
const ROUNDS = 3;
const UID = 'bench';
const PASSWORD = randomBytes(18).toString('base64url');
/** X-OC-Mtime of the versioned files' first upload (2001-09-09): far past any retention. */
const OLD_MTIME = 1_000_000_000;
const DAY = 86_400;
/** The obligation the expiry runs under: kept 1 day at least, deleted when older than 2 days. */
const OBLIGATION = '1, 2';
const NC_PROPFIND_TRASH = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"><d:prop>
<nc:trashbin-filename/><nc:trashbin-original-location/><nc:trashbin-deletion-time/><nc:trashbin-deleted-by-id/>
<nc:trashbin-deleted-by-display-name/><d:getcontentlength/><oc:size/><d:getlastmodified/><d:resourcetype/><oc:fileid/></d:prop></d:propfind>`;

type Mode = 'plain' | 'encrypted';
const results: Record<string, Partial<Record<Mode, Cell>>> = {};
const put = (row: string, mode: Mode, v: Cell) => { (results[row] ??= {})[mode] = v; };
const log = (s: string) => process.stderr.write(`[history-bench] ${s}\n`);
const fmt = (n: number, d = 1) => n.toFixed(d);
const responses = (body: Buffer) => (body.toString().match(/<(?:[\w-]+:)?response[\s>]/g) ?? []).length;
const label = (n: number) => (n >= GiB ? `${n / GiB} GiB` : `${n / MiB} MiB`);
const thousands = (n: number) => n.toLocaleString('en-US');
/** An error for a table cell: one line, a DAV error body reduced to its message. */
const errCell = (err: unknown) => `ERR ${(err as Error).message.replace(/<\?xml[\s\S]*?<s:message>([\s\S]*?)<\/s:message>[\s\S]*/, '$1').replace(/\s+/g, ' ').slice(0, 70)}`;

/** Bytes the process has caused to be written to storage so far (/proc/<pid>/io write_bytes). */
function writeBytes(pid: number): number {
  const m = /^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!m) throw new Error(`no write_bytes in /proc/${pid}/io`);
  return Number(m[1]);
}

/** A measured stretch: wall ms, server CPU ms, server write_bytes, blob folder growth. */
interface Timed { ms: number; cpuMs: number; userMs: number; sysMs: number; written: number; grew: number }

/** User and system CPU ms of a process so far (/proc/<pid>/stat utime, stime; 10 ms ticks). */
function cpuSplit(pid: number): { user: number; sys: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return { user: Number(rest[11]) * 10, sys: Number(rest[12]) * 10 };
}

/** A measured stretch: wall ms, server CPU ms (and its user/sys split), server write_bytes, blob folder growth. */
async function timed<T>(srv: BenchServer, rss: RssSampler, fn: () => Promise<T>): Promise<Timed & { value: T }> {
  const blobs = join(srv.dataDir, 'blobs');
  const b0 = dirBytes(blobs);
  const w0 = writeBytes(srv.pid);
  const c0 = rss.cpuSeconds();
  const s0 = cpuSplit(srv.pid);
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  const cpuMs = (rss.cpuSeconds() - c0) * 1000;
  const s1 = cpuSplit(srv.pid);
  return { value, ms, cpuMs, userMs: s1.user - s0.user, sysMs: s1.sys - s0.sys, written: writeBytes(srv.pid) - w0, grew: dirBytes(blobs) - b0 };
}

/** oc:fileid of a file. @throws Error unless found */
async function fileIdOf(dav: DavClient, path: string): Promise<number> {
  const r = await dav.request('PROPFIND', dav.path(path), {
    headers: { Depth: '0', 'Content-Type': 'application/xml' },
    body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop></d:propfind>',
  });
  expectStatus(r, [207], `PROPFIND ${path}`);
  const m = /<(?:\w+:)?fileid>(\d+)</.exec(r.body.toString());
  if (!m) throw new Error(`no oc:fileid for ${path}`);
  return Number(m[1]);
}

/** The versions the versions DAV API lists for a file: how many, and their getcontentlength. */
async function versionsOf(dav: DavClient, fileId: number): Promise<{ count: number; sizes: number[] }> {
  const r = await dav.request('PROPFIND', `/remote.php/dav/versions/${UID}/versions/${fileId}`, { headers: { Depth: '1' } });
  expectStatus(r, [207], `PROPFIND versions of ${fileId}`);
  const sizes = [...r.body.toString().matchAll(/<(?:\w+:)?getcontentlength>(\d+)</g)].map((m) => Number(m[1]));
  return { count: responses(r.body) - 1, sizes };
}

/** Depth-1 PROPFIND of the trash bin: status-checked reply. */
async function trashListing(dav: DavClient): Promise<Buffer> {
  const r = await dav.request('PROPFIND', `/remote.php/dav/trashbin/${UID}/trash`, { headers: { Depth: '1', 'Content-Type': 'application/xml' }, body: NC_PROPFIND_TRASH });
  expectStatus(r, [207], 'PROPFIND trash');
  return r.body;
}

// ---------------------------------------------------------------- measurements over HTTP

async function measure(mode: Mode, srv: BenchServer, rss: RssSampler, dav: DavClient): Promise<void> {
  const step = async (row: string, fn: () => Promise<void>) => {
    log(`${mode}: ${row}`);
    try { await fn(); } catch (err) { log(`${mode}: ${row} FAILED: ${(err as Error).message}`); put(row, mode, errCell(err)); }
  };
  const big = label(S.big);
  const mib = (n: number) => fmt(n / MiB, 0);

  // 1. fresh upload against overwrite, same size, same client: ROUNDS pairs, in alternating order
  // (the page cache's reclaim and writeback of the gigabytes written before weigh on whichever
  // PUT comes later), medians of each
  const freshRow = `PUT ${big} to a new path: wall s / server CPU-s (user + sys), median of ${ROUNDS}`;
  const overRow = `overwrite of a ${big} file (1 version kept per round): wall s / server CPU-s (user + sys), median of ${ROUNDS}`;
  await step(overRow, async () => {
    await dav.putFile('big.bin', S.big);
    const id = await fileIdOf(dav, 'big.bin');
    const fresh: Timed[] = [];
    const over: Timed[] = [];
    const doFresh = async (r: number) => {
      const f = await timed(srv, rss, () => dav.putFile(`fresh${r}.bin`, S.big));
      if (f.value.status !== 201) throw new Error(`PUT fresh → ${f.value.status}`);
      fresh.push(f);
    };
    const doOver = async () => {
      const o = await timed(srv, rss, () => dav.putFile('big.bin', S.big));
      if (o.value.status !== 204) throw new Error(`overwrite → ${o.value.status}`);
      over.push(o);
    };
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) { await doFresh(r); await doOver(); } else { await doOver(); await doFresh(r); }
    }
    const versions = await versionsOf(dav, id);
    if (versions.count !== ROUNDS || versions.sizes.some((x) => x !== S.big)) throw new Error(`big.bin has ${versions.count} versions (sizes ${versions.sizes.join(', ')}) after ${ROUNDS} overwrites`);
    if (await fileIdOf(dav, 'big.bin') !== id) throw new Error('the overwrite changed the file id');
    const cell = (t: Timed[]) => `${fmt(median(t.map((x) => x.ms)) / 1000, 2)} / ${fmt(median(t.map((x) => x.cpuMs)) / 1000, 2)} (${fmt(median(t.map((x) => x.userMs)) / 1000, 2)} + ${fmt(median(t.map((x) => x.sysMs)) / 1000, 2)})`;
    put(freshRow, mode, cell(fresh));
    put(overRow, mode, cell(over));
    put(`PUT ${big} to a new path: server write_bytes / blob folder growth, MiB (median)`, mode, `${mib(median(fresh.map((x) => x.written)))} / ${mib(median(fresh.map((x) => x.grew)))}`);
    put(`overwrite of a ${big} file: server write_bytes / blob folder growth, MiB (median)`, mode, `${mib(median(over.map((x) => x.written)))} / ${mib(median(over.map((x) => x.grew)))}`);
    const ratio = (f: (t: Timed) => number) => fmt((median(over.map(f)) / median(fresh.map(f))) * 100, 0);
    put(`overwrite ÷ fresh upload (medians): server CPU / write_bytes / blob growth`, mode, `${ratio((x) => x.cpuMs)} % / ${ratio((x) => x.written)} % / ${ratio((x) => x.grew)} %`);
  });

  // 2. a folder of many small files to the trash and back
  const n = S.files;
  const delRow = `DELETE of a folder of ${thousands(n)} × 4 KiB files to the trash: wall ms / server CPU ms`;
  const restRow = `restore of that folder (MOVE to trashbin restore/): wall ms / server CPU ms`;
  let uploaded = false;
  let restored = false;
  await step(delRow, async () => {
    expectStatus(await dav.request('MKCOL', dav.path('tree')), [201], 'MKCOL tree');
    const ms = await leanPutMany({
      url: srv.url, auth: dav.authorization, count: n, connections: 8, body: randomBytes(4096),
      pathOf: (i) => dav.path(`tree/f${String(i).padStart(5, '0')}.txt`), headers: { 'X-OC-Mtime': 1_700_000_000 },
    });
    put(`(setup) PUT of the ${thousands(n)} × 4 KiB files, files/s`, mode, fmt(n / (ms / 1000), 0));
    uploaded = true;
    const del = await timed(srv, rss, () => dav.request('DELETE', dav.path('tree')));
    expectStatus(del.value, [204], 'DELETE tree');
    expectStatus(await dav.request('PROPFIND', dav.path('tree'), { headers: { Depth: '0' } }), [404], 'PROPFIND tree after its delete');
    put(delRow, mode, `${fmt(del.ms, 0)} / ${fmt(del.cpuMs, 0)}`);
  });
  await step(restRow, async () => {
    if (!uploaded) throw new Error('no folder (the step before failed)');
    const item = /\/trash\/(tree\.d\d+)\/?</.exec((await trashListing(dav)).toString())?.[1];
    if (!item) throw new Error('the deleted folder is not in the trash listing');
    const dest = new URL(`/remote.php/dav/trashbin/${UID}/restore/tree`, srv.url).href;
    const rest = await timed(srv, rss, () => dav.request('MOVE', `/remote.php/dav/trashbin/${UID}/trash/${item}`, { headers: { Destination: dest } }));
    expectStatus(rest.value, [201], 'MOVE to restore');
    const r = await dav.request('PROPFIND', dav.path('tree') + '/', { headers: { Depth: '1' } });
    expectStatus(r, [207], 'PROPFIND restored tree');
    if (responses(r.body) !== n + 1) throw new Error(`the restored folder lists ${responses(r.body) - 1} of ${n} files`);
    if (responses(await trashListing(dav)) !== 1) throw new Error('the trash is not empty after the restore');
    put(restRow, mode, `${fmt(rest.ms, 0)} / ${fmt(rest.cpuMs, 0)}`);
    restored = true;
  });

  // 3. a trash of n single items: the restored files, deleted one by one
  const trashRow = `PROPFIND Depth 1 of a trash with ${thousands(n)} items: median / p95 ms`;
  await step(trashRow, async () => {
    if (!restored) throw new Error('no files (the restore failed)');
    const ms = await parallel(n, 8, async (i) => {
      expectStatus(await dav.request('DELETE', dav.path(`tree/f${String(i).padStart(5, '0')}.txt`)), [204], `DELETE file ${i}`);
    });
    put(`(setup) DELETE of ${thousands(n)} single files to the trash (8 clients), files/s`, mode, fmt(n / (ms / 1000), 0));
    const first = responses(await trashListing(dav)); // also the warm-up
    if (first !== n + 1) throw new Error(`the trash lists ${first - 1} items, expected ${n}`);
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < S.propfindRuns; i++) {
      const t = await timed(srv, rss, () => trashListing(dav));
      if (responses(t.value) !== n + 1) throw new Error(`run ${i}: ${responses(t.value) - 1} items`);
      times.push(t.ms);
      cpu.push(t.cpuMs);
    }
    put(trashRow, mode, `${fmt(median(times))} / ${fmt(pct(times, 0.95))}`);
    put(`PROPFIND Depth 1 of a trash with ${thousands(n)} items: server CPU ms (median)`, mode, fmt(median(cpu), 0));
    const empty = await timed(srv, rss, () => dav.request('DELETE', `/remote.php/dav/trashbin/${UID}/trash`));
    expectStatus(empty.value, [204], 'DELETE trash (empty it)');
    if (responses(await trashListing(dav)) !== 1) throw new Error('the trash is not empty after emptying it');
    put(`empty that trash (DELETE …/trash): wall ms / server CPU ms`, mode, `${fmt(empty.ms, 0)} / ${fmt(empty.cpuMs, 0)}`);
  });

  // 4. (setup) the versions to expire: real overwrites, each leaving the previous blob as a version
  await step(VERSION_SETUP_ROW, async () => {
    expectStatus(await dav.request('MKCOL', dav.path('ver')), [201], 'MKCOL ver');
    const c0 = rss.cpuSeconds();
    let ms = 0;
    for (let round = 0; round <= S.verRounds; round++) {
      ms += await leanPutMany({
        url: srv.url, auth: dav.authorization, count: S.verFiles, connections: 8, body: randomBytes(4096), expect: round === 0 ? 201 : 204,
        pathOf: (i) => dav.path(`ver/v${String(i).padStart(5, '0')}.txt`), headers: { 'X-OC-Mtime': OLD_MTIME + round * DAY },
      });
    }
    const id = await fileIdOf(dav, 'ver/v00000.txt');
    const { count } = await versionsOf(dav, id);
    if (count !== S.verRounds) throw new Error(`ver/v00000.txt has ${count} versions, expected ${S.verRounds}`);
    put(VERSION_SETUP_ROW, mode, `${fmt((S.verFiles * (S.verRounds + 1)) / (ms / 1000), 0)} PUTs/s, ${fmt(rss.cpuSeconds() - c0, 1)} CPU-s`);
    versionsMade.add(mode);
  });
}

const VERSION_SETUP_ROW = `(setup) ${thousands(VERSIONS)} versions: ${thousands(S.verFiles)} × 4 KiB files PUT, then overwritten ${S.verRounds} times over HTTP`;
const versionsMade = new Set<Mode>();

// ---------------------------------------------------------------- expiry through ./occ

/** One run of the compiled `occ` (as ./occ runs it): wall s, CPU s (user + sys) and peak RSS (/usr/bin/time), stdout. */
async function occRun(configPath: string, dir: string, args: string[]): Promise<{ wall: number; cpu: number | undefined; peakMiB: number | undefined; status: number | null; stdout: string; stderr: string }> {
  const { root } = await benchCodeRoot();
  const compiled = existsSync(join(root, 'cli/main.bundle.js')) ? join(root, 'cli/main.bundle.js') : join(root, 'cli/main.js');
  const entry = root.endsWith('/src') ? ['--import', 'tsx', join(root, 'cli/main.ts')] : [compiled];
  const timeFile = join(dir, 'occ.time');
  rmSync(timeFile, { force: true });
  const useTime = spawnSync('sh', ['-c', 'test -x /usr/bin/time']).status === 0;
  const cmd = useTime ? ['/usr/bin/time', '-f', '%U %S %M', '-o', timeFile, process.execPath, ...entry] : [process.execPath, ...entry];
  const t0 = performance.now();
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, COFFER_CONFIG: configPath }, maxBuffer: 64 * MiB });
  const wall = (performance.now() - t0) / 1000;
  let cpu: number | undefined;
  let peakMiB: number | undefined;
  try {
    const [u, sy, kb] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
    cpu = u! + sy!;
    peakMiB = Math.round(kb! / 1024);
  } catch { /* no /usr/bin/time */ }
  return { wall, cpu, peakMiB, status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Versions of UID in the instance (in-process, the server stopped). */
async function versionsHeld(configPath: string): Promise<number> {
  const [{ openApp }, { silentLogger }] = await Promise.all([import('../src/app.ts'), import('../src/logger.ts')]);
  const app = await openApp(loadConfig(configPath), { logger: silentLogger() });
  try { return (await app.versions.usage(UID)).count; } finally { await app.close(); }
}

/**
 * With the server stopped: sets `versions_retention_obligation` to OBLIGATION, then times
 * `./occ versions:expire --output=json`; checks that it expired exactly the versions made (the
 * overwrite's version of big.bin is recent and stays) and that their blobs left the blob folder.
 */
async function measureExpiry(mode: Mode, srv: BenchServer): Promise<void> {
  const row = `./occ versions:expire of ${thousands(VERSIONS)} versions (obligation '${OBLIGATION}'): versions/s`;
  log(`${mode}: ${row}`);
  try {
    if (!versionsMade.has(mode)) throw new Error('no versions (the setup failed)');
    const cfg = JSON.parse(readFileSync(srv.configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(srv.configPath, JSON.stringify({ ...cfg, versions_retention_obligation: OBLIGATION }, null, 2));
    const before = await versionsHeld(srv.configPath);
    if (before < VERSIONS) throw new Error(`${before} versions held before the expiry, expected ≥ ${VERSIONS}`);
    const start = await occRun(srv.configPath, srv.dir, ['status']);
    if (start.status !== 0) throw new Error(`occ status exited ${start.status}: ${start.stderr.trim().slice(0, 200)}`);
    const b0 = dirBytes(join(srv.dataDir, 'blobs'));
    const r = await occRun(srv.configPath, srv.dir, ['versions:expire', '--output=json']);
    if (r.status !== 0) throw new Error(`occ versions:expire exited ${r.status}: ${r.stderr.trim().slice(0, 200)}`);
    const out = JSON.parse(r.stdout) as { expired: number; bytes: number };
    if (out.expired !== VERSIONS) throw new Error(`occ expired ${out.expired} versions, expected ${VERSIONS}`);
    const after = await versionsHeld(srv.configPath);
    if (after !== before - VERSIONS) throw new Error(`${after} versions left, expected ${before - VERSIONS}`);
    const freed = b0 - dirBytes(join(srv.dataDir, 'blobs'));
    if (freed < VERSIONS * 4096) throw new Error(`the blob folder shrank by ${freed} B only (${VERSIONS} × 4 KiB expired)`);
    const work = Math.max(0.001, r.wall - start.wall);
    put(row, mode, `${fmt(VERSIONS / r.wall, 0)} (${fmt(VERSIONS / work, 0)} without process start)`);
    put(`./occ versions:expire: wall s / CPU s (user + sys, incl. process start)`, mode, `${fmt(r.wall, 2)} / ${r.cpu === undefined ? '?' : fmt(r.cpu, 2)}`);
    put(`./occ process start (status): wall s / CPU s`, mode, `${fmt(start.wall, 2)} / ${start.cpu === undefined ? '?' : fmt(start.cpu, 2)}`);
    if (r.cpu !== undefined && start.cpu !== undefined) put(`./occ versions:expire: versions per CPU-second (without start)`, mode, fmt(VERSIONS / Math.max(0.001, r.cpu - start.cpu), 0));
    if (r.peakMiB !== undefined) put(`./occ versions:expire: peak RSS MiB (status alone)`, mode, `${r.peakMiB} (${start.peakMiB ?? '?'})`);
    put(`versions left after the expiry / blob folder freed, MiB`, mode, `${after} / ${fmt(freed / MiB, 1)}`);
  } catch (err) {
    log(`${mode}: expiry FAILED: ${(err as Error).message}`);
    put(row, mode, errCell(err));
  }
}

// ---------------------------------------------------------------- main

const TARGETS: [RegExp, string][] = [
  [/^overwrite ÷ fresh/, '≈ 100 % each'],
  [/^DELETE of a folder/, '< 1,000 ms'],
  [/^restore of that folder/, '< 1,000 ms'],
  [/^PROPFIND Depth 1 of a trash .*median \/ p95/, '≤ 100 ms'],
];

async function main(): Promise<void> {
  checkFreeSpace((S.big / GiB) * (2 + 2 * ROUNDS) + 1, log, S);
  const code = await benchCodeRoot(log);
  log(`server code: ${code.how}`);
  const load0 = loadavg()[0]!;
  const modes: Mode[] = ONLY ? [ONLY as Mode] : ['plain', 'encrypted'];
  for (const mode of modes) {
    let srv: BenchServer;
    try {
      srv = await startBenchServer({ encrypted: mode === 'encrypted', uid: UID, password: PASSWORD });
    } catch (err) {
      put('server start', mode, `ERR ${(err as Error).message.slice(0, 80)}`);
      continue;
    }
    const rss = new RssSampler(srv.pid);
    const dav = new DavClient(srv.url, UID, PASSWORD);
    try {
      await measure(mode, srv, rss, dav);
      dav.destroy();
      rss.stop();
      await srv.stop();
      await measureExpiry(mode, srv);
    } finally {
      dav.destroy();
      rss.stop();
      await srv.stop();
      rmSync(srv.dir, { recursive: true, force: true });
    }
  }

  printTable(results, TARGETS, [
    `\nCoffer history bench (${QUICK ? 'quick' : 'full'}), node ${process.version}, ${cpus().length} cores, data under ${tmpdir()}, load average ${fmt(load0, 2)} at start / ${fmt(loadavg()[0]!, 2)} at end, ${new Date().toISOString()}`,
    `server code: ${code.how}; CPU = the server process's user + sys from /proc (10 ms ticks); write_bytes from /proc/<pid>/io`,
    `versions: made by real overwrites over HTTP (lean keep-alive client, 8 connections), X-OC-Mtime from ${new Date(OLD_MTIME * 1000).toISOString().slice(0, 10)} a day apart; expired by the compiled ./occ with the server stopped`,
  ]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
