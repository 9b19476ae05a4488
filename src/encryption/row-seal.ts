import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { RowSealer } from '../db/row-sealer.ts';

/**
 * Seals what a database row says about a blob — for a file: its file id, blob id, codec and size;
 * for a chunk of an upload: its upload, name, blob id, codec and size — with an HMAC-SHA256 under a
 * key derived from the instance `secret` (config file, outside the data directory). Whoever can
 * write the data directory, the database in it included, cannot make a valid seal: a row switched
 * to `plain`, pointed at another blob or given another size no longer matches, and a plain read is
 * refused (EncryptedBlobStore). Encrypted blobs are bound to file id and blob id by their header
 * already; the seal is what makes "this row is plain" unforgeable.
 *
 * Not covered (docs/FORMAT.md, "Row seals"): a row rolled back together with its old blob to a
 * version that existed (its old seal is valid); only a counter outside the attacker's reach could
 * tell, and there is none.
 */
export class RowSeal implements RowSealer {
  readonly #key: Buffer;

  constructor(secret: string, instanceId: string) {
    this.#key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from(instanceId, 'utf8'), 'coffer row seal v1', 32));
  }

  /** The seal of a file row's content fields. */
  node(fileId: number, blobId: string, codec: string, size: number): string {
    return this.#mac(['node', String(fileId), blobId, codec, String(size)]);
  }

  /**
   * The seal of a kept version's content fields (file_versions). Its own domain: a version row
   * holds a real earlier blob of the same file, so with the file row's seal anyone who can write
   * the database could copy the version's fields into the file row and roll the file back
   * unnoticed; under this seal the copy no longer matches (docs/FORMAT.md, "Versions and trash items").
   */
  version(fileId: number, blobId: string, codec: string, size: number): string {
    return this.#mac(['version', String(fileId), blobId, codec, String(size)]);
  }

  /** The seal a row of `holder` gets: versions theirs, live and trashed files the file row's (a trashed row goes back as it is). */
  ofHolder(holder: 'node' | 'version' | 'trash', fileId: number, blobId: string, codec: string, size: number): string {
    return holder === 'version' ? this.version(fileId, blobId, codec, size) : this.node(fileId, blobId, codec, size);
  }

  /** The seal of an upload chunk row (`chunk` = "uid/uploadId/name"). */
  chunk(chunk: string, blobId: string, codec: string, size: number): string {
    return this.#mac(['chunk', chunk, blobId, codec, String(size)]);
  }

  /** True when `seal` is the `expected` seal (constant time). */
  matches(expected: string, seal: string | null | undefined): boolean {
    if (typeof seal !== 'string') return false;
    const a = Buffer.from(expected, 'utf8');
    const b = Buffer.from(seal, 'utf8');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #mac(parts: string[]): string {
    const h = createHmac('sha256', this.#key);
    // length-prefixed fields: no two different rows give the same input
    for (const p of parts) h.update(`${Buffer.byteLength(p)}:`).update(p, 'utf8');
    return h.digest('base64url');
  }
}
