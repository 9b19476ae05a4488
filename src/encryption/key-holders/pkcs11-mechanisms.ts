import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { NotSupportedError } from '../../errors.ts';

/**
 * How the token wraps MK: `auto` (the first the token offers, in this order) or one forced.
 * - `aes-gcm`: C_Encrypt/C_Decrypt with CKM_AES_GCM;
 * - `aes-key-wrap-pad`: C_WrapKey/C_UnwrapKey with CKM_AES_KEY_WRAP_PAD (RFC 5649);
 * - `aes-cbc`: C_Encrypt/C_Decrypt with CKM_AES_CBC plus a key check value (for tokens whose AES is
 *   ECB/CBC only, such as YubiHSM 2 and Nitrokey HSM / SmartCard-HSM).
 */
export type Pkcs11Mechanism = 'auto' | WrapMechanism;
export type WrapMechanism = 'aes-gcm' | 'aes-key-wrap-pad' | 'aes-cbc';
export const PKCS11_MECHANISMS = ['auto', 'aes-gcm', 'aes-key-wrap-pad', 'aes-cbc'] as const;

/** What a token offers for the wrapping mechanisms (from C_GetMechanismList/C_GetMechanismInfo). */
export interface TokenMechanisms {
  /** CKM_AES_GCM with CKF_ENCRYPT and CKF_DECRYPT. */
  readonly gcm: boolean;
  /** CKM_AES_KEY_WRAP_PAD with CKF_WRAP and CKF_UNWRAP. */
  readonly kwp: boolean;
  /** CKM_AES_CBC with CKF_ENCRYPT and CKF_DECRYPT (absent: not offered). */
  readonly cbc?: boolean;
}

const ORDER: readonly WrapMechanism[] = ['aes-gcm', 'aes-key-wrap-pad', 'aes-cbc'];

/** The PKCS#11 name and the functions each mechanism needs. */
export const MECHANISM_NAMES: Readonly<Record<WrapMechanism, string>> = {
  'aes-gcm': 'CKM_AES_GCM (encrypt/decrypt)',
  'aes-key-wrap-pad': 'CKM_AES_KEY_WRAP_PAD (wrap/unwrap)',
  'aes-cbc': 'CKM_AES_CBC (encrypt/decrypt)',
};

function offers(m: WrapMechanism, offered: TokenMechanisms): boolean {
  return m === 'aes-gcm' ? offered.gcm : m === 'aes-key-wrap-pad' ? offered.kwp : offered.cbc === true;
}

/**
 * The mechanism for new wrappings: the forced one, or with `auto` the first the token offers of
 * AES-GCM, AES key wrap with padding and AES-CBC. Existing wrappings are opened with the mechanism
 * their first byte names.
 * @throws NotSupportedError naming what was wanted and what the token offers.
 */
export function chooseMechanism(pref: Pkcs11Mechanism, offered: TokenMechanisms, tokenLabel: string): WrapMechanism {
  const wanted = pref === 'auto' ? ORDER : [pref];
  const got = wanted.find((m) => offers(m, offered));
  if (got) return got;
  const has = ORDER.filter((m) => offers(m, offered)).map((m) => MECHANISM_NAMES[m]).join(', ') || 'none of them';
  const want = wanted.map((m) => MECHANISM_NAMES[m]).join(' or ');
  throw new NotSupportedError(`PKCS#11 token '${tokenLabel}' does not offer ${want}, which Coffer needs to wrap the master key (it offers ${has}); see docs/HSM.md`);
}

/** First byte of a stored wrapping: which mechanism opens it. */
export const FORMAT_BYTE: Readonly<Record<WrapMechanism, number>> = { 'aes-gcm': 1, 'aes-key-wrap-pad': 2, 'aes-cbc': 3 };

/** Bytes of SHA-256(AAD) appended to MK before key wrap (binds the AAD; KWP itself has none). */
export const KWP_AAD_TAG = 16;

/** SHA-256(AAD)[0..16], appended to MK inside a KWP wrapping. */
export function kwpAadTag(aad: Buffer): Buffer {
  return createHash('sha256').update(aad).digest().subarray(0, KWP_AAD_TAG);
}

/** CBC wrapping: `0x03 ‖ iv(16) ‖ CBC(MK) (32, no padding) ‖ check(16)`. */
export const CBC_IV_SIZE = 16;
export const CBC_CHECK_SIZE = 16;
const CBC_CHECK_LABEL = Buffer.from('coffer pkcs11 aes-cbc key check', 'latin1');

/**
 * Key check value of a CBC wrapping: HMAC-SHA256(MK, label ‖ AAD)[0..16]. CBC has no integrity of its
 * own; MK is 32 random bytes (two whole blocks, no padding, so no padding oracle), and an altered
 * ciphertext, IV or AAD decrypts to a key whose check does not match (chance 2^-128), so the unwrap
 * is refused instead of returning a wrong key. Only someone who knows MK can make a matching check.
 */
export function cbcKeyCheck(mk: Buffer, aad: Buffer): Buffer {
  return createHmac('sha256', mk).update(CBC_CHECK_LABEL).update(aad).digest().subarray(0, CBC_CHECK_SIZE);
}

/** Constant-time comparison of a key check value. */
export function keyCheckMatches(expected: Buffer, got: Buffer): boolean {
  return expected.length === got.length && timingSafeEqual(expected, got);
}
