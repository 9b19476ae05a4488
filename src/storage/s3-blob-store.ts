import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand,
  HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client,
} from '@aws-sdk/client-s3';
import { AlreadyExistsError, AppError, NotFoundError, StorageUnavailableError } from '../errors.ts';
import { PLAIN_CODEC, assertByteRange, readAll, type BlobContext, type BufferedBlobPut, type BlobEntry, type BlobStore, type ByteRange, type PutResult } from './blob-store.ts';
import type { OpenedRawBlob, RawBlobOpener } from './raw-blob.ts';
import { createS3Client, normalizeS3Options, type S3StoreOptions } from './s3-config.ts';
import { checkS3Access } from './s3-access-check.ts';
import { blobIdAt, shardedPath } from './blob-id.ts';
import { classifyS3Error, s3UnavailableError } from './s3-errors.ts';
import { SourceFailedError, putObject, uploadStream } from './s3-stream-upload.ts';

/** Same id rule as the local store: opaque, lowercase, 8–64 characters. */

/**
 * Most bytes openRaw() fetches before it knows what the caller wants: enough for every small blob
 * in one GET, little enough that a ranged read of a big blob wastes at most this much.
 */
const OPEN_PREFETCH = 256 * 1024;

/** A multipart upload that was started and neither completed nor aborted. */
export interface IncompleteUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiatedMs: number;
}

/**
 * Blobs as objects in one S3 bucket under `<prefix><id[0..2]>/<id[2..4]>/<id>`: keys carry only the
 * opaque blob id, never a file or user name. Writes stream through uploadStream (s3-stream-upload.ts):
 * one PutObject for blobs up to the part size, multipart above it, with at most `queueSize` parts
 * uploading. Both are atomic on S3 (the object appears whole on PutObject / CompleteMultipartUpload or
 * not at all); a failing source aborts the multipart upload, so no parts are left behind.
 *
 * Errors: a missing blob is a NotFoundError; every other S3 failure is a
 * StorageUnavailableError whose message says what is wrong (bucket missing, access denied, bad keys,
 * endpoint unreachable).
 */
export class S3BlobStore implements BlobStore, BufferedBlobPut, RawBlobOpener {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #endpoint: string;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #listPageSize: number;

  /** @throws ConfigError when the options are invalid. */
  constructor(options: S3StoreOptions, client?: S3Client) {
    const o = normalizeS3Options(options);
    this.#client = client ?? createS3Client(o);
    this.#bucket = o.bucket;
    this.#endpoint = o.endpoint;
    this.#prefix = o.prefix;
    this.#partSize = o.partSize;
    this.#queueSize = o.queueSize;
    this.#listPageSize = o.listPageSize;
  }

