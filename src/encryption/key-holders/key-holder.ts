import { CryptoError, NotFoundError } from '../../errors.ts';
import { KeyStore, SYSTEM } from '../../keys/key-store.ts';
import { masterFileName, parseKeyFile } from '../master-key/key-files.ts';
import type { Pkcs11Mechanism } from './pkcs11-mechanisms.ts';

/**
 * What wraps the master key MK ("master key custody"). The config `secret` (default) or a key that
 * never leaves a PKCS#11 token. A holder is used at start (unwrap MK once; MK is then cached) and by
 * the rare operations that write a master key (enable, rotate, switching holders); per-file work never
 * touches it.
 */
export interface KeyHolder {
  /** `secret`, `pkcs11:<token label>` or `pkcs11:<token label>/<key label>` (non-default key label). */
  readonly id: string;
  readonly type: 'secret' | 'pkcs11';
  /** Name of the wrapping of master key `idHex` by this holder in the system key scope. */
  fileName(idHex: string): string;
  /** Value of the key file's `wrap` field (the algorithm). */
  readonly wrapAlgorithm: string;
  /**
   * Connects (PKCS#11: load the module, find the token, log in). Idempotent.
   * @throws ConfigError naming the cause (module, token or PIN source missing); AuthenticationError for a wrong PIN.
   */
  open(): Promise<void>;
  /** Wraps MK bound to `aad`. @throws what `open` throws; CryptoError when the token refuses. */
  wrap(mk: Buffer, aad: Buffer): Promise<Buffer>;
  /** Unwraps. @throws CryptoError when the wrapping does not open with this holder (wrong key or tampered). */
  unwrap(wrapped: Buffer, aad: Buffer): Promise<Buffer>;
  /** Non-secret facts for `key-holder:status` (never a PIN or key). */
  describe(): Record<string, unknown>;
  /** Creates the wrapping key if the holder has none yet (PKCS#11: on `key-holder:set`). */
  ensureKey?(): Promise<void>;
  /** Releases the token session (no-op for the secret). */
  close(): Promise<void>;
}

/** JSON of a master key wrapping (the `MasterKeyFile` of key-files.ts, widened to every holder). */
export interface HeldMasterKeyFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'master';
  readonly id: string;
  readonly created: string;
  readonly wrap: string;
  /** Holder id; absent in files written before holders existed (= `secret`). */
  readonly holder?: string;
  readonly wrapped: string;
}

/** AAD of a master key wrapping: "coffer master key" ‖ id (as in key-manager.ts). */
export const masterAad = (idHex: string): Buffer => Buffer.concat([Buffer.from('coffer master key', 'latin1'), Buffer.from(idHex, 'hex')]);

/** Any wrapping of a master key: `master_<id>.masterKey` (secret) or `master_<id>.<tag>.masterKey`. */
export const MASTER_WRAPPING_FILE = /^master_([0-9a-f]{32})(?:\.([a-z0-9-]+))?\.masterKey$/;

/** Holder id recorded in a wrapping file. */
export const holderOfFile = (f: HeldMasterKeyFile): string => f.holder ?? 'secret';

/** Every wrapping of master key `idHex` in the store: file name → holder id. */
export async function masterWrappings(store: KeyStore, idHex?: string): Promise<{ name: string; masterId: string; holder: string }[]> {
  const out: { name: string; masterId: string; holder: string }[] = [];
  for (const n of await store.list(SYSTEM)) {
    const m = MASTER_WRAPPING_FILE.exec(n);
    if (!m || (idHex !== undefined && m[1] !== idHex)) continue;
    const buf = await store.tryRead(SYSTEM, n);
    if (!buf) continue;
    let holder = '?';
    try { holder = holderOfFile(parseKeyFile<HeldMasterKeyFile>(buf, 'master', n)); } catch { /* damaged: reported as '?' */ }
    out.push({ name: n, masterId: m[1]!, holder });
  }
  return out;
}

/**
 * Unwraps master key `idHex` with `holder` from its wrapping file.
 * @throws NotFoundError when neither this holder's nor any wrapping exists; CryptoError naming the cause
 *   (wrapped by another holder than the configured one; the secret or token key does not open it).
 */
