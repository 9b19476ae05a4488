import { CryptoError } from '../../errors.ts';

/** JSON shape of the master key file `master_<id>.masterKey` (system scope). */
export interface MasterKeyFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'master';
  /** 16-byte key id, hex. */
  readonly id: string;
  readonly created: string;
  /** How `wrapped` is protected: AES-256-GCM under HKDF-SHA256(secret, salt = instance id). */
  readonly wrap: 'secret-hkdf-aes256gcm';
  /** base64 of nonce ‖ ciphertext ‖ tag. */
  readonly wrapped: string;
}

/** JSON shape of a user root key file `rootKey_<id>.key` (user scope). */
export interface UserRootKeyFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'user-root';
  readonly uid: string;
  readonly id: string;
  readonly created: string;
  /**
   * Master-key mode: wrapped by the master key (`id` = master key id). Per-user-key mode:
   * `user-x25519`, sealed to the user's X25519 public key (`id` = public key id; see user-keys.ts).
   */
  readonly wrappedBy: { readonly type: 'master' | 'user-x25519'; readonly id: string };
  readonly wrapped: string;
}

/** `master.json` (system scope): which master key wraps new root keys, and which are being retired. */
export interface MasterPointerFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'master-pointer';
  readonly current: string;
  readonly retiring: readonly string[];
}

export const MASTER_POINTER = 'master.json';
export const masterFileName = (idHex: string): string => `master_${idHex}.masterKey`;
export const rootKeyFileName = (idHex: string): string => `rootKey_${idHex}.key`;
export const ROOT_KEY_FILE = /^rootKey_([0-9a-f]{32})\.key$/;
export const MASTER_FILE = /^master_([0-9a-f]{32})\.masterKey$/;

/** Parses a key file's JSON. @throws CryptoError naming the file when it is not a Coffer key file of that kind. */
export function parseKeyFile<T extends { kind: string }>(buf: Buffer, kind: T['kind'], name: string): T {
  let v: unknown;
  try { v = JSON.parse(buf.toString('utf8')); } catch { throw new CryptoError('malformed', `key file ${name} is not valid JSON (damaged key storage)`); }
  const o = v as { format?: string; kind?: string };
  if (!o || o.format !== 'coffer-key-v1' || o.kind !== kind) throw new CryptoError('malformed', `key file ${name} is not a Coffer ${kind} key file`);
  return v as T;
}
