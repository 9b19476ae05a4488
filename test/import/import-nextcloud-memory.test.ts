/**
 * The import streams: its memory does not follow a file's size. A generated Nextcloud-format file
 * of 384 MiB (master key, signed binary blocks: nc-generator.ts) beside small ones is imported by
 * the real `./occ`, whose peak resident memory (VmHWM, polled from /proc while it runs) must stay
 * far below the file's size; the file then reads back with its sha256.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { OCC, ROOT } from '../cli/occ-harness.ts';
import { basic, installCoffer, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';
import { generateNcFiles } from './nc-generator.ts';

const MiB = 1 << 20;
const BIG = 384 * MiB;
/** The import's own baseline is ~140 MiB (the compiled ./occ with its dependencies); a buffered file would add its 384. */
const PEAK_LIMIT_MiB = 256;

/** Peak resident set (VmHWM) of `pid` in KiB, or undefined once it is gone. */
function peakKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `./occ args` with `env`; answers its exit code and the highest VmHWM seen (polled every 10 ms). */
function occWithPeak(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; peakMiB: number; out: string }> {
  return new Promise((resolve, reject) => {
    const e = { ...process.env, ...env };
    delete e.NODE_OPTIONS;
    delete e.NODE_TEST_CONTEXT;
    // run-node.sh execs node: the child's pid is the importer's
    const child = spawn(OCC, args, { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let peak = 0;
    let out = '';
    const poll = setInterval(() => { peak = Math.max(peak, peakKiB(child.pid!) ?? 0); }, 10);
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => { clearInterval(poll); resolve({ code, peakMiB: peak / 1024, out }); });
  });
}

describe('import:nextcloud: memory stays flat whatever a file\'s size', { timeout: 300_000 }, () => {
  let nc: Unpacked;
  let coffer: Coffer;
  let bigSha = '';
  let bigPath = '';

  before(async () => {
    nc = unpack('master-key');
    const secret = /'secret' => '([^']+)'/.exec(readFileSync(nc.configPhp, 'utf8'))![1]!;
    const masterKeyId = (nc.manifest as unknown as { encryption: { appconfig: Record<string, string> } }).encryption.appconfig.masterKeyId!;
    const g = generateNcFiles(nc.root, { owner: 'carol', secret, masterKeyId, count: 3, sizeOf: (i) => (i === 0 ? BIG : 4096 * i) });
    bigSha = g.sha256[0]!;
    bigPath = g.paths[0]!;
    coffer = await installCoffer();
  });
  after(() => {
    coffer?.cleanup();
    nc?.cleanup();
  });

  test(`a ${BIG / MiB} MiB file is imported with a peak RSS under ${PEAK_LIMIT_MiB} MiB and reads back whole`, async () => {
    const r = await occWithPeak(coffer.env, ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data]);
    assert.equal(r.code, 0, r.out);
    console.log(`import with a ${BIG / MiB} MiB file: peak RSS ${r.peakMiB.toFixed(0)} MiB`);
    assert.ok(r.peakMiB > 0, 'the peak was read');
    assert.ok(r.peakMiB < PEAK_LIMIT_MiB, `peak RSS ${r.peakMiB.toFixed(0)} MiB, limit ${PEAK_LIMIT_MiB}`);
    const srv = await coffer.serve();
    try {
      const pw = nc.manifest.users.find((u) => u.uid === 'carol')!.password;
      const res = await fetch(`${srv.url}/remote.php/dav/files/carol/${bigPath}`, { headers: { authorization: basic('carol', pw) } });
      assert.equal(res.status, 200);
      const h = createHash('sha256');
      for await (const c of res.body!) h.update(c as Uint8Array);
      assert.equal(h.digest('hex'), bigSha);
    } finally {
      await srv.stop();
    }
  });
});
