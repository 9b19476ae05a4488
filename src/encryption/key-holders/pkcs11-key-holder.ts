import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { AppError, AuthenticationError, ConfigError, CryptoError } from '../../errors.ts';
import type { KeyHolder } from './key-holder.ts';
import {
  CBC_CHECK_SIZE, CBC_IV_SIZE, FORMAT_BYTE, KWP_AAD_TAG, MECHANISM_NAMES, cbcKeyCheck, chooseMechanism, keyCheckMatches, kwpAadTag,
  type Pkcs11Mechanism, type TokenMechanisms, type WrapMechanism,
} from './pkcs11-mechanisms.ts';

export { chooseMechanism, type Pkcs11Mechanism, type TokenMechanisms } from './pkcs11-mechanisms.ts';

type Pkcs11 = InstanceType<typeof pkcs11js.PKCS11>;
type Handle = Buffer;

export interface Pkcs11KeyHolderOptions {
  /** Path of the vendor's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  module: string;
  tokenLabel: string;
  /** Environment variable holding the user PIN (default PKCS11_PIN when no pinFile). */
  pinEnv?: string;
  /** File holding the user PIN (first line). */
  pinFile?: string;
  /** Label of the AES key object; default `coffer-master-wrap-<instanceid>`. */
  keyLabel?: string;
  /** How the token wraps MK: `auto` (default: AES-GCM, else AES key wrap with padding, else AES-CBC), or one forced. */
  mechanism?: Pkcs11Mechanism;
  instanceId: string;
}

const IV_SIZE = 12;
const TAG_BITS = 128;

/**
 * A PKCS#11 library is process-global state (C_Initialize once per process): loaded modules are
 * shared by reference count, so several holders (tests, a switch between two tokens of one module)
 * can coexist; C_Finalize runs when the last one closes.
 */
const loaded = new Map<string, { p: Pkcs11; refs: number }>();

function ckr(err: unknown): string {
  return (err as { message?: string })?.message ?? String(err);
}

function acquire(module: string): Pkcs11 {
  const l = loaded.get(module);
  if (l) { l.refs++; return l.p; }
  const p = new pkcs11js.PKCS11();
  try {
    p.load(module);
  } catch (err) {
    throw new ConfigError(`PKCS#11 module ${module} could not be loaded: ${ckr(err)}`, { cause: err });
  }
  try {
    p.C_Initialize();
  } catch (err) {
    if (ckr(err) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw new ConfigError(`PKCS#11 module ${module} failed to initialize: ${ckr(err)}`, { cause: err });
  }
  loaded.set(module, { p, refs: 1 });
  return p;
}

function release(module: string): void {
  const l = loaded.get(module);
  if (!l) return;
  if (--l.refs > 0) return;
  loaded.delete(module);
  try { l.p.C_Finalize(); } catch { /* already finalized */ }
  try { l.p.close(); } catch { /* ignore */ }
}

/**
 * Template of the short-lived session object that carries the master key through
 * CKM_AES_KEY_WRAP_PAD: a generic secret that never reaches the token's storage and whose value can
 * be read (wrap) or written (unwrap) by this session only.
 */
const SESSION_SECRET: pkcs11js.Template = [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
  { type: pkcs11js.CKA_TOKEN, value: false },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: false },
  { type: pkcs11js.CKA_EXTRACTABLE, value: true },
];

/**
 * Master key custody on a PKCS#11 token: MK is encrypted by a non-extractable, sensitive AES-256 key
 * object that lives on the token: by default C_Encrypt/C_Decrypt with CKM_AES_GCM (96-bit random IV,
 * 128-bit tag, the AAD bound). The wrapping key never leaves the token; without the token and its PIN,
 * the key storage and the config secret do not open MK. Holder id: `pkcs11:<token label>`, plus
 * `/<key label>` when the key label is not the default (so one id always means one wrapping file).
 *
 * Wrapped value: `0x01 ‖ iv(12) ‖ ciphertext ‖ tag(16)` (CKM_AES_GCM), or, on tokens without GCM
 * (or with `mechanism: 'aes-key-wrap-pad'`), `0x02 ‖ KWP(MK ‖ SHA-256(AAD)[0..16])`: MK is imported
 * as a session-only generic secret and wrapped with C_WrapKey / CKM_AES_KEY_WRAP_PAD (RFC 5649); the
 * unwrap creates a session object whose value is read once and destroyed. Tokens with neither (or
 * `mechanism: 'aes-cbc'`) get `0x03 ‖ iv(16) ‖ CBC(MK) ‖ HMAC-SHA256(MK, label ‖ AAD)[0..16]`, the
 * key check refusing any altered wrapping (see cbcKeyCheck). The first byte decides how an existing
 * wrapping is opened.
 */
