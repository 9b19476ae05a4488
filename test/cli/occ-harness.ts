/** Runs `./occ` (and `npm start`'s entry) as real processes for the CLI tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OCC = join(ROOT, 'occ');
/** tsx's loader by absolute path, so processes can run with any working directory. */
export const TSX_LOADER = join(ROOT, 'node_modules/tsx/dist/loader.mjs');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A temp dir with a COFFER_CONFIG path inside it (nothing installed yet). */
export function tempInstance(): { dir: string; configPath: string; dataDir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-cli-'));
  const configPath = join(dir, 'config', 'config.json');
  return {
    dir, configPath, dataDir: join(dir, 'data'),
    env: { COFFER_CONFIG: configPath },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS; // the test runner's --test flags must not leak into the child
  delete env.NODE_TEST_CONTEXT;
  // servers of the tests are one process unless a test passes --workers (the default is one per core)
  env.COFFER_WORKERS ??= '1';
  return env;
}

/** Runs `./occ args…` to completion (stdin closed, i.e. not a TTY). */
export function occ(args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; cwd?: string } = {}): Promise<RunResult> {
  return run(OCC, args, env, opts);
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    // A command that exits without reading its input closes the pipe first: that is not an error.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

export interface Served {
  child: ChildProcess;
  url: string;
  /** Everything printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit of the process. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns a long-running server process and waits for its `Coffer is listening on <url>` line.
 * @throws when the process exits first or `timeoutMs` passes.
 */
export function spawnServer(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<Served> {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`server did not start; stdout: ${out}\nstderr: ${err}`)); }, opts.timeoutMs ?? 60_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /Coffer is listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: () => out, stderr: () => err, exited });
      }
    });
    void exited.then((e) => { clearTimeout(timer); reject(new Error(`server exited (${e.code ?? e.signal}) before listening; stdout: ${out}\nstderr: ${err}`)); });
  });
}

/** Installs on SQLite in the instance's temp dir. */
export async function installSqlite(inst: ReturnType<typeof tempInstance>, adminPass = 'admin-secret-1'): Promise<RunResult> {
  const r = await occ(['maintenance:install', '--admin-user', 'admin', '--admin-pass', adminPass, '--data-dir', inst.dataDir], inst.env);
  if (r.code !== 0) throw new Error(`install failed (${r.code}): ${r.stderr}`);
  return r;
}
