import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CryptoError } from '../../src/errors.ts';
import { generateX25519, openSealed, publicFromPrivate, sealTo } from '../../src/crypto/x25519-seal.ts';
import { UserKeySession } from '../../src/encryption/user-keys/user-key-session.ts';
import { unwrapPrivate, wrapPrivateWithPassword, wrapPrivateWithToken } from '../../src/encryption/user-keys/user-key-files.ts';

test('x25519 seal: round trip; wrong key, wrong AAD or a flipped bit fail with CryptoError', () => {
  const a = generateX25519();
  const b = generateX25519();
  assert.deepEqual(publicFromPrivate(a.privateKey), a.publicKey);
  const key = randomBytes(32);
  const aad = Buffer.from('uid\0root');
  const s = sealTo(a.publicKey, key, aad);
  assert.deepEqual(openSealed(a.privateKey, s, aad), key);
  assert.notDeepEqual(sealTo(a.publicKey, key, aad), s); // ephemeral key: never the same bytes
  assert.throws(() => openSealed(b.privateKey, s, aad), CryptoError);
  assert.throws(() => openSealed(a.privateKey, s, Buffer.from('other')), CryptoError);
  for (const i of [0, 31, 40, s.length - 1]) {
    const t = Buffer.from(s); t[i]! ^= 1;
    assert.throws(() => openSealed(a.privateKey, t, aad), CryptoError);
  }
});

test('private key wrapping: password (argon2id) and app-password token; wrong secrets refused', async () => {
  const kp = generateX25519();
  const kdf = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
  const f = await wrapPrivateWithPassword('alice', kp.privateKey, 'pw-1', kdf);
  assert.deepEqual(await unwrapPrivate(f, 'pw-1'), kp.privateKey);
  await assert.rejects(unwrapPrivate(f, 'pw-2'), CryptoError);
  await assert.rejects(unwrapPrivate({ ...f, owner: 'bob' }, 'pw-1'), CryptoError);
  const t = wrapPrivateWithToken('alice', kp.privateKey, 'A'.repeat(72));
  assert.deepEqual(await unwrapPrivate(t, 'A'.repeat(72)), kp.privateKey);
  await assert.rejects(unwrapPrivate(t, 'B'.repeat(72)), CryptoError);
});

test('session: idle expiry wipes the key; lock forgets it', () => {
  let now = 0;
  const s = new UserKeySession({ idleMs: 1000, now: () => now });
  const priv = randomBytes(32);
  s.unlock('alice', 'id', priv);
  now = 900; assert.ok(s.get('alice'));
  now = 1800; assert.ok(s.get('alice')); // touched at 900
  now = 2900; assert.equal(s.get('alice'), undefined);
  assert.ok(priv.every((b) => b === 0));
  s.unlock('bob', 'id', randomBytes(32)); s.lock('bob');
  assert.equal(s.get('bob'), undefined);
});
