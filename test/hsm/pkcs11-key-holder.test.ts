/**
 * Pkcs11KeyHolder against SoftHSM2 directly: the wrapping key is created non-extractable and
 * sensitive on the token; GCM, AES-key-wrap-pad and AES-CBC wrappings round-trip and are bound to their AAD;
 * the mechanism choice for tokens without GCM; a token missing, a wrong PIN and a missing key are
 * refused with the cause named.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { Pkcs11KeyHolder, chooseMechanism } from '../../src/encryption/key-holders/pkcs11-key-holder.ts';
import { AuthenticationError, ConfigError, CryptoError, NotSupportedError } from '../../src/errors.ts';
import { createSoftHsm, softhsmSkipReason, type SoftHsmToken } from '../support/softhsm.ts';

const skip = softhsmSkipReason();
if (skip) console.log(`# skipping PKCS#11 tests: ${skip}`);

/** Reads the token key's attributes through a separate PKCS#11 session (the holder must be closed). */
function inspectKey(module: string, tokenLabel: string, pin: string, keyLabel: string): { count: number; flags: number[]; valueLen: number; keyType: number } {
  const p = new pkcs11js.PKCS11();
  p.load(module);
  p.C_Initialize();
  try {
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === tokenLabel)!;
    const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    p.C_Login(s, pkcs11js.CKU_USER, pin);
    p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_LABEL, value: keyLabel }]);
    const found = p.C_FindObjects(s, 5);
    p.C_FindObjectsFinal(s);
    const attrs = p.C_GetAttributeValue(s, found[0]!, [
      { type: pkcs11js.CKA_TOKEN }, { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE },
      { type: pkcs11js.CKA_NEVER_EXTRACTABLE }, { type: pkcs11js.CKA_ENCRYPT }, { type: pkcs11js.CKA_WRAP }, { type: pkcs11js.CKA_UNWRAP },
      { type: pkcs11js.CKA_VALUE_LEN }, { type: pkcs11js.CKA_KEY_TYPE },
    ]);
    assert.throws(() => p.C_GetAttributeValue(s, found[0]!, [{ type: pkcs11js.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
    // No session or token object holds a copy of a master key (generic secrets are only ever session objects).
    p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET }]);
    const generic = p.C_FindObjects(s, 5);
    p.C_FindObjectsFinal(s);
    assert.equal(generic.length, 0, 'no generic secret left on the token');
    p.C_CloseSession(s);
    return { count: found.length, flags: attrs.slice(0, 7).map((a) => a.value[0]!), valueLen: attrs[7]!.value.readUInt32LE(0), keyType: attrs[8]!.value.readUInt32LE(0) };
  } finally { p.C_Finalize(); p.close(); }
}

describe('chooseMechanism (tokens without AES-GCM)', () => {
  test('GCM first; key wrap with padding when GCM is missing; CBC when both are; none → NotSupportedError naming all three', () => {
    assert.equal(chooseMechanism('auto', { gcm: true, kwp: true, cbc: true }, 't'), 'aes-gcm');
    assert.equal(chooseMechanism('auto', { gcm: false, kwp: true, cbc: true }, 't'), 'aes-key-wrap-pad');
    assert.equal(chooseMechanism('aes-key-wrap-pad', { gcm: true, kwp: true }, 't'), 'aes-key-wrap-pad');
    // YubiHSM 2 and Nitrokey HSM: AES ECB/CBC only
    assert.equal(chooseMechanism('auto', { gcm: false, kwp: false, cbc: true }, 'yubihsm'), 'aes-cbc');
    assert.equal(chooseMechanism('aes-cbc', { gcm: true, kwp: true, cbc: true }, 't'), 'aes-cbc');
    assert.throws(() => chooseMechanism('aes-cbc', { gcm: true, kwp: true, cbc: false }, 't'), /does not offer CKM_AES_CBC \(encrypt\/decrypt\), .*it offers CKM_AES_GCM/);
    assert.throws(() => chooseMechanism('auto', { gcm: false, kwp: false }, 'des-only'),
      (e: Error) => e instanceof NotSupportedError && /token 'des-only' does not offer CKM_AES_GCM \(encrypt\/decrypt\) or CKM_AES_KEY_WRAP_PAD \(wrap\/unwrap\) or CKM_AES_CBC \(encrypt\/decrypt\).*offers none of them/.test(e.message));
    assert.throws(() => chooseMechanism('aes-gcm', { gcm: false, kwp: true }, 't'), /does not offer CKM_AES_GCM \(encrypt\/decrypt\), .*it offers CKM_AES_KEY_WRAP_PAD/);
    assert.throws(() => chooseMechanism('aes-key-wrap-pad', { gcm: true, kwp: false }, 't'), /does not offer CKM_AES_KEY_WRAP_PAD/);
  });
});

