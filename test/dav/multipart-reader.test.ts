/**
 * The streaming multipart/related reader on its own: framing however the bytes are split, parts
 * left unread, lying lengths, the part limit, the boundary parameter.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MultipartError, MultipartReader, relatedBoundary } from '../../src/dav/multipart-reader.ts';
import { ValidationError } from '../../src/errors.ts';

const B = 'b0undary';
const part = (name: string, body: Buffer, length = body.length) =>
  Buffer.concat([Buffer.from(`--${B}\r\nX-File-Path: ${name}\r\nContent-Length: ${length}\r\n\r\n`), body, Buffer.from('\r\n')]);
const whole = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.from(`--${B}--\r\n`)]);

/** The bytes as a stream of `size`-byte pieces. */
function split(buf: Buffer, size: number): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) pieces.push(buf.subarray(i, i + size));
  return Readable.from(pieces, { objectMode: false });
}

async function readAll(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

const LIMITS = { maxParts: 10, maxHeaderBytes: 1024 };

describe('multipart/related reader', () => {
  const bodiesOf = (n: number) => [Buffer.from('hello'), Buffer.alloc(0), randomBytes(n), Buffer.from(`\r\n--${B}\r\n inside a body is just bytes`)];
  const bodies = bodiesOf(200_000);
  const bytes = whole(...bodies.map((b, i) => part(`/f${i}`, b)));

  // byte by byte costs an await per byte: a smaller middle part there
  for (const size of [1, 7, 4096, 200_279]) {
    test(`reads every part whatever the split (${size}-byte pieces)`, async () => {
      const bodies = size < 100 ? bodiesOf(3000) : bodiesOf(200_000);
      const bytes = whole(...bodies.map((b, i) => part(`/f${i}`, b)));
      const r = new MultipartReader(split(bytes, size), B, LIMITS);
      const got: Buffer[] = [];
      for (let p = await r.next(); p; p = await r.next()) {
        assert.equal(p.headers.get('x-file-path'), `/f${got.length}`);
        got.push(await readAll(p.body));
      }
      assert.deepEqual(got, bodies);
      assert.equal(r.count, 4);
      await r.close();
    });
  }

  test('a part left unread (or half read) is skipped by the next one', async () => {
    const r = new MultipartReader(split(bytes, 1000), B, LIMITS);
    await r.next(); // never read
    const big = (await r.next())!; // the empty one, never read
    assert.equal(big.length, 0);
    const third = (await r.next())!;
    for await (const c of third.body) { assert.ok((c as Buffer).length > 0); break; } // half read, then dropped
    const fourth = (await r.next())!;
    assert.deepEqual(await readAll(fourth.body), bodies[3]);
    assert.equal(await r.next(), undefined);
  });

  test('a lying Content-Length errors the part stream itself, and the reader after it', async () => {
    const r = new MultipartReader(split(whole(part('/a', Buffer.from('0123456789'), 4), part('/b', Buffer.from('x'))), 3), B, LIMITS);
    const p = (await r.next())!;
    await assert.rejects(readAll(p.body), MultipartError);
    await assert.rejects(r.next(), MultipartError);
    const r2 = new MultipartReader(split(whole(part('/a', Buffer.from('0123'), 40)), 3), B, LIMITS);
    await assert.rejects(readAll((await r2.next())!.body), /ended before the part did|boundary/);
  });

  test('too many parts, a missing Content-Length, garbage: MultipartError', async () => {
    const many = whole(...Array.from({ length: 11 }, (_, i) => part(`/${i}`, Buffer.from('x'))));
    const r = new MultipartReader(split(many, 64), B, LIMITS);
    for (let i = 0; i < 10; i++) assert.ok(await r.next());
    await assert.rejects(r.next(), /Too many parts: at most 10/);
    const noLen = Buffer.from(`--${B}\r\nX-File-Path: /a\r\n\r\nabc\r\n--${B}--\r\n`);
    await assert.rejects(new MultipartReader(split(noLen, 5), B, LIMITS).next(), /Content-Length/);
    await assert.rejects(new MultipartReader(split(Buffer.from('not multipart at all'), 5), B, LIMITS).next(), /first multipart boundary/);
    const longHeader = Buffer.from(`--${B}\r\nX-File-Path: ${'a'.repeat(5000)}\r\nContent-Length: 1\r\n\r\na\r\n--${B}--`);
    await assert.rejects(new MultipartReader(split(longHeader, 100), B, LIMITS).next(), /too long/);
  });

  test('the boundary parameter of Content-Type', () => {
    assert.equal(relatedBoundary('multipart/related; boundary=abc'), 'abc');
    assert.equal(relatedBoundary('Multipart/Related; charset=x; boundary="a b:c"'), 'a b:c');
    assert.throws(() => relatedBoundary('multipart/related'), /boundary is missing/);
    assert.throws(() => relatedBoundary('multipart/form-data; boundary=x'), ValidationError);
    assert.throws(() => relatedBoundary(undefined), ValidationError);
    assert.throws(() => relatedBoundary(`multipart/related; boundary=${'x'.repeat(71)}`), /Invalid/);
  });
});
