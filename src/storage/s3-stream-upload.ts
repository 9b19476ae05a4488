import { finished, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand,
  UploadPartCommand, type CompletedPart, type S3Client,
} from '@aws-sdk/client-s3';
import { ByteQueue } from '../crypto/byte-queue.ts';
import { noteStreamed } from './transfer-garbage.ts';

/** Where one streamed object goes and how it is cut. */
export interface StreamUploadOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Bytes per part; a source of at most this many bytes is one PutObject. */
  readonly partSize: number;
  /** Parts uploading at once (each holds one part buffer). */
  readonly queueSize: number;
  /**
   * Runs once, before a multipart upload is created (when the source has just passed partSize bytes).
   * Whatever it throws fails the upload as it is.
   */
  readonly beforeMultipart: () => Promise<void>;
}

/** The source stream failed (or closed without ending); `error` is its own error. */
export class SourceFailedError extends Error {
  constructor(readonly error: unknown) {
    super('upload source failed', { cause: error });
  }
}

/**
 * Streams `source` into one S3 object and resolves with its size. At most partSize bytes: one
 * PutObject with If-None-Match: * (atomic, refuses a taken key). More: a multipart upload whose parts
 * are cut into at most `queueSize` buffers that are reused from part to part, so every byte is copied
 * once and no fresh part-sized memory is touched after the first parts; the source is paused while
 * every buffer is uploading. Any failure waits for the parts in flight, then aborts the multipart
 * upload, so no parts are left behind.
 *
 * Why not `@aws-sdk/lib-storage`: it copies each byte two to three times into freshly allocated
 * part-sized buffers (stream reads, then part concatenation), and passes every piece through async
 * generators; with an encrypting source (a 16-byte tag after every 64 KiB) that cost more CPU than
 * the cipher.
 *
 * @throws SourceFailedError when the source fails or closes early; whatever beforeMultipart throws;
 *   the S3 client's error for a failed request.
 */
export function uploadStream(o: StreamUploadOptions, source: Readable): Promise<number> {
  return new StreamUpload(o, source).done;
}

/**
 * Writes `body` as the object in one PutObject with If-None-Match: * (atomic; a taken key fails).
 * @throws the S3 client's error.
 */
export async function putObject(o: Pick<StreamUploadOptions, 'client' | 'bucket' | 'key'>, body: Buffer): Promise<void> {
  await o.client.send(new PutObjectCommand({
    Bucket: o.bucket, Key: o.key, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream', IfNoneMatch: '*',
  }));
}

class StreamUpload {
  readonly done: Promise<number>;
  readonly #o: StreamUploadOptions;
  readonly #source: Readable;
  readonly #held = new ByteQueue();
  readonly #free: Buffer[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #parts: CompletedPart[] = [];
  #allocated = 0;
  #size = 0;
  #nextPart = 1;
  #uploadId: Promise<string> | undefined;
  #ended = false;
  #settled = false;
  #resolve!: (size: number) => void;
  #reject!: (err: unknown) => void;

