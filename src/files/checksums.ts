import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { STREAM_BUFFER } from '../storage/buffer-sizes.ts';

/** Counts bytes and feeds the requested hashes while content streams through. */
export class HashingCounter extends Transform {
  bytes = 0;
  readonly hashes: Map<string, Hash>;
  constructor(algos: string[]) {
    super({ highWaterMark: STREAM_BUFFER });
    this.hashes = new Map(algos.map((a) => [a, createHash(a === 'SHA1' ? 'sha1' : 'md5')]));
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    for (const h of this.hashes.values()) h.update(chunk);
    cb(null, chunk);
  }
  digest(algo: string): string | undefined { return this.hashes.get(algo)?.digest('hex'); }
}

/** Parses `SHA1:abc MD5:def` into a map of upper-case algorithm → lower-case hex. */
export function parseChecksums(value: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (value ?? '').trim().split(/\s+/)) {
    const i = part.indexOf(':');
    if (i > 0) out.set(part.slice(0, i).toUpperCase(), part.slice(i + 1).toLowerCase());
  }
  return out;
}

export function formatChecksums(map: Map<string, string>): string | null {
  return map.size === 0 ? null : [...map].map(([k, v]) => `${k}:${v}`).join(' ');
}

/** Hex digest of a stream (ADLER32 as Nextcloud's X-Recalculate-Hash offers it, 8 hex digits). */
export async function digestStream(stream: Readable, algo: 'SHA1' | 'MD5' | 'ADLER32'): Promise<string> {
  if (algo === 'ADLER32') {
    let a = 1, b = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) { a = (a + chunk[i]) % 65521; b = (b + a) % 65521; }
    }
    return (((b << 16) | a) >>> 0).toString(16).padStart(8, '0');
  }
  const h = createHash(algo === 'SHA1' ? 'sha1' : 'md5');
  for await (const chunk of stream as AsyncIterable<Buffer>) h.update(chunk);
  return h.digest('hex');
}
