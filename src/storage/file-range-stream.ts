import { close, read } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { STREAM_BUFFER } from './buffer-sizes.ts';
import { noteStreamed } from './transfer-garbage.ts';

/**
 * A byte range [start, end] of an open file: a Readable like fs.createReadStream (a fresh buffer per
 * read), which can also send itself into a writable through two buffers that it reuses (sendTo).
 *
 * Why sendTo: a download through a Readable allocates a new buffer for every read. On Node 26 V8
 * counts those buffers as external memory and starts a full mark-compact every few dozen MiB of
 * them (the old generation holds the whole server, so each one costs tens of ms, most on the
 * second core); the garbage between two of them is what the server's RSS grows by while streaming.
 * Reading into the same two buffers, each reused once the socket took its bytes, allocates nothing
 * per byte: no such GC, no first-touch page faults, and the memory of a transfer is 2 × STREAM_BUFFER.
 * The descriptor is owned by the stream and closed when it ends, fails or is destroyed.
 */
export class FileRangeStream extends Readable {
  readonly #fd: number;
  #pos: number;
  readonly #end: number;
  #closed = false;
  /** Set once sendTo or the Readable side took the bytes: only one of them may. */
  #taken: 'send' | 'read' | undefined;

  /** `end` inclusive; `start > end` is an empty range. */
  constructor(fd: number, start: number, end: number) {
    super({ highWaterMark: STREAM_BUFFER });
    this.#fd = fd;
    this.#pos = start;
    this.#end = end;
  }

  /** Bytes left to deliver. */
  get remaining(): number { return Math.max(0, this.#end - this.#pos + 1); }

  /** Whether sendTo may still be used (nothing was read through the Readable side yet). */
  get sendable(): boolean { return this.#taken === undefined && !this.destroyed; }

  override _read(size: number): void {
    this.#taken ??= 'read';
    const len = Math.min(Math.max(size, STREAM_BUFFER), this.remaining);
    if (len === 0) { this.push(null); return; }
    const buf = Buffer.allocUnsafeSlow(len);
    read(this.#fd, buf, 0, len, this.#pos, (err, n) => {
      if (err) { this.destroy(err); return; }
      if (n === 0) { this.push(null); return; } // the file is shorter: the consumer checks the length
      this.#pos += n;
      noteStreamed(n);
      this.push(n === len ? buf : buf.subarray(0, n));
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#close(() => cb(err));
  }

  /**
   * Sends every byte of the range into `dest` (without ending it) through two reused buffers: the
   * next read fills one buffer while `dest` writes the other, and a buffer is read into again only
   * after `dest` reported its write done (the socket has copied it). Resolves with the bytes sent,
   * fewer than the range only when the file ended early. The descriptor is closed either way.
   * @throws Error when the stream was already read from; the read error; the write error of `dest`
   *   (for instance when the client went away: `dest` destroyed).
   */
  async sendTo(dest: Writable): Promise<number> {
    if (!this.sendable) throw new Error('the stream was already read');
    this.#taken = 'send';
    let sent = 0;
    const size = Math.min(STREAM_BUFFER, this.remaining);
    const bufs = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
    const writes: (Promise<void> | undefined)[] = [undefined, undefined];
    const closed = destClosed(dest);
    try {
      for (let i = 0; this.remaining > 0; i ^= 1) {
        await writes[i]; // the socket is done with this buffer
        const len = Math.min(bufs[i].length, this.remaining);
        const n = await readAt(this.#fd, bufs[i], len, this.#pos);
        if (n === 0) break;
        this.#pos += n;
        sent += n;
        writes[i] = writeChunk(dest, bufs[i].subarray(0, n), closed.promise);
      }
      await Promise.all(writes);
      return sent;
    } finally {
      closed.off();
      await new Promise<void>((resolve) => this.#close(resolve));
      this.destroy();
    }
  }

  #close(done: () => void): void {
    if (this.#closed) { done(); return; }
    this.#closed = true;
    close(this.#fd, () => done());
  }
}

/** Reads up to `len` bytes at `pos` into the start of `buf`; 0 at end of file. @throws the read error */
function readAt(fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    read(fd, buf, 0, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/**
 * Writes `chunk` and resolves once `dest` is done with it (its write callback), or rejects when
 * `dest` fails or closes first. The returned promise never goes unhandled (sendTo awaits it later).
 */
function writeChunk(dest: Writable, chunk: Buffer, closed: Promise<never>): Promise<void> {
  const written = new Promise<void>((resolve, reject) => {
    dest.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
  const p = Promise.race([written, closed]);
  p.catch(() => {});
  return p;
}

/** A promise that rejects when `dest` closes or fails (a write callback may then never come), and its detach. */
function destClosed(dest: Writable): { promise: Promise<never>; off(): void } {
  let onClose = () => {};
  const promise = new Promise<never>((_resolve, reject) => {
    onClose = () => reject(dest.errored ?? new Error('the connection closed before the content was sent'));
  });
  promise.catch(() => {});
  dest.once('close', onClose);
  dest.once('error', onClose);
  return { promise, off: () => { dest.off('close', onClose); dest.off('error', onClose); } };
}
