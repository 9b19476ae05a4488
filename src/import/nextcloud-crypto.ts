import { createDecipheriv, createHash, createHmac, createPrivateKey, hkdfSync, pbkdf2Sync, timingSafeEqual, webcrypto } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CryptoError } from '../errors.ts';

/**
 * Nextcloud's server-side encryption formats (app `encryption`, module OC_DEFAULT_MODULE), read in
 * our own code on node:crypto: the ICrypto key-file wrapper, private keys, share keys and the
 * signed 8192-byte blocks of encrypted files. Pure: no paths, no database. The layouts are those of
 * Nextcloud's lib/private/Security/Crypto.php and apps/encryption/lib/Crypto/Crypt.php
 * (docs: /work/shared/reference/nextcloud-encryption.md, the fixtures' README).
 */

/** Size of a file header and of every encrypted block. */
export const NC_BLOCK_SIZE = 8192;
/** Metadata per signed block: "00iv00" + IV(16) + "00sig00" + hex HMAC(64) + "xxx". */
const SIGNED_META = 96;

/** The `key:value` pairs of an `HBEGIN:…:HEND` header. */
export type NcHeader = Map<string, string>;

/** Parses a header at the start of `buf`; undefined when `buf` does not start with HBEGIN. */
export function parseNcHeader(buf: Buffer): { header: NcHeader; length: number } | undefined {
  if (buf.subarray(0, 6).toString('latin1') !== 'HBEGIN') return undefined;
  const end = buf.indexOf('HEND');
  if (end < 0 || end > NC_BLOCK_SIZE) throw new CryptoError('malformed', 'Nextcloud header without HEND in its first 8192 bytes');
  const parts = buf.subarray(7, end).toString('latin1').split(':');
  const header: NcHeader = new Map();
  for (let i = 0; i + 1 < parts.length; i += 2) header.set(parts[i]!, parts[i + 1]!);
  return { header, length: end + 4 };
}

/**
 * Opens a key file (`*.privateKey`, `*.publicKey`, `*.shareKey`): ICrypto `hex(ct)|hex(iv)|hex(hmac)|v`
 * under the instance `secret`, holding JSON `{"key": base64(raw)}`. Files written before that wrapper
 * (NC < 20) are returned as they are.
 * @throws CryptoError when the HMAC does not match (wrong secret or a modified key file)
 */
export function openNcKeyFile(content: Buffer, secret: string): Buffer {
  const text = content.toString('latin1');
  const parts = text.split('|');
  if (parts.length < 3 || parts.length > 4 || !parts.slice(0, 3).every((p) => /^[0-9a-f]*$/i.test(p))) return content;
  const plain = icryptoDecrypt(parts, secret, true);
  let json: { key?: unknown };
  try {
    json = JSON.parse(plain.toString('utf8')) as { key?: unknown };
  } catch {
    return plain;
  }
  if (typeof json.key !== 'string') throw new CryptoError('malformed', 'Nextcloud key file without a key');
  return Buffer.from(json.key, 'base64');
}

/**
 * ICrypto::decrypt of a `hex(ct)|iv|hex(hmac)[|v]` string under `password` (e.g. an app token's
 * private key, encrypted under token . secret by Nextcloud's PublicKeyTokenProvider).
 * @throws CryptoError when the HMAC does not match (wrong password) or the format is not ICrypto's
 */
export function ncICryptoDecrypt(text: string, password: string): Buffer {
  const parts = text.split('|');
  if (parts.length < 3 || parts.length > 4) throw new CryptoError('malformed', 'not an ICrypto ciphertext');
  return icryptoDecrypt(parts, password);
}

/** The keys ICrypto derives from a password: AES-128 key and HMAC key. */
interface ICryptoKeys { readonly aesKey: Buffer; readonly hmacKey: string }

/**
 * Derived ICrypto keys of key files, by version and instance secret. An import opens one share key
 * per file, all under the secret: deriving (HKDF, SHA-512, PBKDF2 ×1000) once instead of per file.
 * Only the instance secret, which the configuration holds anyway, is a key here: passwords of users
 * (app tokens) are derived each time and not kept.
 */
const icryptoKeyCache = new Map<string, ICryptoKeys>();
const ICRYPTO_CACHE_MAX = 8;

