/**
 * litmus (Debian package `litmus`) against /remote.php/dav/files/<user>/: suites basic, copymove,
 * props and http must report 0 failures (the locks suite is run by the locks tests), served in
 * process; and all five, locks included, against `./occ serve --workers 2`, where litmus's
 * connections land on both workers (asserted from their request logs). A missing binary skips
 * with a message, except under CI=true where it is a failure.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';

const IN_CI = process.env.CI === 'true';
const HAVE_LITMUS = spawnSync('sh', ['-c', 'command -v litmus'], { stdio: 'ignore' }).status === 0;
const SKIP = !HAVE_LITMUS && !IN_CI
  ? 'litmus is not installed (apt-get install -y litmus; under CI=true this is a failure)'
  : false;

interface LitmusSummary { suite: string; run: number; passed: number; failed: number }

/** Parses litmus's `<- summary for `x': of N tests run: P passed, F failed.` lines. */
function parseLitmus(output: string): { summaries: LitmusSummary[]; skipped: string[] } {
  const summaries: LitmusSummary[] = [];
  for (const m of output.matchAll(/<- summary for `([^']+)': of (\d+) tests run: (\d+) passed, (\d+) failed/g)) {
    summaries.push({ suite: m[1]!, run: Number(m[2]), passed: Number(m[3]), failed: Number(m[4]) });
  }
  const skipped = [...output.matchAll(/^.*SKIPPED.*$/gm)].map((m) => m[0]);
  return { summaries, skipped };
}

function runLitmus(url: string, user: string, pass: string, suites: string): Promise<string> {
  const cwd = mkdtempSync(join(tmpdir(), 'coffer-litmus-')); // litmus writes debug.log/child.log there
  return new Promise((resolve, reject) => {
    const p = spawn('litmus', [url, user, pass], { cwd, env: { ...process.env, TESTS: suites }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => { out += c; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('error', reject);
    p.on('close', () => { clearTimeout(timer); rmSync(cwd, { recursive: true, force: true }); resolve(out); });
  });
}

const RUNS = [
  { name: 'litmus', workers: undefined, suites: ['basic', 'copymove', 'props', 'http'] },
  { name: 'litmus against ./occ serve --workers 2', workers: 2, suites: ['basic', 'copymove', 'props', 'http', 'locks'] },
] as const;

for (const r of RUNS) {
  describe(r.name, { skip: SKIP, timeout: 300_000 }, () => {
    let t: TestInstance;
    before(async () => { t = await startTestInstance({ workers: r.workers }); });
    after(() => t?.stop());

    it(`passes ${r.suites.join(', ')} with 0 failures`, async () => {
      assert.ok(HAVE_LITMUS, 'litmus binary is missing (CI=true)');
      const out = await runLitmus(`${t.url}/remote.php/dav/files/admin/`, 'admin', 'admin-password-123', r.suites.join(' '));
      const { summaries, skipped } = parseLitmus(out);
      const bySuite = Object.fromEntries(summaries.map((s) => [s.suite, s]));
      for (const suite of r.suites) {
        const s = bySuite[suite];
        assert.ok(s, `no summary for ${suite}:\n${out.slice(-2000)}`);
        assert.equal(s.failed, 0, `${suite} failures:\n${out.split('\n').filter((l) => /FAIL|WARNING/.test(l)).join('\n')}`);
        assert.ok(s.run > 0);
      }
      assert.ok(bySuite.basic!.run >= 16 && bySuite.copymove!.run >= 13 && bySuite.props!.run >= 30 && bySuite.http!.run >= 4,
        `fewer tests ran than expected: ${JSON.stringify(summaries)}`);
      if (r.workers) {
        assert.ok(bySuite.locks!.run >= 30, `the locks suite ran ${bySuite.locks!.run} tests`);
        const pids = new Set(t.workers!.requests().map((q) => q.pid));
        assert.equal(pids.size, 2, `litmus's requests were answered by ${pids.size} worker(s)`);
      }
      assert.deepEqual(skipped, [], 'litmus skipped tests');
    });
  });
}