export async function unwrapMasterWith(store: KeyStore, holder: KeyHolder, idHex: string, aad: Buffer): Promise<Buffer> {
  const name = holder.fileName(idHex);
  const buf = await store.tryRead(SYSTEM, name);
  if (!buf) {
    const others = (await masterWrappings(store, idHex)).map((w) => w.holder);
    if (others.length === 0) throw new NotFoundError(`key file ${masterFileName(idHex)} is missing from the key storage (${store.dirOf(SYSTEM)})`);
    throw new CryptoError('key-missing', `master key ${idHex} is held by ${others.map((o) => `'${o}'`).join(', ')}, but the config's keyHolder is '${holder.id}': the key storage and the config secret alone cannot open it. Configure the holder that wraps it (keyHolder in the config file, see ./occ encryption:key-holder:status); nothing was changed.`);
  }
  const f = parseKeyFile<HeldMasterKeyFile>(buf, 'master', name);
  if (f.id !== idHex || holderOfFile(f) !== holder.id) throw new CryptoError('wrong-binding', `key file ${name} names master key ${f.id} held by '${holderOfFile(f)}', expected ${idHex} held by '${holder.id}': key storage was altered`);
  try {
    return await holder.unwrap(Buffer.from(f.wrapped, 'base64'), aad);
  } catch (err) {
    if (holder.type === 'secret') {
      throw new CryptoError('wrong-key', `the config secret does not match the key storage: master key ${idHex} in ${store.dirOf(SYSTEM)} could not be unwrapped with the configured secret and instance id. Restore the config file's original "secret" (or point the key storage root at the keys that belong to this config); nothing was changed.`, { cause: err });
    }
    if (err instanceof CryptoError) throw err;
    throw new CryptoError('wrong-key', `master key ${idHex} could not be unwrapped by ${holder.id}: ${(err as Error).message}; nothing was changed`, { cause: err });
  }
}

/** Wraps `mk` with `holder` and writes the wrapping file (atomic). Returns the file name. */
export async function writeMasterWith(store: KeyStore, holder: KeyHolder, idHex: string, mk: Buffer, aad: Buffer, created = new Date().toISOString()): Promise<string> {
  const file: HeldMasterKeyFile = {
    format: 'coffer-key-v1', kind: 'master', id: idHex, created, wrap: holder.wrapAlgorithm,
    ...(holder.type === 'secret' ? {} : { holder: holder.id }),
    wrapped: (await holder.wrap(mk, aad)).toString('base64'),
  };
  const name = holder.fileName(idHex);
  await store.write(SYSTEM, name, JSON.stringify(file, null, 1));
  return name;
}

/** Deletes every wrapping of master key `idHex` (all holders). */
export async function deleteMasterWrappings(store: KeyStore, idHex: string): Promise<void> {
  for (const w of await masterWrappings(store, idHex)) await store.delete(SYSTEM, w.name);
}

/** The `keyHolder` config entry (see config.ts). */
export type KeyHolderConfig =
  | { readonly type: 'secret' }
  | { readonly type: 'pkcs11'; readonly module: string; readonly tokenLabel: string; readonly pinEnv?: string; readonly pinFile?: string; readonly keyLabel?: string; readonly mechanism?: Pkcs11Mechanism };

/**
 * Builds (does not open) the holder a config names. The PKCS#11 code (native addon) is loaded only
 * when configured.
 * @throws ConfigError when the PKCS#11 binding cannot be loaded.
 */
export async function createKeyHolder(c: { secret: string; instanceid: string; keyHolder?: KeyHolderConfig }): Promise<KeyHolder> {
  const kh = c.keyHolder ?? { type: 'secret' as const };
  if (kh.type === 'secret') {
    const { SecretKeyHolder } = await import('./secret-key-holder.ts');
    return new SecretKeyHolder(c.secret, c.instanceid);
  }
  const { Pkcs11KeyHolder } = await import('./pkcs11-key-holder.ts');
  return new Pkcs11KeyHolder({ ...kh, instanceId: c.instanceid });
}
