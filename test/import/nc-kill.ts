/** Runs `./occ` and SIGKILLs it after a delay or once Coffer's database shows a state (crash tests of the import). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { OCC, ROOT } from '../cli/occ-harness.ts';

/** Starts `./occ args` with `env` and SIGKILLs it `ms` after its start; resolves how it ended. */
export function occKilledAfter(env: NodeJS.ProcessEnv, args: string[], ms: number): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const e = { ...process.env, ...env };
    delete e.NODE_OPTIONS;
    delete e.NODE_TEST_CONTEXT;
    const child = spawn(OCC, args, { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ killed: signal === 'SIGKILL', code, stderr }); });
  });
}

/**
 * Starts `./occ args` on the Coffer installed in `dir` (its SQLite database) with `env`; SIGKILLs
 * it as soon as `when`, polled on that database every 15 ms, holds; resolves how it ended.
 */
export function occKilledWhen(dir: string, env: NodeJS.ProcessEnv, args: string[], when: (db: SQLite.Database) => boolean): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve, reject) => {
    const e = { ...process.env, ...env };
    delete e.NODE_OPTIONS;
    delete e.NODE_TEST_CONTEXT;
    const child = spawn(OCC, args, { cwd: ROOT, env: e, stdio: ['ignore', 'ignore', 'ignore'] });
    const poll = setInterval(() => {
      let db: SQLite.Database | undefined;
      try {
        db = new SQLite(join(dir, 'config', 'coffer.db'), { readonly: true, fileMustExist: true });
        if (when(db)) child.kill('SIGKILL');
      } catch {
        // tables not there yet, or busy: poll again
      } finally {
        db?.close();
      }
    }, 15);
    child.on('error', reject);
    child.on('exit', (code, signal) => { clearInterval(poll); resolve({ killed: signal === 'SIGKILL', code }); });
  });
}
