import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { deriveBlobKeys, hmacSha256 } from './kdf.ts';
import { unwrapKey, wrapKey } from './key-wrap.ts';
import {
  BLOB_ID_SIZE, CIPHER_AES_256_GCM, KEY_ID_SIZE, KEY_SIZE, NONCE_SIZE, encodeFileId, encodeHeaderBody, parseHeader,
  type BlobHeader, type CipherId,
} from './format.ts';

const DEK_WRAP_LABEL = Buffer.from('coffer cfe1 dek', 'latin1');

/** AAD of the DEK wrap: "coffer cfe1 dek" ‖ fileId (u64 BE) ‖ blobId (16) ‖ keyId (16). */
export function dekWrapAad(fileId: number, blobId: Buffer, keyId: Buffer): Buffer {
  return Buffer.concat([DEK_WRAP_LABEL, encodeFileId(fileId), blobId, keyId]);
}

/** What a writer supplies to seal a new blob. */
export interface SealParams {
  readonly cipher?: CipherId;
  readonly fileId: number;
  /** 16-byte blob (version) id. */
  readonly blobId: Buffer;
  /** 16-byte id of the key-encryption key. */
  readonly keyId: Buffer;
  /** The key-encryption key (32 bytes) that wraps the DEK. */
  readonly kek: Buffer;
  /** Injected randomness (test vectors only): the DEK and the wrap nonce. */
  readonly dek?: Buffer;
  readonly wrapNonce?: Buffer;
}

/** A header ready to write, and the content key for the chunks. */
export interface SealedHeader {
  readonly header: Buffer;
  readonly cipher: CipherId;
  readonly contentKey: Buffer;
}

/**
 * Creates the header of a new blob: a fresh DEK, wrapped under the KEK, keys derived, commitment computed.
 * @throws CryptoError on bad parameter sizes.
 */
export function sealHeader(p: SealParams): SealedHeader {
  const cipher = p.cipher ?? CIPHER_AES_256_GCM;
  if (p.blobId.length !== BLOB_ID_SIZE) throw new Error('blob id must be 16 bytes');
  if (p.keyId.length !== KEY_ID_SIZE) throw new Error('key id must be 16 bytes');
  const dek = p.dek ?? randomBytes(KEY_SIZE);
  if (dek.length !== KEY_SIZE) throw new Error('data key must be 32 bytes');
  const wrappedDek = wrapKey(p.kek, dek, dekWrapAad(p.fileId, p.blobId, p.keyId), p.wrapNonce ?? randomBytes(NONCE_SIZE));
  const body = encodeHeaderBody({ cipher, fileId: p.fileId, blobId: p.blobId, keyId: p.keyId, wrappedDek });
  const { contentKey, commitKey } = deriveBlobKeys(dek, cipher, p.fileId, p.blobId);
  dek.fill(0);
  return { header: Buffer.concat([body, hmacSha256(commitKey, body)]), cipher, contentKey };
}

/** Finds the key-encryption key for a key id. Throws (CryptoError / NotFoundError) when unknown. */
export type KekResolver = (keyId: Buffer, header: BlobHeader) => Buffer | Promise<Buffer>;

/** What a reader expects the blob to be (from the database): catches swap and rollback. */
export interface ExpectedIdentity {
  readonly fileId: number;
  readonly blobId: Buffer;
}

/** A verified header and the content key of its chunks. */
export interface OpenedHeader {
  readonly header: BlobHeader;
  readonly contentKey: Buffer;
}

/** A parsed header and its unwrapped data key (the caller wipes `dek` when done). */
export interface UnwrappedHeader {
  readonly header: BlobHeader;
  readonly dek: Buffer;
}

function checkExpected(header: BlobHeader, expected?: ExpectedIdentity): void {
  if (expected && (header.fileId !== expected.fileId || !header.blobId.equals(expected.blobId))) {
    throw new CryptoError('wrong-binding', `blob belongs to another file or version (header: file ${header.fileId}, version ${header.blobId.toString('hex')}; expected file ${expected.fileId}, version ${expected.blobId.toString('hex')})`);
  }
}

/**
 * Parses a header, checks it belongs to `expected` and unwraps its DEK with the KEK the header names,
 * then verifies the key commitment. Used to copy a data key elsewhere (share keyrings).
 * @throws CryptoError as `openHeader`; whatever `resolveKek` throws.
 */
export async function unwrapHeaderDek(buf: Buffer, resolveKek: KekResolver, expected?: ExpectedIdentity): Promise<UnwrappedHeader> {
  const header = parseHeader(buf);
  checkExpected(header, expected);
  const kek = await resolveKek(header.keyId, header);
  const dek = unwrapKey(kek, header.wrappedDek, dekWrapAad(header.fileId, header.blobId, header.keyId), 'data key of the blob');
  openHeaderWithDek(header, Buffer.from(dek));
  return { header, dek };
}

/**
 * Derives the content key from a DEK obtained elsewhere (a share keyring) and verifies the key
 * commitment over every header byte. Wipes nothing: the caller owns `dek`.
 * @throws CryptoError "header failed authentication" when `dek` is not this blob's data key.
 */
export function openHeaderWithDek(header: BlobHeader, dek: Buffer): OpenedHeader {
  const { contentKey, commitKey } = deriveBlobKeys(dek, header.cipher, header.fileId, header.blobId);
  const expect = hmacSha256(commitKey, header.body);
  if (!timingSafeEqual(expect, header.commitment)) throw new CryptoError('tag-mismatch', 'header failed authentication (key commitment mismatch)');
  return { header, contentKey };
}

/**
 * Parses a header, checks it belongs to `expected`, unwraps the DEK and verifies the key commitment
 * (which covers every header byte) — all before any chunk is touched.
 * @throws CryptoError: "blob belongs to another file or version", "data key could not be unwrapped",
 *   "header failed authentication", or a parse error.
 */
export async function openHeader(buf: Buffer, resolveKek: KekResolver, expected?: ExpectedIdentity): Promise<OpenedHeader> {
  const header = parseHeader(buf);
  checkExpected(header, expected);
  const kek = await resolveKek(header.keyId, header);
  const dek = unwrapKey(kek, header.wrappedDek, dekWrapAad(header.fileId, header.blobId, header.keyId), 'data key of the blob');
  try { return openHeaderWithDek(header, dek); } finally { dek.fill(0); }
}
