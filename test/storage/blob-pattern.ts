/**
 * Deterministic test content without holding it in memory: byte i of pattern `seed` is byte i of
 * the AES-256-CTR keystream under a fixed key with `seed` in the IV, so any range can be recomputed.
 */
import { createCipheriv } from 'node:crypto';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';

const KEY = Buffer.alloc(32, 7);

/** `len` bytes of pattern `seed` starting at byte `start`. */
export function patternBytes(seed: number, start: number, len: number): Buffer {
  const block = Math.floor(start / 16);
  const skip = start % 16;
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(seed >>> 0, 0);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const c = createCipheriv('aes-256-ctr', KEY, iv);
  return c.update(Buffer.alloc(len + skip)).subarray(skip);
}

export interface PatternSourceOptions {
  /** Bytes per yielded chunk (default 64 KiB + 3, to cross part boundaries at odd places). */
  chunk?: number;
  /** Throw this error once `failAfter` bytes have been yielded. */
  failAfter?: number;
  error?: Error;
}

/** A stream of `size` bytes of pattern `seed`, produced lazily by a generator. */
export function patternSource(seed: number, size: number, opts: PatternSourceOptions = {}): Readable {
  const chunk = opts.chunk ?? 65536 + 3;
  return Readable.from((async function* () {
    let off = 0;
    for (;;) {
      if (opts.failAfter !== undefined && off >= opts.failAfter) throw opts.error ?? new Error('source failed');
      if (off >= size) return;
      let n = Math.min(chunk, size - off);
      if (opts.failAfter !== undefined) n = Math.min(n, Math.max(1, opts.failAfter - off));
      yield patternBytes(seed, off, n);
      off += n;
    }
  })(), { objectMode: false });
}

/**
 * Reads `stream` to the end, comparing it chunk by chunk with pattern `seed` from `start`; asserts
 * exactly `len` bytes. Memory stays flat.
 */
export async function assertPatternStream(stream: Readable, seed: number, start: number, len: number, label = ''): Promise<void> {
  let off = 0;
  for await (const c of stream) {
    const buf = c as Buffer;
    assert.ok(off + buf.length <= len, `${label}: stream longer than ${len} bytes`);
    const want = patternBytes(seed, start + off, buf.length);
    if (!buf.equals(want)) {
      let i = 0;
      while (buf[i] === want[i]) i++;
      assert.fail(`${label}: byte ${start + off + i} differs`);
    }
    off += buf.length;
  }
  assert.equal(off, len, `${label}: stream length`);
}
