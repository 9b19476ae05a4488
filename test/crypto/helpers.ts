import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DecryptStream, EncryptStream, ChunkDecryptStream, openHeader, chunkRangeFor, HEADER_SIZE, type CipherId } from '../../src/crypto/index.ts';

export const kek = randomBytes(32);
export const keyId = randomBytes(16);

export async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

/** Feeds `data` in pieces of `piece` bytes. */
export function source(data: Buffer, piece = 100_000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) parts.push(data.subarray(i, i + piece));
  return Readable.from(parts);
}

export async function encrypt(plain: Buffer, fileId = 7, blobId = Buffer.alloc(16, 1), cipher?: CipherId, piece?: number): Promise<Buffer> {
  return collect(source(plain, piece).pipe(new EncryptStream({ cipher, fileId, blobId, keyId, kek })));
}

export async function decrypt(raw: Buffer, fileId = 7, blobId = Buffer.alloc(16, 1), piece?: number): Promise<Buffer> {
  const d = new DecryptStream({ resolveKek: () => kek, expected: { fileId, blobId } });
  const s = source(raw, piece);
  s.on('error', (e) => d.destroy(e));
  return collect(s.pipe(d));
}

/** Random-access read as the blob store does it: header, then only the needed chunks. */
export async function decryptRange(raw: Buffer, plainSize: number, start: number, end: number, fileId = 7, blobId = Buffer.alloc(16, 1)): Promise<Buffer> {
  const opened = await openHeader(raw.subarray(0, HEADER_SIZE), () => kek, { fileId, blobId });
  const cr = chunkRangeFor(start, end, plainSize);
  const d = new ChunkDecryptStream({ cipher: opened.header.cipher, contentKey: opened.contentKey, plainSize, firstChunk: cr.firstChunk, lastChunk: cr.lastChunk, sliceStart: cr.sliceStart, sliceLength: cr.sliceLength });
  return collect(source(raw.subarray(cr.rawStart, cr.rawEnd + 1)).pipe(d));
}
