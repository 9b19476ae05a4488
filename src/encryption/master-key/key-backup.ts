import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { CryptoError, ValidationError } from '../../errors.ts';
import type { KeyStore } from '../../keys/key-store.ts';

/**
 * Password-protected archive of every key file:
 * "CFKB" ‖ version(1) ‖ log2 N(1) ‖ r(1) ‖ p(1) ‖ salt(16) ‖ nonce(12) ‖ AES-256-GCM(scrypt(password), JSON bundle) ‖ tag(16),
 * with the 36 header bytes as AAD.
 */
const MAGIC = Buffer.from('CFKB', 'latin1');
const HEAD = 36;

export interface ScryptParams { readonly logN: number; readonly r: number; readonly p: number }
/** OWASP minimum for scrypt: N = 2^17, r = 8, p = 1 (128 MiB). */
export const DEFAULT_SCRYPT: ScryptParams = { logN: 17, r: 8, p: 1 };

function derive(password: string, salt: Buffer, s: ScryptParams): Promise<Buffer> {
  const N = 2 ** s.logN;
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, 32, { N, r: s.r, p: s.p, maxmem: 256 * N * s.r + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key))));
}

interface Bundle { format: 'coffer-key-backup-v1'; created: string; files: { path: string; data: string }[] }

/** Builds the archive of all key files in `store`. @throws ValidationError for an empty password. */
export async function createKeyBackup(store: KeyStore, password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<Buffer> {
  if (!password) throw new ValidationError('a backup password is required');
  const files = [];
  for (const path of await store.allFiles()) files.push({ path, data: (await store.readRelative(path)).toString('base64') });
  const bundle: Bundle = { format: 'coffer-key-backup-v1', created: new Date().toISOString(), files };
  const salt = randomBytes(16), nonce = randomBytes(12);
  const head = Buffer.concat([MAGIC, Buffer.from([1, params.logN, params.r, params.p]), salt, nonce]);
  const key = await derive(password, salt, params);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(head);
  const ct = Buffer.concat([c.update(JSON.stringify(bundle), 'utf8'), c.final()]);
  return Buffer.concat([head, ct, c.getAuthTag()]);
}

/**
 * Decrypts an archive and writes every key file into `store` (atomically, file by file).
 * @throws CryptoError "wrong password or damaged backup" / "not a Coffer key backup".
 */
export async function restoreKeyBackup(store: KeyStore, archive: Buffer, password: string): Promise<{ files: number }> {
  if (archive.length < HEAD + 16 || !archive.subarray(0, 4).equals(MAGIC)) throw new CryptoError('malformed', 'not a Coffer key backup');
  if (archive[4] !== 1) throw new CryptoError('unsupported', `unsupported key backup version ${archive[4]}`);
  const params = { logN: archive[5]!, r: archive[6]!, p: archive[7]! };
  if (params.logN < 10 || params.logN > 22 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) throw new CryptoError('malformed', 'key backup has invalid KDF parameters');
  const head = archive.subarray(0, HEAD);
  const key = await derive(password, archive.subarray(8, 24), params);
  const d = createDecipheriv('aes-256-gcm', key, archive.subarray(24, 36));
  d.setAAD(head);
  d.setAuthTag(archive.subarray(archive.length - 16));
  let json: string;
  try {
    json = Buffer.concat([d.update(archive.subarray(HEAD, archive.length - 16)), d.final()]).toString('utf8');
  } catch (err) {
    throw new CryptoError('wrong-key', 'wrong password or damaged key backup', { cause: err });
  }
  const bundle = JSON.parse(json) as Bundle;
  if (bundle.format !== 'coffer-key-backup-v1') throw new CryptoError('malformed', 'not a Coffer key backup bundle');
  for (const f of bundle.files) await store.writeRelative(f.path, Buffer.from(f.data, 'base64'));
  return { files: bundle.files.length };
}