  get bucket(): string { return this.#bucket; }
  get prefix(): string { return this.#prefix; }
  /** The underlying client (for tests and admin tools). */
  get client(): S3Client { return this.#client; }

  /**
   * Object key of a blob.
   * @throws ValidationError when the id is not a valid blob id.
   */
  keyOf(blobId: string): string {
    return this.#prefix + shardedPath(blobId).join('/');
  }

  /**
   * Streams `source` into a new object. The store reads the source at the pace it uploads, holding at
   * most (queueSize + 1) parts in memory (queueSize uploading, one being filled).
   * @throws AlreadyExistsError when the id is taken; the source's own error when it fails (the upload
   *   is aborted first); StorageUnavailableError for S3 failures.
   */
  async put(blobId: string, source: Readable, _ctx?: BlobContext): Promise<PutResult> {
    const key = this.keyOf(blobId);
    // Blobs above one part go multipart, and CompleteMultipartUpload on RGW 16.2 ignores
    // If-None-Match: look before the first part is sent (a smaller blob is one PutObject with
    // If-None-Match: *). Ids are random, so two writers of one id is a bug.
    const beforeMultipart = async (): Promise<void> => {
      if (await this.#exists(key, 'PUT')) throw new AlreadyExistsError(`blob ${blobId} already exists`);
    };
    try {
      const size = await uploadStream({
        client: this.#client, bucket: this.#bucket, key, partSize: this.#partSize, queueSize: this.#queueSize, beforeMultipart,
      }, source);
      return { size, codec: PLAIN_CODEC };
    } catch (err) {
      if (err instanceof SourceFailedError) throw err.error;
      throw this.#putError(blobId, err);
    }
  }

  /**
   * BufferedBlobPut: a blob held in memory (an encrypted small file's pieces) in one PutObject,
   * without a stream; above one part, as put() does.
   * @throws as put().
   */
  async putBuffers(blobId: string, pieces: readonly Buffer[], ctx?: BlobContext): Promise<PutResult> {
    const key = this.keyOf(blobId);
    const size = pieces.reduce((n, p) => n + p.length, 0);
    if (size > this.#partSize) return this.put(blobId, Readable.from(pieces, { objectMode: false }), ctx);
    try {
      await putObject({ client: this.#client, bucket: this.#bucket, key }, pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size));
    } catch (err) {
      throw this.#putError(blobId, err);
    }
    return { size, codec: PLAIN_CODEC };
  }

  /** Maps a failed put to AlreadyExistsError or StorageUnavailableError; AppErrors pass as they are. */
  #putError(blobId: string, err: unknown): AppError {
    if (err instanceof AppError) return err; // from the existence check before a multipart upload
    const kind = classifyS3Error(err);
    if (kind === 'exists') return new AlreadyExistsError(`blob ${blobId} already exists`);
    return s3UnavailableError('PUT', kind, this.#bucket, this.#endpoint, err);
  }

  /**
   * Opens the blob (or the inclusive byte range of it) as a stream. A range that starts past the
   * end yields an empty stream (as a local file read would).
   * @throws NotFoundError when the blob is missing; ValidationError for a malformed range;
   *   StorageUnavailableError for S3 failures.
   */
  async get(blobId: string, _codec: string, _ctx?: BlobContext, range?: ByteRange): Promise<Readable> {
    const key = this.keyOf(blobId);
    assertByteRange(range);
    try {
      const res = await this.#client.send(new GetObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }));
      return res.Body as Readable;
    } catch (err) {
      const kind = classifyS3Error(err);
      if (kind === 'no-such-key') throw new NotFoundError(`blob ${blobId} is missing`);
      if (kind === 'invalid-range') {
        await this.rawSize(blobId); // NotFoundError if it vanished meanwhile
        return Readable.from([]);
      }
      throw s3UnavailableError('GET', kind, this.#bucket, this.#endpoint, err);
    }
  }

  /**
   * Opens a blob for the encryption layer's reads (RawBlobOpener) with one ranged GET of its first
   * max(headBytes, wholeUpTo) bytes (at most OPEN_PREFETCH): the response's Content-Range gives the
   * size, so a small blob costs one request instead of HEAD + GET, and a full read of a big one two
   * (the prefetched bytes are served again, not fetched twice) instead of HEAD + GET + GET.
   * @throws NotFoundError when the blob is missing; StorageUnavailableError for S3 failures.
   */
  async openRaw(blobId: string, headBytes: number, wholeUpTo: number): Promise<OpenedRawBlob> {
    const key = this.keyOf(blobId);
    const want = Math.max(1, headBytes, Math.min(wholeUpTo, OPEN_PREFETCH));
    let size: number;
    let pre: Buffer;
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: `bytes=0-${want - 1}` }));
      const body = res.Body as Readable;
      const total = /\/(\d+)$/.exec(res.ContentRange ?? '')?.[1];
      if (total !== undefined) {
        size = Number(total);
        pre = await readAll(body);
      } else {
        // the endpoint ignored the range (200 with the whole object): keep what was asked for
        size = res.ContentLength ?? 0;
        const parts: Buffer[] = [];
        let n = 0;
        for await (const c of body) {
          parts.push(c as Buffer);
          n += (c as Buffer).length;
          if (n >= want && size > wholeUpTo) break; // leaving the loop destroys the body
        }
        pre = Buffer.concat(parts);
      }
    } catch (err) {
      const kind = classifyS3Error(err);
      if (kind === 'no-such-key') throw new NotFoundError(`blob ${blobId} is missing`);
      if (kind === 'invalid-range') { // an empty object has no byte 0
        size = await this.rawSize(blobId);
        pre = Buffer.alloc(0);
      } else {
        throw s3UnavailableError('GET', kind, this.#bucket, this.#endpoint, err);
      }
    }
    if (pre.length > size) pre = pre.subarray(0, size);
    const whole = size <= wholeUpTo;
    if (whole && pre.length < size) {
      // between OPEN_PREFETCH and wholeUpTo: fetch the rest so that head is the whole blob
      pre = Buffer.concat([pre, await readAll(await this.get(blobId, PLAIN_CODEC, undefined, { start: pre.length, end: size - 1 }))]);
      if (pre.length !== size) throw new StorageUnavailableError(`S3 GET of blob ${blobId} returned ${pre.length} of ${size} bytes`);
    }
    const have = pre;
    return {
      size,
      head: whole ? have : have.subarray(0, Math.min(headBytes, size)),
      whole,
      range: async (start, end) => {
        if (end < have.length) return Readable.from([have.subarray(start, end + 1)], { objectMode: false });
        if (start >= have.length) return this.get(blobId, PLAIN_CODEC, undefined, { start, end });
        const rest = await this.get(blobId, PLAIN_CODEC, undefined, { start: have.length, end });
        // the prefetched bytes go back in front of the response body, which nobody has read yet:
        // every byte of a big blob's read then comes straight from the socket, with no stream between
        rest.unshift(have.subarray(start));
        return rest;
      },
      close: () => {},
    };
  }

  /** @throws NotFoundError when the blob is missing; StorageUnavailableError for S3 failures. */
  async size(blobId: string, _codec?: string, _ctx?: BlobContext): Promise<number> {
    return this.rawSize(blobId);
  }

  /** Stored size (HeadObject). @throws NotFoundError; StorageUnavailableError. */
  async rawSize(blobId: string): Promise<number> {
    const key = this.keyOf(blobId);
    try {
      const res = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return res.ContentLength ?? 0;
    } catch (err) {
      const kind = classifyS3Error(err);
      if (kind === 'no-such-key') {
        await this.#assertBucket('HEAD'); // a HEAD 404 does not say whether the key or the bucket is missing
        throw new NotFoundError(`blob ${blobId} is missing`);
      }
      throw s3UnavailableError('HEAD', kind, this.#bucket, this.#endpoint, err);
    }
  }

  /** Removes the blob; a missing blob is fine. @throws StorageUnavailableError. */
  async delete(blobId: string): Promise<void> {
    const key = this.keyOf(blobId);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
    } catch (err) {
      const kind = classifyS3Error(err);
      if (kind === 'no-such-key') return;
      throw s3UnavailableError('DELETE', kind, this.#bucket, this.#endpoint, err);
    }
  }

  /**
   * Every blob under the prefix (ListObjectsV2, 1000 keys a page). Keys that are not blobs of this
   * layout are skipped. @throws StorageUnavailableError.
   */
  async *list(): AsyncIterable<BlobEntry> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix, ContinuationToken: token, MaxKeys: this.#listPageSize }));
      } catch (err) {
        throw s3UnavailableError('LIST', classifyS3Error(err), this.#bucket, this.#endpoint, err);
      }
      for (const obj of page.Contents ?? []) {
        const blobId = obj.Key ? this.#blobIdOf(obj.Key) : null;
        if (blobId) yield { blobId, mtimeMs: obj.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Multipart uploads under the prefix (or of one blob) that were neither completed nor aborted,
   * e.g. left by a crashed process. @throws StorageUnavailableError.
   */
  async incompleteUploads(blobId?: string): Promise<IncompleteUpload[]> {
    const prefix = blobId === undefined ? this.#prefix : this.keyOf(blobId);
    const out: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.#client.send(new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      } catch (err) {
        throw s3UnavailableError('LIST UPLOADS', classifyS3Error(err), this.#bucket, this.#endpoint, err);
      }
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId && (blobId === undefined || u.Key === prefix)) {
          out.push({ key: u.Key, uploadId: u.UploadId, initiatedMs: u.Initiated?.getTime() ?? 0 });
        }
      }
      if (!page.IsTruncated) return out;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
      if (!keyMarker && !uploadIdMarker) return out;
    }
  }

  /**
   * Aborts incomplete multipart uploads older than `olderThanMs` (garbage collection after crashes).
   * @returns how many were aborted. @throws StorageUnavailableError.
   */
  async abortStaleUploads(olderThanMs: number): Promise<number> {
    const now = Date.now();
    let n = 0;
    for (const u of await this.incompleteUploads()) {
      if (now - u.initiatedMs <= olderThanMs) continue;
      try {
        await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: u.key, UploadId: u.uploadId }));
        n++;
      } catch (err) {
        if (classifyS3Error(err) !== 'no-such-key') throw s3UnavailableError('ABORT UPLOAD', classifyS3Error(err), this.#bucket, this.#endpoint, err);
      }
    }
    return n;
  }

  /** Creates the bucket unless it exists (install, tests). @throws StorageUnavailableError. */
  async createBucketIfMissing(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
      return;
    } catch (err) {
      if (classifyS3Error(err) !== 'no-such-key') throw s3UnavailableError('HEAD BUCKET', classifyS3Error(err), this.#bucket, this.#endpoint, err);
    }
    try {
      await this.#client.send(new CreateBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'BucketAlreadyOwnedByYou') return;
      throw s3UnavailableError('CREATE BUCKET', classifyS3Error(err), this.#bucket, this.#endpoint, err);
    }
  }

  /**
   * Checks that the bucket exists and that the credentials can put, get and delete an object
   * (a probe under the prefix, removed again). Never throws for S3 failures.
   * @returns problems in plain words; empty when all is well.
   */
  checkAccess(): Promise<string[]> {
    return checkS3Access(this.#client, this.#bucket, this.#prefix, this.#endpoint);
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.#client.destroy();
  }

  #blobIdOf(key: string): string | null {
    if (!key.startsWith(this.#prefix)) return null;
    const parts = key.slice(this.#prefix.length).split('/');
    if (parts.length !== 3) return null;
    const [a, b, id] = parts as [string, string, string];
    return blobIdAt(a, b, id);
  }

  async #exists(key: string, op: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return true;
    } catch (err) {
      const kind = classifyS3Error(err);
      if (kind !== 'no-such-key') throw s3UnavailableError(op, kind, this.#bucket, this.#endpoint, err);
      return false; // a missing bucket surfaces as NoSuchBucket on the upload itself
    }
  }

  async #assertBucket(op: string): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      const kind = classifyS3Error(err);
      throw s3UnavailableError(op, kind === 'no-such-key' ? 'no-such-bucket' : kind, this.#bucket, this.#endpoint, err);
    }
  }
}