function icryptoKeys(password: string, version: string | undefined, cache: boolean): ICryptoKeys {
  const id = `${version ?? ''}\0${password}`;
  const hit = cache ? icryptoKeyCache.get(id) : undefined;
  if (hit) return hit;
  let encKey: Buffer = Buffer.from(password, 'utf8');
  let macKey: Buffer = encKey;
  if (version === '3') {
    const km = Buffer.from(hkdfSync('sha512', Buffer.from(password, 'utf8'), Buffer.alloc(0), Buffer.alloc(0), 64));
    encKey = km.subarray(0, 32);
    macKey = km.subarray(32);
  }
  const keys: ICryptoKeys = {
    // calculateHMAC: key = hex(sha512(password . "a"))
    hmacKey: createHash('sha512').update(Buffer.concat([macKey, Buffer.from('a')])).digest('hex'),
    // phpseclib AES::setPassword: PBKDF2-SHA1, salt "phpseclib", 1000 rounds, 128-bit key
    aesKey: pbkdf2Sync(encKey, 'phpseclib', 1000, 16, 'sha1'),
  };
  if (!cache) return keys;
  if (icryptoKeyCache.size >= ICRYPTO_CACHE_MAX) icryptoKeyCache.delete(icryptoKeyCache.keys().next().value!);
  icryptoKeyCache.set(id, keys);
  return keys;
}

/** ICrypto::decrypt (lib/private/Security/Crypto.php), versions 1–3. */
function icryptoDecrypt(parts: string[], password: string, cacheKeys = false): Buffer {
  const [ctHex, ivText, macHex, version] = parts as [string, string, string, string | undefined];
  const { aesKey, hmacKey } = icryptoKeys(password, version, cacheKeys);
  const iv = version !== undefined && version >= '2' ? Buffer.from(ivText, 'hex') : Buffer.from(ivText, 'latin1');
  // HMAC-SHA512 over hexCt . ivAsStored
  const mac = createHmac('sha512', hmacKey).update(ctHex + ivText).digest();
  const given = Buffer.from(macHex, 'hex');
  if (given.length !== mac.length || !timingSafeEqual(given, mac)) {
    throw new CryptoError('tag-mismatch', 'Nextcloud key file: HMAC does not match (wrong secret, or the file was modified)');
  }
  try {
    // CBC, PKCS#7
    const d = createDecipheriv('aes-128-cbc', aesKey, iv);
    return Buffer.concat([d.update(Buffer.from(ctHex, 'hex')), d.final()]);
  } catch (err) {
    throw new CryptoError('wrong-key', 'Nextcloud key file cannot be decrypted', { cause: err });
  }
}

/** PBKDF2 rounds per private-key `keyFormat` (Crypt::generatePasswordHash). */
const KEY_FORMAT_ROUNDS: Record<string, number> = { hash2: 600_000, hash: 100_000 };

/**
 * Decrypts a raw private key (the opened `*.privateKey`): header + one signed block (version 0,
 * position 0) under PBKDF2-SHA256(password, sha256(uid . instanceid . secret)).
 * @returns the PEM private key
 * @throws CryptoError for a wrong password (the block signature fails) or an unknown format
 */
export function decryptNcPrivateKey(raw: Buffer, password: string, uid: string, instanceId: string, secret: string): string {
  return decryptNcPrivateKeyWithSalt(raw, password, ncPrivateKeySalt(uid, instanceId, secret));
}

/** The PBKDF2 salt of a user's private key: sha256(uid . instanceid . secret), raw. */
export function ncPrivateKeySalt(uid: string, instanceId: string, secret: string): Buffer {
  return createHash('sha256').update(uid + instanceId + secret, 'utf8').digest();
}

/**
 * decryptNcPrivateKey with the salt computed beforehand (so that a key kept for a user's first login
 * in Coffer needs neither the Nextcloud secret nor its instance id).
 * @throws CryptoError for a wrong password or an unknown format
 */
export function decryptNcPrivateKeyWithSalt(raw: Buffer, password: string, salt: Buffer): string {
  const parsed = parseNcHeader(raw);
  const header = parsed?.header ?? new Map<string, string>();
  const body = parsed ? raw.subarray(parsed.length) : raw;
  const format = header.get('keyFormat') ?? 'password';
  const cipher = header.get('cipher') ?? 'AES-256-CFB';
  let key: Buffer;
  if (format === 'password') {
    key = Buffer.from(password, 'utf8');
  } else {
    const rounds = KEY_FORMAT_ROUNDS[format];
    if (rounds === undefined) throw new CryptoError('unsupported', `Nextcloud private key: unknown key format "${format}"`);
    key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, rounds, 32, 'sha256');
  }
  const binary = header.get('encoding') === 'binary';
  const pem = decryptNcBlock(body, key, cipher, binary, '0', '0').toString('utf8');
  if (!pem.includes('PRIVATE KEY')) throw new CryptoError('wrong-key', 'Nextcloud private key: wrong password');
  return pem;
}