export class Pkcs11KeyHolder implements KeyHolder {
  readonly id: string;
  readonly type = 'pkcs11' as const;
  readonly wrapAlgorithm = 'pkcs11-aes256';
  readonly keyLabel: string;
  readonly #o: Pkcs11KeyHolderOptions;
  #p: Pkcs11 | undefined;
  #session: Handle | undefined;
  #slot: Handle | undefined;
  #key: Handle | undefined;
  #ops = 0;
  #mech: WrapMechanism | undefined;
  #offered: TokenMechanisms | undefined;
  #tokenInfo: Record<string, string> = {};

  constructor(o: Pkcs11KeyHolderOptions) {
    this.#o = o;
    const defaultLabel = `coffer-master-wrap-${o.instanceId}`;
    this.keyLabel = o.keyLabel ?? defaultLabel;
    // The id names the wrapping key: two holders with one id have one wrapping file (see fileName).
    this.id = this.keyLabel === defaultLabel ? `pkcs11:${o.tokenLabel}` : `pkcs11:${o.tokenLabel}/${this.keyLabel}`;
  }

  /** `master_<id>.p11-<16 hex of SHA-256(token label ‖ 0 ‖ key label)>.masterKey`. */
  fileName(idHex: string): string {
    const tag = createHash('sha256').update(`${this.#o.tokenLabel}\0${this.keyLabel}`, 'utf8').digest('hex').slice(0, 16);
    return `master_${idHex}.p11-${tag}.masterKey`;
  }

