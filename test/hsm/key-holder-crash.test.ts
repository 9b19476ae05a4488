/**
 * Crash safety of `./occ encryption:key-holder:set` (SoftHSM2): the command is SIGKILLed at each of
 * the five points of a switch (journal written, new wrapping written, verified, config committed, old
 * wrapping removed), alternating secret → pkcs11 and pkcs11 → secret. After each crash the configured
 * holder opens the master key and every file reads back; a rerun of the same `set` converges.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { softhsmSkipReason } from '../support/softhsm.ts';
import { HsmInstance } from './hsm-instance.ts';

const skip = softhsmSkipReason();
if (skip) console.log(`# skipping PKCS#11 tests: ${skip}`);

describe('key holder switch: SIGKILL at every point, both directions (SoftHSM2)', { skip }, () => {
  const t = new HsmInstance();
  const { run, ok, setPkcs11, readable, cfg, masterFiles, sysDir } = t;

  before(async () => {
    await t.setup();
    const r = await setPkcs11();
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => t.cleanup());

  // Each case starts where the last one converged.
  const POINTS = ['after-journal', 'after-write', 'after-verify', 'after-switch', 'after-cleanup'] as const;
  const cases = POINTS.flatMap((point) => [{ point, to: 'secret' as const }, { point, to: 'pkcs11' as const }]);
  for (const { point, to } of cases) {
    const from = to === 'secret' ? 'pkcs11' : 'secret';
    test(`SIGKILL while switching ${from} → ${to} ${point}: a working key remains; a rerun converges`, async () => {
      assert.equal(cfg().keyHolder?.type, from);
      const before = masterFiles();
      assert.equal(before.length, 1);
      const setTo = (env: Record<string, string> = {}) => (to === 'secret' ? run(['encryption:key-holder:set', 'secret'], env) : setPkcs11(env));
      const r = await setTo({ COFFER_TEST_CRASH_AT: point });
      assert.equal(r.signal, 'SIGKILL', `${r.code} ${r.stderr}`);
      const committed = point === 'after-switch' || point === 'after-cleanup';
      assert.equal(cfg().keyHolder?.type, committed ? to : from, 'the config file is the commit point');
      const journal = join(sysDir(), 'key-holder-switch.json');
      assert.ok(existsSync(journal), 'the journal survives the crash');
      const isTo = (n: string) => (to === 'pkcs11' ? /\.p11-/.test(n) : /^master_[0-9a-f]{32}\.masterKey$/.test(n));
      const atCrash = masterFiles();
      if (point === 'after-journal') assert.deepEqual(atCrash, before, 'only the old wrapping yet');
      else if (point === 'after-cleanup') assert.deepEqual(atCrash.map(isTo), [true], 'only the new wrapping');
      else assert.equal(atCrash.length, 2, 'old and new wrapping side by side');
      // Restart: the configured holder opens the key; files readable.
      (await readable()).close();
      // A committed switch is finished at start (old wrapping and journal removed); an uncommitted one waits for `set`.
      if (committed) {
        assert.deepEqual(masterFiles().map(isTo), [true]);
        assert.ok(!existsSync(journal));
      } else {
        assert.ok(existsSync(journal));
        assert.ok(masterFiles().includes(before[0]!), 'the old wrapping is kept until the switch commits');
      }
      // Rerun the same switch: it converges (an uncommitted attempt is rolled back first).
      const again = await setTo();
      assert.equal(again.code, 0, again.stderr);
      if (!committed) assert.match(again.stdout, /rolled back/);
      assert.equal(cfg().keyHolder?.type, to);
      assert.deepEqual(masterFiles().map(isTo), [true]);
      assert.ok(!existsSync(journal));
      if (to === 'secret') {
        // The secret alone opens it now: no token reachable.
        const s = JSON.parse(await ok(['encryption:key-holder:status', '--output=json'], { SOFTHSM2_CONF: '/nonexistent', PKCS11_PIN: '' }));
        assert.equal(s.holder.id, 'secret');
      }
      (await readable()).close();
    });
  }

});