/** A Nextcloud private key ready for share keys: RSA-OAEP with SHA-1, as Nextcloud ≥ 27 writes them. */
export type NcRsaKey = webcrypto.CryptoKey;

/**
 * Imports a PEM private key (PKCS#1 or PKCS#8) for openNcShareKey.
 * @throws CryptoError when the PEM is not an RSA private key
 */
export async function ncRsaKey(privateKeyPem: string): Promise<NcRsaKey> {
  try {
    const pkcs8 = createPrivateKey(privateKeyPem).export({ format: 'der', type: 'pkcs8' });
    return await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
  } catch (err) {
    throw new CryptoError('malformed', 'Nextcloud private key is not an RSA private key', { cause: err });
  }
}

/**
 * Opens a share key (512 bytes: the file key RSA-OAEP(SHA-1)-encrypted, NC ≥ 27). Web Crypto runs
 * the RSA decryption on libuv's thread pool: an import opens one per file, and on the main thread
 * they were a third of its CPU with the other core idle.
 * @throws CryptoError when the private key does not open it
 */
export async function openNcShareKey(shareKey: Buffer, privateKey: NcRsaKey | string): Promise<Buffer> {
  const key = typeof privateKey === 'string' ? await ncRsaKey(privateKey) : privateKey;
  try {
    return Buffer.from(await webcrypto.subtle.decrypt({ name: 'RSA-OAEP' }, key, new Uint8Array(shareKey)));
  } catch (err) {
    throw new CryptoError('wrong-key', 'Nextcloud share key cannot be opened with this private key (an RC4 legacy fileKey is not supported)', { cause: err });
  }
}

const CIPHERS: Record<string, string> = { 'AES-256-CTR': 'aes-256-ctr', 'AES-128-CTR': 'aes-128-ctr', 'AES-256-CFB': 'aes-256-cfb', 'AES-128-CFB': 'aes-128-cfb' };

/** The node cipher name and key length for a Nextcloud cipher name. @throws CryptoError */
function cipherOf(name: string): { alg: string; keyLen: number } {
  const alg = CIPHERS[name.toUpperCase()];
  if (!alg) throw new CryptoError('unsupported', `Nextcloud cipher "${name}" is not supported`);
  return { alg, keyLen: alg.startsWith('aes-128') ? 16 : 32 };
}

/**
 * Verifies and decrypts one signed block (`ct | 00iv00 IV | 00sig00 hexHMAC | xxx`). The MAC key is
 * sha512(key . "_" . version . "_" . position . "a"); Nextcloud also still accepts the form without
 * the underscores, so do we.
 * @throws CryptoError "Bad signature" / malformed block
 */
export function decryptNcBlock(block: Buffer, key: Buffer, cipher: string, binary: boolean, version: string, position: string): Buffer {
  if (block.length < SIGNED_META) throw new CryptoError('truncated', 'Nextcloud block too short');
  const n = block.length;
  if (block.subarray(n - 3).toString('latin1') !== 'xxx'
    || block.subarray(n - 74, n - 67).toString('latin1') !== '00sig00'
    || block.subarray(n - 96, n - 90).toString('latin1') !== '00iv00') {
    throw new CryptoError('unsupported', 'Nextcloud block without signature (unsigned legacy blocks are not supported)');
  }
  const ct = block.subarray(0, n - SIGNED_META);
  const iv = block.subarray(n - 90, n - 74);
  const sig = block.subarray(n - 67, n - 3);
  const ok = [`_${version}_${position}`, `${version}${position}`].some((mid) => {
    const macKey = createHash('sha512').update(Buffer.concat([key, Buffer.from(`${mid}a`, 'latin1')])).digest();
    const mac = Buffer.from(createHmac('sha256', macKey).update(ct).digest('hex'), 'latin1');
    return mac.length === sig.length && timingSafeEqual(mac, sig);
  });
  if (!ok) throw new CryptoError('tag-mismatch', `Bad signature (block ${position}, version ${version})`);
  const { alg, keyLen } = cipherOf(cipher);
  const data = binary ? ct : Buffer.from(ct.toString('latin1'), 'base64');
  const d = createDecipheriv(alg, key.subarray(0, keyLen), iv);
  const plain = d.update(data);
  d.final(); // CTR and CFB are stream modes: nothing is held back
  return plain;
}