  #pin(): string {
    const o = this.#o;
    if (o.pinFile) {
      let text: string;
      try { text = readFileSync(o.pinFile, 'utf8'); } catch (err) {
        throw new ConfigError(`PKCS#11 PIN file ${o.pinFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? ckr(err)}`);
      }
      const pin = text.split(/\r?\n/)[0] ?? '';
      if (!pin) throw new ConfigError(`PKCS#11 PIN file ${o.pinFile} is empty`);
      return pin;
    }
    const name = o.pinEnv ?? 'PKCS11_PIN';
    const pin = process.env[name];
    if (!pin) throw new ConfigError(`PKCS#11 PIN: environment variable ${name} is not set (keyHolder.pinEnv)`);
    return pin;
  }

  /**
   * Loads the module, finds the token by label, logs in.
   * @throws ConfigError "PKCS#11 token 'X' not found in module M", module/PIN-source problems;
   *   AuthenticationError "PKCS#11 login failed: wrong PIN …" (also for a locked PIN).
   */
  async open(): Promise<void> {
    if (this.#session) return;
    const { module, tokenLabel } = this.#o;
    const pin = this.#pin();
    const p = acquire(module);
    try {
      let slot: Handle | undefined;
      for (const s of p.C_GetSlotList(true)) {
        const ti = p.C_GetTokenInfo(s);
        if (ti.label.trimEnd() === tokenLabel) {
          slot = s;
          this.#tokenInfo = { manufacturer: ti.manufacturerID.trimEnd(), model: ti.model.trimEnd(), serial: ti.serialNumber.trimEnd() };
          break;
        }
      }
      if (!slot) throw new ConfigError(`PKCS#11 token '${tokenLabel}' not found in module ${module}`);
      const session = p.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
      try {
        p.C_Login(session, pkcs11js.CKU_USER, pin);
      } catch (err) {
        const code = ckr(err);
        if (code !== 'CKR_USER_ALREADY_LOGGED_IN') {
          try { p.C_CloseSession(session); } catch { /* ignore */ }
          if (code === 'CKR_PIN_INCORRECT') throw new AuthenticationError(`PKCS#11 login failed: wrong PIN for token '${tokenLabel}'`);
          if (code === 'CKR_PIN_LOCKED') throw new AuthenticationError(`PKCS#11 login failed: the PIN of token '${tokenLabel}' is locked`);
          throw new AuthenticationError(`PKCS#11 login failed on token '${tokenLabel}': ${code}`);
        }
      }
      this.#p = p;
      this.#slot = slot;
      this.#session = session;
    } catch (err) {
      release(module);
      throw err;
    }
  }

  #find(): Handle | undefined {
    const p = this.#p!;
    const s = this.#session!;
    p.C_FindObjectsInit(s, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_LABEL, value: this.keyLabel },
    ]);
    const found = p.C_FindObjects(s, 2);
    p.C_FindObjectsFinal(s);
    if (found.length > 1) throw new CryptoError('malformed', `PKCS#11 token '${this.#o.tokenLabel}' holds several AES keys labelled '${this.keyLabel}'; remove the extra ones`);
    const key = found[0];
    if (!key) return undefined;
    const [sens, extr] = p.C_GetAttributeValue(s, key, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }]);
    if (sens?.value[0] !== 1 || extr?.value[0] !== 0) {
      throw new CryptoError('unsafe-key', `PKCS#11 key '${this.keyLabel}' on token '${this.#o.tokenLabel}' is extractable or not sensitive; refusing to use it (create it with CKA_SENSITIVE=true, CKA_EXTRACTABLE=false)`);
    }
    return key;
  }

  async #keyHandle(create: boolean): Promise<Handle> {
    await this.open();
    if (this.#key) return this.#key;
    let key = this.#find();
    if (!key && create) {
      const kwp = this.#mechanism() === 'aes-key-wrap-pad';
      key = this.#p!.C_GenerateKey(this.#session!, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: !kwp },
        { type: pkcs11js.CKA_DECRYPT, value: !kwp },
        { type: pkcs11js.CKA_WRAP, value: kwp },
        { type: pkcs11js.CKA_UNWRAP, value: kwp },
        { type: pkcs11js.CKA_LABEL, value: this.keyLabel },
        { type: pkcs11js.CKA_ID, value: Buffer.from(this.keyLabel, 'utf8') },
      ]);
    }
    if (!key) throw new CryptoError('key-missing', `PKCS#11 key '${this.keyLabel}' not found on token '${this.#o.tokenLabel}' (module ${this.#o.module}): the master key cannot be unwrapped`);
    this.#key = key;
    return key;
  }

  /** Finds the wrapping key, creating it on the token if missing (used by `key-holder:set`). */
  async ensureKey(): Promise<void> { await this.#keyHandle(true); }

  #offeredMechanisms(): TokenMechanisms {
    if (this.#offered) return this.#offered;
    const p = this.#p!;
    const slot = this.#slot!;
    const list = p.C_GetMechanismList(slot);
    const flags = (m: number) => (list.includes(m) ? p.C_GetMechanismInfo(slot, m).flags : 0);
    const both = (f: number, a: number, b: number) => (f & a) !== 0 && (f & b) !== 0;
    this.#offered = {
      gcm: both(flags(pkcs11js.CKM_AES_GCM), pkcs11js.CKF_ENCRYPT, pkcs11js.CKF_DECRYPT),
      kwp: both(flags(pkcs11js.CKM_AES_KEY_WRAP_PAD), pkcs11js.CKF_WRAP, pkcs11js.CKF_UNWRAP),
      cbc: both(flags(pkcs11js.CKM_AES_CBC), pkcs11js.CKF_ENCRYPT, pkcs11js.CKF_DECRYPT),
    };
    return this.#offered;
  }

  /** The mechanism for new wrappings (see chooseMechanism). @throws NotSupportedError. */
  #mechanism(): WrapMechanism {
    this.#mech ??= chooseMechanism(this.#o.mechanism ?? 'auto', this.#offeredMechanisms(), this.#o.tokenLabel);
    return this.#mech;
  }

  /** KWP: imports `value` as a session-only generic secret, wraps it with the token key, destroys the copy. */
  #kwpWrap(key: Handle, value: Buffer): Buffer {
    const p = this.#p!;
    const s = this.#session!;
    const obj = p.C_CreateObject(s, [...SESSION_SECRET, { type: pkcs11js.CKA_VALUE, value }]);
    try {
      return Buffer.from(p.C_WrapKey(s, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, key, obj, Buffer.alloc(value.length + 64)));
    } finally {
      try { p.C_DestroyObject(s, obj); } catch { /* session objects vanish with the session anyway */ }
    }
  }

  /** KWP: unwraps into a session-only generic secret, reads its value once, destroys it. */
  #kwpUnwrap(key: Handle, wrapped: Buffer): Buffer {
    const p = this.#p!;
    const s = this.#session!;
    const obj = p.C_UnwrapKey(s, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, key, wrapped, SESSION_SECRET);
    try {
      const [v] = p.C_GetAttributeValue(s, obj, [{ type: pkcs11js.CKA_VALUE }]);
      return Buffer.from(v!.value);
    } finally {
      try { p.C_DestroyObject(s, obj); } catch { /* ignore */ }
    }
  }

  /** Runs a GCM operation, trying the v2.40 parameter struct first and the older one if refused. */
  #gcm(op: 'enc' | 'dec', key: Handle, iv: Buffer, aad: Buffer, data: Buffer): Buffer {
    const p = this.#p!;
    const s = this.#session!;
    let last: unknown;
    for (const type of [pkcs11js.CK_PARAMS_AES_GCM_v240, pkcs11js.CK_PARAMS_AES_GCM]) {
      const mech = { mechanism: pkcs11js.CKM_AES_GCM, parameter: { type, iv, aad, ivBits: IV_SIZE * 8, tagBits: TAG_BITS } };
      try {
        if (op === 'enc') { p.C_EncryptInit(s, mech, key); return Buffer.from(p.C_Encrypt(s, data, Buffer.alloc(data.length + 64))); }
        p.C_DecryptInit(s, mech, key);
        return Buffer.from(p.C_Decrypt(s, data, Buffer.alloc(data.length + 64)));
      } catch (err) {
        last = err;
        if (ckr(err) !== 'CKR_MECHANISM_PARAM_INVALID') throw err;
      }
    }
    throw last;
  }

  /** CKM_AES_CBC without padding (whole blocks) through C_Encrypt/C_Decrypt, IV chosen by Coffer. */
  #cbc(op: 'enc' | 'dec', key: Handle, iv: Buffer, data: Buffer): Buffer {
    const p = this.#p!;
    const s = this.#session!;
    const mech = { mechanism: pkcs11js.CKM_AES_CBC, parameter: iv };
    const out = Buffer.alloc(data.length + 32);
    try {
      if (op === 'enc') { p.C_EncryptInit(s, mech, key); return Buffer.from(p.C_Encrypt(s, data, out)); }
      p.C_DecryptInit(s, mech, key);
      return Buffer.from(p.C_Decrypt(s, data, out));
    } finally {
      out.fill(0); // held MK's plaintext on decrypt
    }
  }

  /**
   * Creates the token key if missing.
   * @throws CryptoError when the token refuses; NotSupportedError when it offers none of the mechanisms.
   */
  async wrap(mk: Buffer, aad: Buffer): Promise<Buffer> {
    const key = await this.#keyHandle(true); // a new master key (enable, rotate, set) may create the token key
    this.#ops++;
    try {
      const mech = this.#mechanism();
      const fmt = Buffer.from([FORMAT_BYTE[mech]]);
      if (mech === 'aes-key-wrap-pad') return Buffer.concat([fmt, this.#kwpWrap(key, Buffer.concat([mk, kwpAadTag(aad)]))]);
      if (mech === 'aes-cbc') {
        if (mk.length % 16 !== 0) throw new Error(`aes-cbc wraps whole AES blocks only (the master key has ${mk.length} bytes)`);
        const iv = randomBytes(CBC_IV_SIZE);
        return Buffer.concat([fmt, iv, this.#cbc('enc', key, iv, mk), cbcKeyCheck(mk, aad)]);
      }
      const iv = randomBytes(IV_SIZE);
      return Buffer.concat([fmt, iv, this.#gcm('enc', key, iv, aad, mk)]);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new CryptoError('unsafe-key', `PKCS#11 token '${this.#o.tokenLabel}' refused to wrap the master key with ${this.#mech ?? 'its mechanism'}: ${ckr(err)}`, { cause: err });
    }
  }

  /**
   * Opens a wrapping with the mechanism its first byte names.
   * @throws CryptoError when the wrapping does not open with the token's key (other key, tampered, other AAD).
   */
  async unwrap(wrapped: Buffer, aad: Buffer): Promise<Buffer> {
    const key = await this.#keyHandle(false);
    this.#ops++;
    const fail = (cause?: unknown) => new CryptoError('wrong-key', `the master key could not be unwrapped by PKCS#11 key '${this.keyLabel}' on token '${this.#o.tokenLabel}': another token key, or the wrapped key was altered`, { cause });
    try {
      if (wrapped[0] === FORMAT_BYTE['aes-gcm'] && wrapped.length > 1 + IV_SIZE + TAG_BITS / 8) {
        return this.#gcm('dec', key, wrapped.subarray(1, 1 + IV_SIZE), aad, wrapped.subarray(1 + IV_SIZE));
      }
      if (wrapped[0] === FORMAT_BYTE['aes-key-wrap-pad'] && wrapped.length >= 1 + 24) {
        const v = this.#kwpUnwrap(key, wrapped.subarray(1));
        if (v.length <= KWP_AAD_TAG || !keyCheckMatches(kwpAadTag(aad), v.subarray(v.length - KWP_AAD_TAG))) { v.fill(0); throw fail(); }
        return Buffer.from(v.subarray(0, v.length - KWP_AAD_TAG));
      }
      const ctLen = wrapped.length - 1 - CBC_IV_SIZE - CBC_CHECK_SIZE;
      if (wrapped[0] === FORMAT_BYTE['aes-cbc'] && ctLen > 0 && ctLen % 16 === 0) {
        const mk = this.#cbc('dec', key, wrapped.subarray(1, 1 + CBC_IV_SIZE), wrapped.subarray(1 + CBC_IV_SIZE, 1 + CBC_IV_SIZE + ctLen));
        if (!keyCheckMatches(cbcKeyCheck(mk, aad), wrapped.subarray(wrapped.length - CBC_CHECK_SIZE))) { mk.fill(0); throw fail(); }
        return mk;
      }
    } catch (err) {
      if (err instanceof CryptoError) throw err;
      throw fail(err);
    }
    throw fail();
  }

  describe(): Record<string, unknown> {
    const o = this.#o;
    return {
      type: 'pkcs11', id: this.id, module: o.module, tokenLabel: o.tokenLabel, keyLabel: this.keyLabel,
      pinSource: o.pinFile ? `file:${o.pinFile}` : `env:${o.pinEnv ?? 'PKCS11_PIN'}`,
      mechanismPreference: o.mechanism ?? 'auto',
      connected: this.#session !== undefined, ...(this.#session ? { token: this.#tokenInfo, mechanism: this.#mechanismName() } : {}),
      tokenOperations: this.#ops,
    };
  }

  /** The PKCS#11 name of the mechanism for new wrappings, or why there is none. */
  #mechanismName(): string {
    try { return MECHANISM_NAMES[this.#mechanism()].split(' ')[0]!; } catch { return 'none (the token offers none of CKM_AES_GCM, CKM_AES_KEY_WRAP_PAD, CKM_AES_CBC)'; }
  }

  /** Closes the session; the module is finalized when no other holder uses it. */
  async close(): Promise<void> {
    if (!this.#session) return;
    try { this.#p!.C_CloseSession(this.#session); } catch { /* token gone */ }
    this.#session = undefined;
    this.#key = undefined;
    this.#p = undefined;
    this.#offered = undefined;
    this.#mech = undefined;
    release(this.#o.module);
  }
}
