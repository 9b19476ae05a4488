/**
 * Pkcs11KeyHolder against SoftHSM2 directly: the wrapping key is created non-extractable and
 * sensitive on the token; GCM wrappings round-trip and are bound to their AAD; a token
 * missing, a wrong PIN and a missing key are refused with the cause named.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { Pkcs11KeyHolder } from '../../src/encryption/pkcs11-key-holder.ts';
import { AuthenticationError, ConfigError, CryptoError } from '../../src/errors.ts';
import { createSoftHsm, softhsmSkipReason, type SoftHsmToken } from '../support/softhsm.ts';

const skip = softhsmSkipReason();
if (skip) console.log(`# skipping PKCS#11 tests: ${skip}`);

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
