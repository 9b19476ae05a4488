import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { ValidationError } from '../errors.ts';

/**
 * A streaming reader of a `multipart/related` body as the Nextcloud bulk upload sends it
 * (apps/dav/lib/BulkUpload/MultipartRequestParser.php): every part is `--boundary CRLF`, header
 * lines, CRLF, exactly `Content-Length` bytes, CRLF; the body ends with `--boundary--`. Parts are
 * length-delimited, not boundary-scanned, as Nextcloud reads them.
 *
 * Nothing is buffered beyond one network chunk: a part's body is a Readable that pulls from the
 * request as its consumer reads, and it ends only once the bytes after it are checked to be the
 * next delimiter. A part whose Content-Length lies therefore fails (its stream errors, so a store
 * writing it commits nothing), and so does the rest of the body, which can no longer be framed.
 */

/** Limits of one multipart body. */
export interface MultipartLimits {
  /** Most parts; the next one is refused with a MultipartError. */
  readonly maxParts: number;
  /** Most bytes of one part's header block. */
  readonly maxHeaderBytes: number;
}

/** A framing error of the multipart body: nothing after it can be read. */
export class MultipartError extends ValidationError {}

/** One part: lower-cased header names, and its body (read it, or leave it: the next part skips it). */
export interface MultipartPart {
  readonly headers: ReadonlyMap<string, string>;
  /** The part's declared length. */
  readonly length: number;
  readonly body: Readable;
}

/**
 * The boundary of a `multipart/related; boundary=…` Content-Type (quotes allowed).
 * @throws ValidationError when the type is not multipart/related or the boundary is missing or invalid.
 */
export function relatedBoundary(contentType: string | undefined): string {
  if (!contentType) throw new ValidationError('Content-Type must be multipart/related with a boundary');
  const [type, ...params] = contentType.split(';');
  if (type!.trim().toLowerCase() !== 'multipart/related') throw new ValidationError('Content-Type must be multipart/related');
  for (const p of params) {
    const i = p.indexOf('=');
    if (i < 0 || p.slice(0, i).trim().toLowerCase() !== 'boundary') continue;
    let b = p.slice(i + 1).trim();
    if (b.length >= 2 && b.startsWith('"') && b.endsWith('"')) b = b.slice(1, -1);
    // RFC 2046 §5.1.1: 1 to 70 characters, no trailing space
    if (b.length === 0 || b.length > 70 || b.endsWith(' ') || /[^\x20-\x7e]/.test(b)) throw new ValidationError('Invalid multipart boundary');
    return b;
  }
  throw new ValidationError('The multipart boundary is missing from Content-Type');
}

const CRLF = Buffer.from('\r\n');
const PIECE = 64 * 1024;

/** Pull reader over a byte stream: lines and exact byte counts, keeping only the unread rest of one chunk. */
class ByteReader {
  readonly #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);
  #eof = false;

