/**
 * Scale-out figures over PostgreSQL + Redis + a real Ceph RGW (S3), through real `./occ serve`
 * processes and HTTP (WebDAV):
 *   - PUT and GET MiB/s of one 256 MiB file, plain and encrypted (one process), in --rounds rounds
 *     that switch encryption off and on, alternating which mode goes first; medians and ratios
 *   - 1,000 × 4 KiB PUTs, files/s, with one process and with two (8 concurrent clients)
 *   - `./occ encryption:encrypt-all -n` MiB/s over S3 (the 256 MiB file written in the plain phase)
 * Each line also gives the CPU time the Coffer server processes and radosgw consumed (from
 * /proc/<pid>/stat), per MiB or per file: on a shared, CPU-starved machine the rates follow the load,
 * the CPU cost does not.
 *
 *   node --import tsx bench/scale-out-bench.ts [--mib 256] [--files 1000] [--clients 8] [--rounds 3]
 *
 * Prints one line per figure plus the load average (the machine is shared).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startCeph } from '../test/support/ceph.ts';
import { createPgDatabase } from '../test/support/test-instance.ts';
import { OCC, occ, spawnServer, type Served } from '../test/cli/occ-harness.ts';
import { RedisClient } from '../src/redis/redis-client.ts';
import { loadConfig } from '../src/config/config.ts';

const argv = process.argv.slice(2);
const arg = (n: string, d: number) => { const i = argv.indexOf(n); return i >= 0 ? Number(argv[i + 1]) : d; };
const MIB = arg('--mib', 256);
const FILES = arg('--files', 1000);
const CLIENTS = arg('--clients', 8);
const ROUNDS = arg('--rounds', 3);
const ADMIN = { uid: 'admin', password: 'bench-admin-pw-1' };
const auth = 'Basic ' + Buffer.from(`${ADMIN.uid}:${ADMIN.password}`).toString('base64');
const log = (s: string) => process.stderr.write(`[scale-out-bench] ${s}\n`);
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
const out: string[] = [];
const report = (s: string) => { const line = `${s}   (load ${load()})`; out.push(line); process.stdout.write(line + '\n'); };

/** CPU time (user + system) a process has used so far, ms; 0 when it is gone. */
const cpuMs = (pid: number | undefined): number => {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (CLK_TCK 100)
  } catch { return 0; }
};
/** Pid of this cluster's radosgw (its command line names the cluster's ceph.conf). */
const rgwPid = (confDir: string): number | undefined => {
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('radosgw') && cmd.includes(join(confDir, 'ceph.conf'))) return Number(p);
    } catch { /* gone */ }
  }
  return undefined;
};

