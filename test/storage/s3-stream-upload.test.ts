/**
 * uploadStream against an in-memory S3 double that answers slowly and reads each part's body only when
 * it answers (as a socket would while it sends): the part buffers are reused, so a buffer handed back
 * too early would show as corrupt content here. The real thing (Ceph RGW) runs the BlobStore
 * conformance suite in s3-blob-store.test.ts.
 */
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand,
  UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { SourceFailedError, uploadStream } from '../../src/storage/s3-stream-upload.ts';
import { patternBytes } from './blob-pattern.ts';

const MiB = 1024 * 1024;

class SlowS3 {
  readonly calls: string[] = [];
  readonly objects = new Map<string, Buffer>();
  readonly parts = new Map<number, Buffer>();
  inFlightParts = 0;
  maxInFlightParts = 0;
  aborted = 0;
  /** bytes of parts that S3 has acknowledged */
  acked = 0;
  failPart: number | undefined;

  async send(cmd: unknown): Promise<Record<string, unknown>> {
    if (cmd instanceof CreateMultipartUploadCommand) { this.calls.push('create'); return { UploadId: 'up-1' }; }
    if (cmd instanceof UploadPartCommand) {
      const { PartNumber, Body } = cmd.input as { PartNumber: number; Body: Buffer };
      this.calls.push(`part ${PartNumber}`);
      this.inFlightParts++;
      this.maxInFlightParts = Math.max(this.maxInFlightParts, this.inFlightParts);
      try {
        await new Promise((r) => setTimeout(r, 5 + (PartNumber % 3) * 7)); // out of order on purpose
        if (PartNumber === this.failPart) throw Object.assign(new Error('part refused'), { name: 'InternalError' });
        this.parts.set(PartNumber, Buffer.from(Body)); // read the body as late as a socket would
        this.acked += Body.length;
        return { ETag: `"e${PartNumber}"` };
      } finally {
        this.inFlightParts--;
      }
    }
    if (cmd instanceof CompleteMultipartUploadCommand) {
      const { Key, MultipartUpload } = cmd.input as { Key: string; MultipartUpload: { Parts: Array<{ PartNumber: number; ETag: string }> } };
      this.calls.push('complete');
      const numbers = MultipartUpload.Parts.map((p) => p.PartNumber);
      assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), 'parts listed in order');
      assert.ok(MultipartUpload.Parts.every((p) => p.ETag === `"e${p.PartNumber}"`));
      this.objects.set(Key, Buffer.concat(numbers.map((n) => this.parts.get(n)!)));
      return {};
    }
    if (cmd instanceof PutObjectCommand) {
      const { Key, Body, IfNoneMatch } = cmd.input as { Key: string; Body: Buffer; IfNoneMatch: string };
      assert.equal(IfNoneMatch, '*');
      this.calls.push('put');
      this.objects.set(Key, Buffer.from(Body));
      return {};
    }
    if (cmd instanceof AbortMultipartUploadCommand) {
      this.calls.push('abort');
      assert.equal(this.inFlightParts, 0, 'abort waits for the parts in flight');
      this.aborted++;
      return {};
    }
    throw new Error(`unexpected command ${String(cmd)}`);
  }
}

/** A pattern source in `chunk`-byte pieces that records how far it has been read. */
function source(seed: number, size: number, chunk: number, onRead: (at: number) => void, fail?: Error): Readable {
  let at = 0;
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (fail && at >= size / 2) { this.destroy(fail); return; }
      if (at >= size) { this.push(null); return; }
      const n = Math.min(chunk, size - at);
      this.push(patternBytes(seed, at, n));
      at += n;
      onRead(at);
    },
  });
}

const options = (s3: SlowS3, partSize: number, queueSize: number, beforeMultipart = async () => {}) => ({
  client: s3 as unknown as S3Client, bucket: 'b', key: 'k', partSize, queueSize, beforeMultipart,
});

describe('uploadStream (in-memory S3 double)', () => {
  test('multipart: content intact through reused part buffers, parts bounded by queueSize, the source held back meanwhile', async () => {
    const s3 = new SlowS3();
    const partSize = 5 * MiB;
    const queueSize = 2;
    const size = 23 * MiB + 12_345;
    let maxAhead = 0;
    const src = source(1, size, 70_001, (at) => { maxAhead = Math.max(maxAhead, at - s3.acked); });
    let checks = 0;
    const n = await uploadStream(options(s3, partSize, queueSize, async () => { checks++; }), src);
    assert.equal(n, size);
    assert.equal(checks, 1, 'beforeMultipart runs once');
    assert.deepEqual(s3.objects.get('k'), patternBytes(1, 0, size));
    assert.deepEqual([...s3.parts.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5]);
    assert.equal(s3.parts.get(5)!.length, size - 4 * partSize);
    assert.ok(s3.maxInFlightParts <= queueSize, `at most ${queueSize} parts in flight, saw ${s3.maxInFlightParts}`);
    // read ahead of what S3 acknowledged: the parts in flight, the one being filled, one chunk, the source's buffer
    const bound = (queueSize + 1) * partSize + 70_001 + 64 * 1024;
    assert.ok(maxAhead <= bound, `read ahead ${maxAhead} > ${bound}`);
    assert.equal(s3.calls.at(-1), 'complete');
  });

  test('a source of exactly one part, or less, or nothing, is one PutObject', async () => {
    for (const size of [0, 1, 5 * MiB]) {
      const s3 = new SlowS3();
      const n = await uploadStream(options(s3, 5 * MiB, 4, async () => { throw new Error('no multipart expected'); }), source(2, size, 65_536, () => {}));
      assert.equal(n, size);
      assert.deepEqual(s3.calls, ['put']);
      assert.deepEqual(s3.objects.get('k'), patternBytes(2, 0, size));
    }
  });

  test('a failing part fails the upload with its error and aborts after the other parts settled', async () => {
    const s3 = new SlowS3();
    s3.failPart = 2;
    const src = source(3, 30 * MiB, 65_536, () => {});
    await assert.rejects(uploadStream(options(s3, 5 * MiB, 3), src), /part refused/);
    assert.equal(s3.aborted, 1);
    assert.ok(!s3.calls.includes('complete'));
    assert.ok(src.destroyed, 'the source is released');
  });

  test('a failing source rejects with SourceFailedError carrying its own error, and aborts', async () => {
    const s3 = new SlowS3();
    const boom = new Error('disk on fire');
    await assert.rejects(uploadStream(options(s3, 5 * MiB, 2), source(4, 20 * MiB, 65_536, () => {}, boom)), (err: unknown) => {
      assert.ok(err instanceof SourceFailedError);
      assert.equal(err.error, boom);
      return true;
    });
    assert.equal(s3.aborted, 1);
    assert.ok(!s3.calls.includes('complete'));
  });

  test('what beforeMultipart throws fails the upload as it is, before any part is sent', async () => {
    const s3 = new SlowS3();
    const taken = new Error('taken');
    await assert.rejects(uploadStream(options(s3, 5 * MiB, 2, async () => { throw taken; }), source(5, 12 * MiB, 65_536, () => {})), (err) => err === taken);
    assert.ok(!s3.calls.some((c) => c.startsWith('part') || c === 'create'));
  });
});