describe('Pkcs11KeyHolder (SoftHSM2)', { skip }, () => {
  let hsm: SoftHsmToken;
  const holder = (o: Partial<ConstructorParameters<typeof Pkcs11KeyHolder>[0]> = {}) =>
    new Pkcs11KeyHolder({ module: hsm.module, tokenLabel: hsm.label, instanceId: 'octest12345', ...o });

  before(() => {
    hsm = createSoftHsm('unit-token', '24681357');
    process.env.SOFTHSM2_CONF = hsm.conf;
    process.env.PKCS11_PIN = hsm.pin;
  });
  after(() => hsm?.cleanup());

  test('the wrapping key is created on the token: AES-256, token object, sensitive, not extractable', async () => {
    const h = holder();
    await h.ensureKey();
    await h.close();
    // Inspect it with a separate PKCS#11 session (the holder is closed, so the module is finalized).
    const p = new pkcs11js.PKCS11();
    p.load(hsm.module);
    p.C_Initialize();
    try {
      const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === hsm.label)!;
      const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      p.C_Login(s, pkcs11js.CKU_USER, hsm.pin);
      p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_LABEL, value: 'coffer-master-wrap-octest12345' }]);
      const found = p.C_FindObjects(s, 5);
      p.C_FindObjectsFinal(s);
      assert.equal(found.length, 1);
      const attrs = p.C_GetAttributeValue(s, found[0]!, [
        { type: pkcs11js.CKA_TOKEN }, { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_NEVER_EXTRACTABLE }, { type: pkcs11js.CKA_VALUE_LEN }, { type: pkcs11js.CKA_KEY_TYPE },
      ]);
      assert.deepEqual(attrs.slice(0, 4).map((a) => a.value[0]), [1, 1, 0, 1]);
      assert.equal(attrs[4]!.value.readUInt32LE(0), 32);
      assert.equal(attrs[5]!.value.readUInt32LE(0), pkcs11js.CKK_AES);
      assert.throws(() => p.C_GetAttributeValue(s, found[0]!, [{ type: pkcs11js.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
      p.C_CloseSession(s);
    } finally { p.C_Finalize(); p.close(); }
  });

  test('CKM_AES_GCM: wrap/unwrap round-trips; another AAD or a flipped byte is refused', async () => {
    const h = holder();
    try {
      const mk = randomBytes(32);
      const aad = Buffer.from('coffer master key 0123');
      const w = await h.wrap(mk, aad);
      assert.equal(w[0], 1);
      assert.equal(w.length, 1 + 12 + 32 + 16);
      assert.ok(!w.includes(mk.subarray(0, 8)));
      assert.deepEqual(await h.unwrap(w, aad), mk);
      await assert.rejects(h.unwrap(w, Buffer.from('coffer master key 0124')), CryptoError);
      const bad = Buffer.from(w); bad[bad.length - 3]! ^= 1;
      await assert.rejects(h.unwrap(bad, aad), CryptoError);
      assert.equal(h.describe().tokenOperations, 4);
    } finally { await h.close(); }
  });

  test('CKM_AES_KEY_WRAP_PAD (forced, as on a token without GCM): key wrap-only, round-trip, AAD bound, tamper refused, no copy left', async () => {
    const h = holder({ keyLabel: 'kwp-key', mechanism: 'aes-key-wrap-pad' });
    const mk = randomBytes(32);
    const aad = Buffer.from('coffer master key 0123');
    let w: Buffer;
    try {
      w = await h.wrap(mk, aad);
      assert.equal(h.describe().mechanism, 'CKM_AES_KEY_WRAP_PAD');
      assert.equal(h.id, 'pkcs11:unit-token/kwp-key', 'a non-default key label is part of the holder id');
      assert.equal(w[0], 2);
      assert.equal(w.length, 1 + 32 + 16 + 8, 'RFC 5649 of MK ‖ 16 bytes of SHA-256(AAD)');
      assert.ok(!w.includes(mk.subarray(0, 8)));
      assert.deepEqual(await h.unwrap(w, aad), mk);
      await assert.rejects(h.unwrap(w, Buffer.from('coffer master key 0124')), (e: Error) => e instanceof CryptoError && /could not be unwrapped by PKCS#11 key 'kwp-key'/.test(e.message));
      const bad = Buffer.from(w); bad[10]! ^= 1;
      await assert.rejects(h.unwrap(bad, aad), CryptoError);
    } finally { await h.close(); }
    const k = inspectKey(hsm.module, hsm.label, hsm.pin, 'kwp-key');
    // token, sensitive, not extractable, never extractable; encrypt off, wrap and unwrap on
    assert.deepEqual({ ...k, flags: k.flags }, { count: 1, flags: [1, 1, 0, 1, 0, 1, 1], valueLen: 32, keyType: pkcs11js.CKK_AES });
    // A holder in auto mode (which would choose GCM for new wrappings) still opens the KWP wrapping by its format byte.
    const auto = holder({ keyLabel: 'kwp-key' });
    try { assert.deepEqual(await auto.unwrap(w!, aad), mk); } finally { await auto.close(); }
  });

  test('CKM_AES_CBC with a key check (forced, as on a YubiHSM 2 or Nitrokey HSM): round-trip, AAD bound, every altered byte refused', async () => {
    const h = holder({ keyLabel: 'cbc-key', mechanism: 'aes-cbc' });
    const mk = randomBytes(32);
    const aad = Buffer.from('coffer master key 0123');
    let w: Buffer;
    try {
      w = await h.wrap(mk, aad);
      assert.equal(h.describe().mechanism, 'CKM_AES_CBC');
      assert.equal(w[0], 3);
      assert.equal(w.length, 1 + 16 + 32 + 16, 'format byte, IV, two ciphertext blocks, key check');
      assert.ok(!w.includes(mk.subarray(0, 8)));
      assert.notDeepEqual(await h.wrap(mk, aad), w, 'a fresh IV per wrapping');
      assert.deepEqual(await h.unwrap(w, aad), mk);
      await assert.rejects(h.unwrap(w, Buffer.from('coffer master key 0124')), (e: Error) => e instanceof CryptoError && /could not be unwrapped by PKCS#11 key 'cbc-key'/.test(e.message));
      // IV, each ciphertext block and the check: a flipped bit anywhere is refused, never a wrong key
      for (const at of [1, 16, 17, 33, 48, 49, w.length - 1]) {
        const bad = Buffer.from(w); bad[at]! ^= 0x40;
        await assert.rejects(h.unwrap(bad, aad), CryptoError, `byte ${at} altered`);
      }
      await assert.rejects(h.unwrap(w.subarray(0, w.length - 16), aad), CryptoError, 'truncated');
    } finally { await h.close(); }
    const k = inspectKey(hsm.module, hsm.label, hsm.pin, 'cbc-key');
    // token, sensitive, not extractable, never extractable; encrypt on, wrap and unwrap off
    assert.deepEqual(k, { count: 1, flags: [1, 1, 0, 1, 1, 0, 0], valueLen: 32, keyType: pkcs11js.CKK_AES });
    // A holder in auto mode (GCM for new wrappings) opens the CBC wrapping by its format byte.
    const auto = holder({ keyLabel: 'cbc-key' });
    try { assert.deepEqual(await auto.unwrap(w!, aad), mk); } finally { await auto.close(); }
  });

  test('a GCM key is refused for key wrap (forcing another mechanism does not weaken the key)', async () => {
    const g = holder({ keyLabel: 'gcm-key' });
    try { await g.ensureKey(); assert.equal(g.describe().mechanism, 'CKM_AES_GCM'); } finally { await g.close(); }
    assert.deepEqual(inspectKey(hsm.module, hsm.label, hsm.pin, 'gcm-key').flags, [1, 1, 0, 1, 1, 0, 0]);
    const k = holder({ keyLabel: 'gcm-key', mechanism: 'aes-key-wrap-pad' });
    try {
      await assert.rejects(k.wrap(randomBytes(32), Buffer.from('x')), (e: Error) => e instanceof CryptoError && /refused to wrap the master key with aes-key-wrap-pad: CKR_KEY_FUNCTION_NOT_PERMITTED/.test(e.message));
    } finally { await k.close(); }
  });

  test('PIN from a file (first line); an empty PIN file is refused', async () => {
    const file = join(hsm.dir, 'pin');
    writeFileSync(file, `${hsm.pin}\nignored second line\n`, { mode: 0o600 });
    const saved = process.env.PKCS11_PIN;
    delete process.env.PKCS11_PIN;
    try {
      const h = holder({ pinFile: file });
      try {
        await h.open();
        assert.equal(h.describe().pinSource, `file:${file}`);
        assert.equal(h.describe().connected, true);
      } finally { await h.close(); }
      writeFileSync(file, '\n');
      await assert.rejects(holder({ pinFile: file }).open(), (e: Error) => e instanceof ConfigError && /PIN file .* is empty/.test(e.message));
    } finally { process.env.PKCS11_PIN = saved; }
  });

  test('errors name the cause: token missing, wrong PIN, no PIN, module missing, key missing', async () => {
    await assert.rejects(holder({ tokenLabel: 'nope' }).open(), (e: Error) => e instanceof ConfigError && e.message === `PKCS#11 token 'nope' not found in module ${hsm.module}`);
    await assert.rejects(holder({ pinEnv: 'COFFER_TEST_WRONG_PIN' }).open(), /COFFER_TEST_WRONG_PIN is not set/);
    process.env.COFFER_TEST_WRONG_PIN = '00000000';
    await assert.rejects(holder({ pinEnv: 'COFFER_TEST_WRONG_PIN' }).open(), (e: Error) => e instanceof AuthenticationError && /PKCS#11 login failed: wrong PIN/.test(e.message));
    await assert.rejects(holder({ pinFile: '/nonexistent/pin' }).open(), /PIN file \/nonexistent\/pin cannot be read/);
    await assert.rejects(holder({ module: '/nonexistent/libpkcs11.so' }).open(), /PKCS#11 module \/nonexistent\/libpkcs11.so could not be loaded/);
    const h = holder({ keyLabel: 'no-such-key' });
    try {
      await assert.rejects(h.unwrap(Buffer.alloc(40, 1), Buffer.alloc(1)), /PKCS#11 key 'no-such-key' not found on token 'unit-token'/);
    } finally { await h.close(); }
  });
});