const EMPTY = Buffer.alloc(0);

/** What a file decryptor needs besides the bytes. */
export interface NcFileParams {
  /** The 32-byte file key (from a share key). */
  readonly fileKey: Buffer;
  /** `oc_filecache.encrypted` of the entry (the write counter signed into every block). */
  readonly version: number;
  /** Plaintext size (`unencrypted_size`, else `size`, of oc_filecache). */
  readonly plainSize: number;
}

/**
 * A Transform from a Nextcloud-encrypted file (header included) to its plaintext, block by block
 * (memory stays at one block). Checks every signature, the header's format, and that the plaintext
 * ends exactly at `plainSize`: truncation, extension and a wrong counter all fail.
 * Errors are CryptoErrors emitted on the stream.
 */
export class NcDecryptStream extends Transform {
  readonly #p: NcFileParams;
  #buf: Buffer = EMPTY;
  #header: { cipher: string; binary: boolean; unit: number } | undefined;
  #index = 0;
  #out = 0;

  constructor(p: NcFileParams) {
    super();
    this.#p = p;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (chunk.length === 0) { cb(); return; } // a block held back is the last one until bytes follow
    try {
      const out: Buffer[] = [];
      let data = chunk;
      if (this.#buf.length > 0) {
        // a whole block held back is decrypted now that more follows; a partial one is completed first
        if (this.#buf.length === NC_BLOCK_SIZE) this.#take(this.#buf, out);
        else data = Buffer.concat([this.#buf, chunk]);
        this.#buf = EMPTY;
      }
      // keep the last full block until more arrives or the stream ends: only the final one may be short
      let at = 0;
      while (data.length - at > NC_BLOCK_SIZE) {
        this.#take(data.subarray(at, at + NC_BLOCK_SIZE), out);
        at += NC_BLOCK_SIZE;
      }
      this.#buf = data.subarray(at);
      // one push per chunk read, not one per 8 KiB block
      if (out.length > 0) this.push(out.length === 1 ? out[0] : Buffer.concat(out));
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      const out: Buffer[] = [];
      if (this.#buf.length > 0) this.#take(this.#buf, out);
      for (const b of out) this.push(b);
      if (!this.#header) throw new CryptoError('truncated', 'Nextcloud file without its header');
      if (this.#out !== this.#p.plainSize) {
        throw new CryptoError('size-mismatch', `Nextcloud file decrypts to ${this.#out} bytes, the database says ${this.#p.plainSize}`);
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  /** Checks and decrypts one block (the first: the header), adding its plaintext to `out`. */
  #take(block: Buffer, out: Buffer[]): void {
    if (!this.#header) {
      const parsed = parseNcHeader(block);
      if (!parsed || block.length !== NC_BLOCK_SIZE) throw new CryptoError('truncated', 'Nextcloud file header missing or short');
      const h = parsed.header;
      if ((h.get('oc_encryption_module') ?? 'OC_DEFAULT_MODULE') !== 'OC_DEFAULT_MODULE') throw new CryptoError('unsupported', `Nextcloud encryption module "${h.get('oc_encryption_module')}" is not supported`);
      if (h.get('signed') !== 'true') throw new CryptoError('unsupported', 'unsigned Nextcloud files (before NC 9) are not supported');
      const binary = h.get('encoding') === 'binary';
      this.#header = { cipher: h.get('cipher') ?? 'AES-256-CTR', binary, unit: binary ? 8096 : 6072 };
      return;
    }
    const { unit, cipher, binary } = this.#header;
    const i = this.#index++;
    const pos = i === Math.floor(this.#p.plainSize / unit) ? `${i}end` : String(i);
    const plain = decryptNcBlock(block, this.#p.fileKey, cipher, binary, String(this.#p.version), pos);
    this.#out += plain.length;
    if (this.#out > this.#p.plainSize) throw new CryptoError('extended', 'Nextcloud file is longer than the database says');
    if (plain.length > 0) out.push(plain);
  }
}
