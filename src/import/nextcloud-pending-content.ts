import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { actsAsOwner } from '../actor.ts';
import { CryptoError } from '../errors.ts';
import { ImportPendingError, type PendingContentReader } from '../encryption/import-pending.ts';
import type { UserKeySession } from '../encryption/user-keys/user-key-session.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { PLAIN_CODEC, assertByteRange, type BlobContext, type BlobStore, type ByteRange } from '../storage/blob-store.ts';
import { NcDecryptStream, openNcShareKey } from './nextcloud-crypto.ts';
import { openSealedNcPrivate } from './nextcloud-pending-keys.ts';
import type { NcPendingRepository, PendingBlob } from './nextcloud-pending-repository.ts';

/**
 * The plaintext of a blob kept in Nextcloud's encrypted form (per-user-key import: a file, an old
 * version, a trashed file, looked up by blob id wherever a row names it): the owner's
 * unlocked Coffer key opens their Nextcloud private key (sealed to it at the first login), that
 * opens the file's share key, and the blocks are checked and decrypted as the importer does. Used
 * for the owner's reads until the file is converted, and by the conversion itself. Only the owner's
 * side reads it: sharees and links see ImportPendingError until the conversion is done.
 */
export class NcPendingContent implements PendingContentReader {
  readonly #repo: NcPendingRepository;
  readonly #raw: BlobStore;
  readonly #session: UserKeySession;
  readonly #store: () => KeyStore;

  constructor(o: { repo: NcPendingRepository; raw: BlobStore; session: UserKeySession; store: () => KeyStore }) {
    this.#repo = o.repo;
    this.#raw = o.raw;
    this.#session = o.session;
    this.#store = o.store;
  }

  /**
   * The file key of `p`. @throws ImportPendingError while the owner's keys are locked or not yet
   * completed by a password login; CryptoError when the share key does not open
   */
  async fileKey(p: PendingBlob): Promise<Buffer> {
    const u = this.#session.get(p.owner);
    if (!u) throw new ImportPendingError(p.owner, p.fileId, `it becomes readable when ${p.owner} logs in with their password`);
    const pem = await openSealedNcPrivate(this.#store(), p.owner, u.privateKey);
    if (!pem) throw new ImportPendingError(p.owner, p.fileId, `${p.owner}'s Nextcloud key is opened by their first login with the password (not an app password)`);
    return openNcShareKey(p.shareKey, pem);
  }

  /** Decrypted, verified plaintext of `p`'s raw blob. */
  async plain(p: PendingBlob, ctx: BlobContext, range?: ByteRange): Promise<Readable> {
    const fileKey = await this.fileKey(p);
    const src = await this.#raw.get(p.blobId, PLAIN_CODEC, ctx);
    const out = new PassThrough();
    const stages: NodeJS.ReadWriteStream[] = [new NcDecryptStream({ fileKey, version: p.ncVersion, plainSize: p.size })];
    if (range) stages.push(new RangeSlice(range));
    pipeline(src, ...stages, out).catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  /**
   * @throws ImportPendingError (not the owner's side, keys locked, or converted meanwhile);
   *   CryptoError when the row naming the blob is not the file (or size) it was kept for
   */
  async open(blobId: string, ctx: BlobContext, range?: ByteRange): Promise<Readable> {
    assertByteRange(range);
    if (!actsAsOwner(ctx.actor, ctx.owner)) throw new ImportPendingError(ctx.owner, ctx.fileId, `only ${ctx.owner} can read it until then (it is converted after their first login)`);
    const p = await this.#repo.byBlobId(blobId);
    if (!p) throw new ImportPendingError(ctx.owner, ctx.fileId, 'it was converted meanwhile: read it again');
    // the blob was kept for one file of one owner: a row of another that names it was altered
    if (p.fileId !== ctx.fileId || p.owner !== ctx.owner || (ctx.row && ctx.row.size !== p.size)) {
      throw new CryptoError('wrong-binding', `blob ${blobId} kept from Nextcloud belongs to file ${p.fileId} of ${p.owner} (${p.size} bytes), not to the row naming it`);
    }
    return this.plain(p, ctx, range);
  }
}

/** Passes bytes [start, end] (inclusive) of a stream. */
class RangeSlice extends Transform {
  #pos = 0;
  readonly #r: ByteRange;
  constructor(r: ByteRange) { super(); this.#r = r; }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    const from = Math.max(this.#r.start - this.#pos, 0);
    const to = Math.min(this.#r.end + 1 - this.#pos, chunk.length);
    if (to > from) this.push(chunk.subarray(from, to));
    this.#pos += chunk.length;
    cb();
  }
}