const cluster = await startCeph({ memstoreBytes: 4 * 1024 ** 3 });
const rgw = rgwPid(cluster.dir);
const pg = await createPgDatabase();
const dir = mkdtempSync(join(tmpdir(), 'coffer-sobench-'));
const env = { COFFER_CONFIG: join(dir, 'config', 'config.json') };
const servers: Served[] = [];
try {
  const r = await occ(['maintenance:install', '--admin-user', ADMIN.uid, '--admin-pass', ADMIN.password, '--data-dir', join(dir, 'data'),
    '--database', 'pgsql', '--database-host', '127.0.0.1', '--database-name', pg.name, '--database-user', 'postgres',
    '--storage', 's3', '--s3-endpoint', cluster.s3.endpoint, '--s3-bucket', 'bench', '--s3-region', cluster.s3.region,
    '--s3-access-key', cluster.s3.accessKeyId, '--s3-secret-key', cluster.s3.secretAccessKey,
    '--redis-host', '127.0.0.1', '--redis-port', '6379'], env);
  if (r.code !== 0) throw new Error(`install failed: ${r.stderr}`);
  const occOk = async (args: string[]) => { const x = await occ(args, env); if (x.code !== 0) throw new Error(`occ ${args.join(' ')}: ${x.stderr}`); return x.stdout; };
  servers.push(await spawnServer(OCC, ['serve', '--port', '0'], env), await spawnServer(OCC, ['serve', '--port', '0'], env));
  const dav = (s: Served, p: string) => `${s.url}/remote.php/dav/files/admin${p}`;
  /** Runs `fn` and returns its result with the CPU ms the servers and radosgw used meanwhile. */
  const metered = async <T>(fn: () => Promise<T>): Promise<{ v: T; coffer: number; rgw: number }> => {
    const c0 = servers.reduce((a, s) => a + cpuMs(s.child.pid), 0);
    const r0 = cpuMs(rgw);
    const v = await fn();
    return { v, coffer: servers.reduce((a, s) => a + cpuMs(s.child.pid), 0) - c0, rgw: cpuMs(rgw) - r0 };
  };
  const big = async (what: string, fn: () => Promise<number>, round: number) => {
    const m = await metered(fn);
    report(`${what} ${MIB} MiB, round ${round}: ${m.v.toFixed(1)} MiB/s; CPU ms/MiB: coffer ${(m.coffer / MIB).toFixed(1)}, radosgw ${(m.rgw / MIB).toFixed(1)}`);
    return m.v;
  };
  const small = async (what: string, procs: Served[], prefix: string) => {
    const m = await metered(() => smallPuts(procs, prefix));
    report(`${what} ${FILES} × 4 KiB PUT, ${procs.length} process${procs.length > 1 ? 'es' : ''}: ${m.v.toFixed(1)} files/s (${CLIENTS} clients); CPU ms/file: coffer ${(m.coffer / FILES).toFixed(2)}, radosgw ${(m.rgw / FILES).toFixed(2)}`);
  };

  const block = randomBytes(1024 * 1024);
  const bigBody = () => Readable.from((function* () { for (let i = 0; i < MIB; i++) yield block; })());
  const putBig = async (name: string) => {
    const t = performance.now();
    const res = await fetch(dav(servers[0]!, name), { method: 'PUT', headers: { authorization: auth, 'content-length': String(MIB * 1024 * 1024) }, body: Readable.toWeb(bigBody()) as ReadableStream, duplex: 'half' } as RequestInit);
    if (res.status !== 201 && res.status !== 204) throw new Error(`PUT ${name}: ${res.status}`);
    return MIB / ((performance.now() - t) / 1000);
  };
  const getBig = async (name: string) => {
    const t = performance.now();
    const res = await fetch(dav(servers[0]!, name), { headers: { authorization: auth } });
    let n = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) n += c.length;
    if (n !== MIB * 1024 * 1024) throw new Error(`GET ${name}: ${n} bytes`);
    return MIB / ((performance.now() - t) / 1000);
  };
  const smallPuts = async (procs: Served[], prefix: string) => {
    await fetch(dav(procs[0]!, `/${prefix}`), { method: 'MKCOL', headers: { authorization: auth } });
    const body = randomBytes(4096);
    let next = 0;
    const t = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      const srv = procs[c % procs.length]!;
      for (let i = next++; i < FILES; i = next++) {
        const res = await fetch(dav(srv, `/${prefix}/f${i}.bin`), { method: 'PUT', headers: { authorization: auth }, body });
        if (res.status !== 201) {
          // the servers log JSON lines on stderr: their warnings and errors, then the last lines
          const problems = (p: Served) => p.stderr().split('\n').filter((l) => /"level":[456]0/.test(l)).slice(-20).join('\n');
          const logs = procs.map((p, k) => `--- server ${k} warnings and errors:\n${problems(p)}\n--- server ${k} stderr, last lines:\n${p.stderr().split('\n').slice(-15).join('\n')}`).join('\n');
          throw new Error(`PUT small ${i} through server ${c % procs.length}: ${res.status} ${await res.text()}\n${logs}`);
        }
      }
    }));
    return FILES / ((performance.now() - t) / 1000);
  };

  log(`Ceph up in ${cluster.startSeconds.toFixed(1)} s (radosgw pid ${rgw ?? '?'}); plain phase`);
  // warm the credential cache of both processes
  for (const s of servers) await fetch(dav(s, '/'), { method: 'PROPFIND', headers: { authorization: auth, depth: '0' } });
  // Warm-up, unmeasured: radosgw and the OSD pay for their first hundreds of MiB (memory first
  // touched, buffers grown), which would otherwise land on whichever mode runs first.
  await putBig('/warm-up.bin');
  await getBig('/warm-up.bin');
  await fetch(dav(servers[0]!, '/warm-up.bin'), { method: 'DELETE', headers: { authorization: auth } });

  await small('S3 plain     ', [servers[0]!], 'one');
  await small('S3 plain     ', servers, 'two');
  // encrypt-all measures one big file alone: remove the small ones first
  for (const d of ['/one', '/two']) await fetch(dav(servers[0]!, d), { method: 'DELETE', headers: { authorization: auth } });
  await putBig('/plain.bin');
  await occOk(['app:enable', 'encryption']);
  await occOk(['encryption:enable']);
  await new Promise((r) => setTimeout(r, 1500)); // the servers' encryption state cache (1 s)
  const r0 = cpuMs(rgw);
  const t = performance.now();
  await occOk(['encryption:encrypt-all', '-n']);
  const s = (performance.now() - t) / 1000;
  report(`encrypt-all over S3: ${(MIB / s).toFixed(1)} MiB/s (one ${MIB} MiB file, ${s.toFixed(1)} s incl. ./occ start-up); radosgw CPU ms/MiB ${((cpuMs(rgw) - r0) / MIB).toFixed(1)}`);
  await fetch(dav(servers[0]!, '/plain.bin'), { method: 'DELETE', headers: { authorization: auth } });
  await small('S3 encrypted ', [servers[0]!], 'one-enc');
  await small('S3 encrypted ', servers, 'two-enc');

  // Big transfers in rounds that switch encryption off and on (`encryption:disable --force`: new
  // files plain, encrypted ones stay readable), each round in the other order, so that the machine's
  // drift and whichever mode runs first fall on both columns alike.
  const rates: Record<'plain' | 'encrypted', { put: number[]; get: number[] }> = { plain: { put: [], get: [] }, encrypted: { put: [], get: [] } };
  let encryptedNow = true;
  for (let round = 1; round <= ROUNDS; round++) {
    const order: Array<'plain' | 'encrypted'> = round % 2 === 1 ? ['plain', 'encrypted'] : ['encrypted', 'plain'];
    for (const mode of order) {
      if ((mode === 'encrypted') !== encryptedNow) {
        await occOk(mode === 'encrypted' ? ['encryption:enable'] : ['encryption:disable', '--force']);
        encryptedNow = mode === 'encrypted';
        await new Promise((r) => setTimeout(r, 1500));
      }
      const name = `/big-${mode}-${round}.bin`;
      const label = `S3 ${mode.padEnd(10)}`;
      rates[mode].put.push(await big(`${label} PUT`, () => putBig(name), round));
      rates[mode].get.push(await big(`${label} GET`, () => getBig(name), round));
      await fetch(dav(servers[0]!, name), { method: 'DELETE', headers: { authorization: auth } });
    }
  }
  const median = (xs: number[]) => { const v = [...xs].sort((x, y) => x - y); const m = v.length >> 1; return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2; };
  for (const op of ['put', 'get'] as const) {
    const p = median(rates.plain[op]);
    const e = median(rates.encrypted[op]);
    const perRound = rates.plain[op].map((x, i) => `${((rates.encrypted[op][i]! / x) * 100).toFixed(0)} %`).join(', ');
    report(`${op.toUpperCase()} ${MIB} MiB, median of ${ROUNDS} rounds: plain ${p.toFixed(1)}, encrypted ${e.toFixed(1)} MiB/s = ${((e / p) * 100).toFixed(0)} % of plain (rounds: ${perRound})`);
  }
} finally {
  for (const s of servers) { s.child.kill('SIGTERM'); await s.exited; }
  try {
    const id = loadConfig(env.COFFER_CONFIG).instanceid;
    const c = new RedisClient({ host: '127.0.0.1', port: 6379 }, { instanceId: id });
    const keys = await c.redis.keys(`${c.prefix}*`);
    if (keys.length) await c.redis.del(...keys);
    await c.close();
  } catch { /* not installed */ }
  await pg.drop();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`\nnproc 2, load average at end: ${load()}\n`);
