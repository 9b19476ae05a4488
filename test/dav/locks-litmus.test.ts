/**
 * The litmus `locks` suite against a real instance: every test must pass and the suite must not
 * be skipped (it is, unless OPTIONS announces class 2). Needs the Debian package `litmus`; under
 * CI=true a missing litmus is a failure, elsewhere the test is skipped with a message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { startTestInstance, ADMIN } from '../support/test-instance.ts';

const hasLitmus = spawnSync('sh', ['-c', 'command -v litmus'], { encoding: 'utf8' }).status === 0;
const skip = !hasLitmus && process.env.CI !== 'true' ? 'litmus is not installed (apt-get install -y litmus)' : false;

/** Parses litmus's "<- summary for `locks': of N tests run: P passed, F failed." line. */
export function parseLitmusSummary(out: string, suite: string): { run: number; passed: number; failed: number; skipped: number } | undefined {
  const m = new RegExp(`summary for \`${suite}': of (\\d+) tests run: (\\d+) passed, (\\d+) failed`).exec(out);
  if (!m) return undefined;
  const s = /-> (\d+) tests? (?:was|were) skipped/.exec(out.slice(m.index));
  return { run: Number(m[1]), passed: Number(m[2]), failed: Number(m[3]), skipped: s ? Number(s[1]) : 0 };
}

test('litmus locks: 0 failures, suite not skipped', { skip, timeout: 180_000 }, async () => {
  assert.ok(hasLitmus, 'litmus must be installed under CI=true (apt-get install -y litmus)');
  const t = await startTestInstance();
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn('litmus', [`${t.url}/remote.php/dav/files/${ADMIN.uid}/`, ADMIN.uid, ADMIN.password], {
        env: { ...process.env, TESTS: 'locks' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let buf = '';
      p.stdout.on('data', (d: Buffer) => { buf += d.toString('utf8'); });
      p.stderr.on('data', (d: Buffer) => { buf += d.toString('utf8'); });
      const timer = setTimeout(() => p.kill('SIGKILL'), 150_000);
      p.on('error', reject);
      p.on('close', () => { clearTimeout(timer); resolve(buf); });
    });
    const s = parseLitmusSummary(out, 'locks');
    assert.ok(s, `no litmus summary in output:\n${out}`);
    assert.ok(!/locking tests skipped/.test(out), `locks suite was skipped (no class 2 in OPTIONS):\n${out}`);
    assert.equal(s.failed, 0, `litmus locks failures:\n${out}`);
    assert.equal(s.skipped, 0, `litmus skipped tests:\n${out}`);
    assert.ok(s.run >= 30 && s.passed === s.run, `expected the full suite to run:\n${out}`);
    assert.ok(!/WARNING/.test(out), `litmus warnings:\n${out}`);
  } finally {
    await t.stop();
  }
});

test('parseLitmusSummary reads the summary and skipped count', () => {
  assert.deepEqual(parseLitmusSummary("<- summary for `locks': of 41 tests run: 41 passed, 0 failed. 100.0%\n", 'locks'), { run: 41, passed: 41, failed: 0, skipped: 0 });
  assert.deepEqual(parseLitmusSummary("<- summary for `locks': of 3 tests run: 3 passed, 0 failed. 100.0%\n-> 37 tests were skipped.\n", 'locks'), { run: 3, passed: 3, failed: 0, skipped: 37 });
  assert.equal(parseLitmusSummary('nothing', 'locks'), undefined);
});
