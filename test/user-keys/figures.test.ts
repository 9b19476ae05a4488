import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DEFAULT_KDF, passwordKek } from '../../src/encryption/user-keys/user-key-files.ts';
import { perUserInstance } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

test('figures: argon2id cost per login; opting a 2,000-file account into recovery is O(1)', async () => {
  const salt = randomBytes(16);
  await passwordKek('warm-up', salt, DEFAULT_KDF);
  const runs = 5;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await passwordKek(`password-${i}`, salt, DEFAULT_KDF);
  const kdfMs = (performance.now() - t0) / runs;
  console.log(`# FIGURE argon2id m=${DEFAULT_KDF.memoryCost} KiB t=${DEFAULT_KDF.timeCost} p=${DEFAULT_KDF.parallelism}: ${kdfMs.toFixed(1)} ms per derivation (once per login until the session expires)`);

  const inst = await perUserInstance();
  try {
    await inst.addUser('bob', 'bob-password-1');
    await inst.app.userKeys.recovery.enable('recovery-pw');
    await inst.app.userKeys.onLogin('bob', 'password', 'bob-password-1');
    const N = 2000;
    const t1 = performance.now();
    for (let i = 0; i < N; i++) await inst.app.files.writeFile(userActor('bob', 'password'), 'bob', `f${i}.txt`, Readable.from([Buffer.from(`file ${i}`)]));
    console.log(`# FIGURE wrote ${N} encrypted files in ${((performance.now() - t1) / 1000).toFixed(1)} s (setup)`);
    const t2 = performance.now();
    const r = await inst.app.userKeys.setRecoveryFor('bob', true);
    const optMs = performance.now() - t2;
    console.log(`# FIGURE recovery opt-in of a ${N}-file account: ${optMs.toFixed(1)} ms (${r.sealed} root key sealed)`);
    assert.equal(r.sealed, 1);
    assert.ok(optMs < 1000);
    // The opt-in covers every existing file: a reset with recovery keeps them all readable.
    const out = await inst.app.userKeys.adminReset('bob', 'bob-password-2', { recoveryPassword: 'recovery-pw', setLoginPassword: () => inst.app.users.setPassword('bob', 'bob-password-2') });
    assert.equal(out, 'recovered');
    inst.app.userKeys.session.lockAll();
    await inst.app.userKeys.onLogin('bob', 'password', 'bob-password-2');
    for (const i of [0, 999, 1999]) {
      const c = await inst.app.files.openRead(userActor('bob', 'password'), 'bob', `f${i}.txt`);
      const parts: Buffer[] = [];
      for await (const b of c.stream) parts.push(b as Buffer);
      assert.equal(Buffer.concat(parts).toString(), `file ${i}`);
    }
  } finally {
    await inst.stop();
  }
});
