/**
 * A throw-away single-node Ceph cluster with the RADOS Gateway (a real S3 API) for tests, started
 * with ../shared/tools/ceph-rgw-up.sh in its own temp dir on free ports, so several test files can
 * each run one. Stopped by `stop()`, or at process exit at the latest.
 *
 *   const ceph = await startCephOrSkip();
 *   if (!ceph.cluster) test('…', { skip: ceph.skip }, () => assert.fail(ceph.reason));
 *
 * Under CI=true a missing package or a cluster that does not come up is a failure, not a skip.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CephS3Env {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
}

export interface CephCluster {
  readonly s3: CephS3Env;
  /** The cluster's CEPH_DIR (config, logs). */
  readonly dir: string;
  readonly rgwPort: number;
  /** Seconds the up script took. */
  readonly startSeconds: number;
  /** Kills the daemons and removes the dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartCephOptions {
  /** Memstore cap (default 1 GiB: tests write far less; the OSD holds data in RAM). */
  memstoreBytes?: number;
  /** Keep the dir (logs) after stop, for debugging. Also COFFER_KEEP_CEPH=1. */
  keep?: boolean;
}

/** Folder of ceph-rgw-up.sh / ceph-rgw-down.sh: $COFFER_CEPH_TOOLS, else ../shared/tools beside the repo. */
export function cephToolsDir(): string {
  return process.env.COFFER_CEPH_TOOLS ?? fileURLToPath(new URL('../../../shared/tools/', import.meta.url));
}

const BINARIES = ['ceph', 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph-authtool', 'monmaptool', 'uuidgen', 'curl'];

/** Why a cluster cannot be started here (missing scripts or binaries), or null. */
export function cephMissing(): string | null {
  const tools = cephToolsDir();
  for (const s of ['ceph-rgw-up.sh', 'ceph-rgw-down.sh']) {
    if (!existsSync(join(tools, s))) return `${join(tools, s)} not found`;
  }
  const path = (process.env.PATH ?? '').split(delimiter).concat('/usr/sbin', '/sbin', '/usr/bin');
  const missing = BINARIES.filter((b) => !path.some((d) => d && existsSync(join(d, b))));
  if (missing.length) {
    return `Ceph is not installed (missing ${missing.join(', ')}; apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl)`;
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * SIGKILLs daemons of this cluster that the down script missed (it goes by pid files, which a daemon
 * that was still starting when the up script gave up has not written yet). Only processes whose
 * command line names this cluster's own config file, i.e. ones this helper started.
 */
function killStragglers(dir: string): void {
  const conf = join(dir, 'ceph.conf');
  let pids: string[];
  try { pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)); } catch { return; }
  for (const pid of pids) {
    let cmd: string;
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd.split('\0').includes(conf)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

function parseExports(stdout: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env.set(m[1]!, m[2]!.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1'));
  }
  return env;
}

/**
 * Starts a cluster (about 2.5 s once the packages are cached).
 * @throws Error when Ceph is missing or the cluster does not come up (the message carries the script's log).
 */
export async function startCeph(opts: StartCephOptions = {}): Promise<CephCluster> {
  const missing = cephMissing();
  if (missing) throw new Error(missing);
  try {
    return await startOnce(opts);
  } catch (first) {
    // a busy machine can miss the script's timeouts, and a free port can be taken meanwhile: once more
    try {
      return await startOnce(opts);
    } catch (second) {
      throw new Error(`${(second as Error).message}\n(first attempt: ${(first as Error).message.split('\n')[0]})`);
    }
  }
}

async function startOnce(opts: StartCephOptions): Promise<CephCluster> {
  const tools = cephToolsDir();
  const dir = mkdtempSync(join(tmpdir(), 'coffer-ceph-'));
  const keep = opts.keep ?? process.env.COFFER_KEEP_CEPH === '1';
  const [rgwPort, monPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${process.env.PATH ?? ''}${delimiter}/usr/sbin${delimiter}/sbin`,
    CEPH_DIR: dir,
    RGW_PORT: String(rgwPort),
    CEPH_MON_PORT: String(monPort),
    CEPH_MEMSTORE_BYTES: String(opts.memstoreBytes ?? 1024 ** 3),
  };
  delete env.S3_ACCESS_KEY_ID;
  delete env.S3_SECRET_ACCESS_KEY;
  delete env.S3_REGION;

  let stopped = false;
  const downSync = () => {
    if (stopped) return;
    stopped = true;
    spawnSync('bash', [join(tools, 'ceph-rgw-down.sh')], { env: { ...env, CEPH_STOP_WAIT_S: '0', CEPH_KEEP_DIR: keep ? '1' : '0' }, stdio: 'ignore' });
    killStragglers(dir);
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  // the daemons detach: stop them however this process ends (a signal skips 'exit')
  const onSignal = (sig: NodeJS.Signals) => { downSync(); process.exit(sig === 'SIGINT' ? 130 : 143); };
  const unhook = () => {
    process.removeListener('exit', downSync);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  process.once('exit', downSync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const t0 = performance.now();
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('bash', [join(tools, 'ceph-rgw-up.sh')], { env, timeout: 240_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
  const startSeconds = (performance.now() - t0) / 1000;
  if (out.code !== 0) {
    const log = existsSync(join(dir, 'log', 'client.rgw.a.log')) ? readFileSync(join(dir, 'log', 'client.rgw.a.log'), 'utf8').slice(-2000) : '';
    downSync();
    unhook();
    throw new Error(`ceph-rgw-up.sh failed (exit ${out.code}):\n${out.stderr.slice(-3000)}${log ? `\nrgw log:\n${log}` : ''}`);
  }
  const vars = parseExports(out.stdout);
  const need = (k: string) => {
    const v = vars.get(k);
    if (!v) { downSync(); unhook(); throw new Error(`ceph-rgw-up.sh printed no ${k}`); }
    return v;
  };
  const s3: CephS3Env = {
    endpoint: need('S3_ENDPOINT'),
    accessKeyId: need('S3_ACCESS_KEY_ID'),
    secretAccessKey: need('S3_SECRET_ACCESS_KEY'),
    region: need('S3_REGION'),
    forcePathStyle: need('S3_FORCE_PATH_STYLE') === 'true',
  };
  return {
    s3,
    dir,
    rgwPort,
    startSeconds,
    async stop() {
      if (stopped) return;
      stopped = true;
      unhook();
      await new Promise<void>((resolve) => {
        execFile('bash', [join(tools, 'ceph-rgw-down.sh')], { env: { ...env, CEPH_STOP_WAIT_S: '0', CEPH_KEEP_DIR: keep ? '1' : '0' }, timeout: 60_000 }, () => resolve());
      });
      killStragglers(dir);
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type CephOrSkip =
  | { cluster: CephCluster; skip?: undefined; reason?: undefined }
  | { cluster?: undefined; skip: string | false; reason: string };

/**
 * Starts a cluster, or explains why not. `skip` is the reason to skip with, or false under CI=true
 * (where the caller must fail with `reason`).
 */
export async function startCephOrSkip(opts: StartCephOptions = {}): Promise<CephOrSkip> {
  try {
    return { cluster: await startCeph(opts) };
  } catch (err) {
    const reason = (err as Error).message;
    return { skip: process.env.CI === 'true' ? false : `no Ceph cluster: ${reason.split('\n')[0]}`, reason };
  }
}