  constructor(o: StreamUploadOptions, source: Readable) {
    this.#o = o;
    this.#source = source;
    this.done = new Promise<number>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject; });
    source.on('data', this.#onData);
    source.resume(); // also a source its caller left paused (a 'data' listener alone does not start it)
    finished(source, { writable: false }, (err) => {
      if (err) this.#fail(new SourceFailedError(err));
      else { this.#ended = true; this.#pump(); }
    });
  }

  readonly #onData = (chunk: Buffer | string): void => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#size += buf.length;
    noteStreamed(buf.length);
    this.#held.push(buf);
    this.#pump();
  };

  /** Ships every full part that has a buffer free; pauses the source when none has; finishes at the end. */
  #pump(): void {
    if (this.#settled) return;
    const { partSize } = this.#o;
    // strictly more than a part: the part being cut is not the last one (the last may be short)
    while (this.#held.length > partSize) {
      const buf = this.#takeBuffer();
      if (!buf) { this.#source.pause(); return; }
      this.#cut(buf, partSize);
    }
    if (this.#ended) this.#finish();
    else if (this.#source.isPaused()) this.#source.resume();
  }

  #takeBuffer(): Buffer | undefined {
    const b = this.#free.pop();
    if (b) return b;
    if (this.#allocated >= this.#o.queueSize) return undefined;
    this.#allocated++;
    return Buffer.allocUnsafeSlow(this.#o.partSize);
  }

  #multipart(): Promise<string> {
    this.#uploadId ??= (async () => {
      await this.#o.beforeMultipart();
      const res = await this.#o.client.send(new CreateMultipartUploadCommand({
        Bucket: this.#o.bucket, Key: this.#o.key, ContentType: 'application/octet-stream',
      }));
      if (!res.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      return res.UploadId;
    })();
    return this.#uploadId;
  }

  /** Moves the next `length` held bytes into the part buffer `buf` and uploads them as the next part. */
  #cut(buf: Buffer, length: number): void {
    let at = 0;
    for (const piece of this.#held.take(length)) at += piece.copy(buf, at);
    const job: Promise<void> = this.#uploadPart(this.#nextPart++, buf.subarray(0, length)).then((ok) => {
      this.#inFlight.delete(job);
      if (!ok) return;
      this.#free.push(buf);
      this.#pump();
    });
    this.#inFlight.add(job);
  }

  /** @returns false when the part failed (the upload then fails with its error). */
  async #uploadPart(partNumber: number, body: Buffer): Promise<boolean> {
    try {
      const uploadId = await this.#multipart();
      const res = await this.#o.client.send(new UploadPartCommand({
        Bucket: this.#o.bucket, Key: this.#o.key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length,
      }));
      this.#parts.push({ PartNumber: partNumber, ETag: res.ETag });
      return true;
    } catch (err) {
      this.#fail(err);
      return false;
    }
  }

  /** At the end of the source: one PutObject, or the last part and then CompleteMultipartUpload. */
  #finish(): void {
    if (this.#settled) return;
    const rest = this.#held.length;
    if (this.#uploadId === undefined) {
      this.#settle(() => putObject(this.#o, rest === 0 ? Buffer.alloc(0) : this.#held.takeContiguous(rest)));
      return;
    }
    if (rest > 0) {
      const buf = this.#takeBuffer();
      if (!buf) return; // every buffer is uploading: the next part to finish calls #pump, which comes back here
      this.#cut(buf, rest);
    }
    if (this.#inFlight.size > 0) return; // the last part to finish calls #pump, which comes back here
    const uploadId = this.#uploadId;
    this.#settle(async () => {
      this.#parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      try {
        await this.#o.client.send(new CompleteMultipartUploadCommand({
          Bucket: this.#o.bucket, Key: this.#o.key, UploadId: await uploadId, MultipartUpload: { Parts: this.#parts },
        }));
      } catch (err) {
        await this.#abort();
        throw err;
      }
    });
  }

  #fail(err: unknown): void {
    if (this.#settled) return;
    this.#settle(async () => {
      await Promise.allSettled([...this.#inFlight]);
      await this.#abort();
      throw err;
    });
    this.#source.off('data', this.#onData);
    this.#source.destroy(); // its premature close comes back to #fail, which is settled by then
  }

  /** Ends the upload with what `last` does: the size when it resolves, its error when it rejects. */
  #settle(last: () => Promise<void>): void {
    this.#settled = true;
    last().then(() => this.#resolve(this.#size), this.#reject);
  }

  /** Best effort: the original error matters more, and abortStaleUploads() collects what is left. */
  async #abort(): Promise<void> {
    if (this.#uploadId === undefined) return;
    try {
      const uploadId = await this.#uploadId;
      await this.#o.client.send(new AbortMultipartUploadCommand({ Bucket: this.#o.bucket, Key: this.#o.key, UploadId: uploadId }));
    } catch { /* see above */ }
  }
}
