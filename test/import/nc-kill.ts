/** Runs `./occ` and SIGKILLs it after a delay (crash tests of the import). */
import { spawn } from 'node:child_process';
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