  constructor(source: Readable) {
    // not destroying the request when reading stops: the adapter still answers on its socket
    this.#it = source.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const r = await this.#it.next();
    if (r.done) { this.#eof = true; return false; }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    return true;
  }

  /**
   * Stops reading: the iterator lets go of the stream (its 'readable' listener would otherwise
   * keep the request from flowing, and the rest of the body from being drained).
   */
  async release(): Promise<void> {
    this.#buf = Buffer.alloc(0);
    await this.#it.return?.();
  }

  /** The next line without its CRLF. @throws MultipartError beyond `max` bytes or at the end. */
  async line(max: number): Promise<Buffer> {
    for (;;) {
      const i = this.#buf.indexOf(CRLF);
      if (i >= 0 && i <= max) {
        const out = this.#buf.subarray(0, i);
        this.#buf = this.#buf.subarray(i + 2);
        return out;
      }
      if (this.#buf.length > max + 1) throw new MultipartError('A multipart header line is too long');
      if (!(await this.#fill())) throw new MultipartError('The multipart body ended early');
    }
  }

  /** Up to `n` (≥ 1) bytes. @throws MultipartError at the end of the body. */
  async take(n: number): Promise<Buffer> {
    if (this.#buf.length === 0 && !(await this.#fill())) throw new MultipartError('The multipart body ended before the part did (Content-Length too large?)');
    const out = this.#buf.subarray(0, Math.min(n, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** Exactly `bytes.length` bytes equal to `bytes`. */
  async expect(bytes: Buffer, what: string): Promise<void> {
    while (this.#buf.length < bytes.length) {
      if (!(await this.#fill())) throw new MultipartError(`The multipart body ended where ${what} was expected`);
    }
    if (!this.#buf.subarray(0, bytes.length).equals(bytes)) throw new MultipartError(`${what} not found where it should be (a wrong Content-Length?)`);
    this.#buf = this.#buf.subarray(bytes.length);
  }
}

/** State of the part being read: bytes left, and the read in flight (never two at once). */
interface PartState { remaining: number; pending: Promise<unknown> | undefined; failed: Error | undefined }

/**
 * Reads the parts of a multipart/related body one after another. Only one part is open at a
 * time: asking for the next part first skips what is left of the current one.
 */
export class MultipartReader {
  readonly #r: ByteReader;
  readonly #delimiter: Buffer;
  readonly #limits: MultipartLimits;
  #part: PartState | undefined;
  #count = 0;
  #started = false;
  #done = false;

  constructor(source: Readable, boundary: string, limits: MultipartLimits) {
    this.#r = new ByteReader(source);
    this.#delimiter = Buffer.from(`--${boundary}`);
    this.#limits = limits;
  }

  /** Lets go of the source; what is left of it is the caller's to drain. Call once reading stops. */
  async close(): Promise<void> {
    this.#done = true;
    if (this.#part?.pending) await this.#part.pending;
    await this.#r.release();
  }

  /** How many parts have been opened. */
  get count(): number { return this.#count; }

  /**
   * The next part, or undefined after the closing delimiter.
   * @throws MultipartError for bad framing, a missing or bad Content-Length, too many parts.
   */
  async next(): Promise<MultipartPart | undefined> {
    if (this.#done) return undefined;
    if (!this.#started) {
      this.#started = true;
      await this.#r.expect(this.#delimiter, 'The first multipart boundary');
    } else {
      await this.#finishPart();
    }
    // after a delimiter: "--" closes the body, CRLF opens a part
    const after = await this.#r.line(this.#limits.maxHeaderBytes);
    if (after.toString('latin1').startsWith('--')) { this.#done = true; return undefined; }
    if (after.length !== 0) throw new MultipartError('Garbage after a multipart boundary');
    if (this.#count >= this.#limits.maxParts) throw new MultipartError(`Too many parts: at most ${this.#limits.maxParts} files per bulk request`);
    this.#count++;
    const headers = await this.#headers();
    const rawLength = headers.get('content-length');
    if (rawLength === undefined) throw new MultipartError('Every part needs a Content-Length');
    if (!/^\d{1,15}$/.test(rawLength)) throw new MultipartError('Invalid Content-Length in a part');
    const length = Number(rawLength);
    const state: PartState = { remaining: length, pending: undefined, failed: undefined };
    this.#part = state;
    return { headers, length, body: this.#body(state) };
  }

  async #headers(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let total = 0;
    for (;;) {
      const line = await this.#r.line(this.#limits.maxHeaderBytes - total);
      total += line.length + 2;
      if (line.length === 0) return out;
      const text = line.toString('utf8');
      const i = text.indexOf(':');
      if (i <= 0) throw new MultipartError('A part header line has no ":"');
      out.set(text.slice(0, i).trim().toLowerCase(), text.slice(i + 1).trim());
    }
  }

  /** The body stream of a part: pulls `remaining` bytes, then checks the CRLF and delimiter after them. */
  #body(state: PartState): Readable {
    const self = this;
    async function* pull(): AsyncGenerator<Buffer> {
      while (state.remaining > 0) {
        yield await self.#read(state, () => self.#takeFor(state));
      }
      // the part ends only once the bytes after it are the next delimiter: a lying Content-Length fails here
      await self.#read(state, () => self.#trailer());
    }
    return ReadableStream.from(pull(), { objectMode: false });
  }

  /** Runs one read of the shared reader for a part, remembering it so that no second read overlaps it. */
  async #read<T>(state: PartState, op: () => Promise<T>): Promise<T> {
    if (state.failed) throw state.failed;
    const p = op();
    state.pending = p.catch(() => {});
    try {
      return await p;
    } catch (err) {
      state.failed = err as Error;
      throw err;
    } finally {
      state.pending = undefined;
    }
  }

  /** The next piece of a part's body; `remaining` is counted down before the read settles. */
  async #takeFor(state: PartState): Promise<Buffer> {
    const chunk = await this.#r.take(Math.min(state.remaining, PIECE));
    state.remaining -= chunk.length;
    return chunk;
  }

  async #trailer(): Promise<void> {
    await this.#r.expect(CRLF, 'The line end after a part');
    await this.#r.expect(this.#delimiter, 'The multipart boundary after a part');
    this.#part = undefined;
  }

  /** Skips the unread rest of the open part and its trailer. */
  async #finishPart(): Promise<void> {
    const state = this.#part;
    if (!state) return; // the part's stream read its trailer already
    if (state.pending) await state.pending;
    if (state.failed) throw state.failed;
    while (state.remaining > 0) await this.#takeFor(state);
    if (this.#part === state) await this.#trailer();
  }
}
