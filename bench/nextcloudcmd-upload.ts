/**
 * The desktop client's initial upload, timed: nextcloudcmd 3.7 syncs a fresh folder of N small
 * files (default 1,000 × 4 KiB) and then 100 × 1 MiB into a fresh instance, and a second run with
 * nothing to do. Prints wall times and how many bulk POSTs and plain PUTs the server saw.
 *
 *   node --import tsx bench/nextcloudcmd-upload.ts [--files 1000] [--size 4096] [--encrypted]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ADMIN, startTestInstance } from '../test/support/test-instance.ts';
import { enableEncryption } from '../test/support/encryption-enabler.ts';

const { values } = parseArgs({ options: { files: { type: 'string', default: '1000' }, size: { type: 'string', default: '4096' }, encrypted: { type: 'boolean', default: false } } });
const inst = await startTestInstance();
if (values.encrypted) await enableEncryption(inst);
const counts = { bulk: 0, put: 0 };
inst.server.server.on('request', (req: IncomingMessage, _res: ServerResponse) => {
  if (req.method === 'POST' && req.url === '/remote.php/dav/bulk') counts.bulk++;
  if (req.method === 'PUT') counts.put++;
});
const tmp = mkdtempSync(join(tmpdir(), 'coffer-ncbench-'));
/** One nextcloudcmd run (async: the server runs in this process). @returns seconds */
const sync = async (dir: string, remote: string): Promise<number> => {
  const t0 = process.hrtime.bigint();
  const child = spawn('nextcloudcmd', ['--non-interactive', '-u', ADMIN.uid, '-p', ADMIN.password, '--trust', '--path', remote, dir, inst.url],
    { env: { ...process.env, HOME: tmp, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr.on('data', (c: Buffer) => { tail = (tail + c.toString()).slice(-4000); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`nextcloudcmd exited ${code}: ${tail}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
try {
  const scenarios = [[Number(values.files), Number(values.size)], [100, 1 << 20]] as const;
  for (const [n, size] of scenarios) {
    const dir = join(tmp, `up-${n}x${size}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${i}.bin`), randomBytes(size));
    counts.bulk = 0; counts.put = 0;
    // each scenario syncs into a server folder of its own (--path)
    await inst.app.files.mkdir(ADMIN.uid, `up-${n}x${size}`);
    const first = await sync(dir, `/up-${n}x${size}`);
    const seen = { ...counts };
    const second = await sync(dir, `/up-${n}x${size}`);
    console.log(`${n} × ${size} B${values.encrypted ? ' (encrypted)' : ''}: initial upload ${first.toFixed(2)} s (${seen.bulk} bulk POSTs, ${seen.put} PUTs), nothing-to-do run ${second.toFixed(2)} s`);
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  await inst.stop();
  rmSync(tmp, { recursive: true, force: true });
}
