import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, test } from 'node:test';
import { EARLY_FLUSH_BYTES, WRITE_BATCH, readHead, writeStreamToFile } from '../../src/storage/file-sink.ts';

const dir = mkdtempSync(join(tmpdir(), 'coffer-sink-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Pieces of odd sizes (never a multiple of the batch), deterministic content. */
function* pieces(total: number, seed: Buffer): Generator<Buffer> {
  const sizes = [1, 65_536, 7, 300_001, 4096, 1_048_577];
  for (let off = 0, i = 0; off < total; i++) {
    const n = Math.min(sizes[i % sizes.length], total - off);
    const b = Buffer.allocUnsafe(n);
    for (let j = 0; j < n; j += seed.length) seed.copy(b, j, 0, Math.min(seed.length, n - j));
    if (n >= 4) b.writeUInt32BE(i, 0); // pieces differ, so a reordering would show
    yield b;
    off += n;
  }
}

/** Opens a new file, then streams `source` into it; `started` runs once the sink listens. */
async function sinkTo(name: string, source: Readable, started?: () => void): Promise<{ size: number; path: string }> {
  const path = join(dir, name);
  const fh = await open(path, 'wx', 0o600);
  try {
    const done = writeStreamToFile(fh, source);
    started?.();
    return { size: await done, path };
  } finally {
    await fh.close();
  }
}

test('file sink: every byte in order, across batches and background flushes (> EARLY_FLUSH_BYTES)', async () => {
  const total = EARLY_FLUSH_BYTES * 2 + WRITE_BATCH + 12_345;
  const seed = randomBytes(4096);
  const want = createHash('sha256');
  for (const p of pieces(total, seed)) want.update(p);
  const { size, path } = await sinkTo('big', Readable.from(pieces(total, seed)));
  assert.equal(size, total);
  const got = readFileSync(path);
  assert.equal(got.length, total);
  assert.equal(createHash('sha256').update(got).digest('hex'), want.digest('hex'));
});

test('file sink: an empty source writes an empty file', async () => {
  const { size, path } = await sinkTo('empty', Readable.from([]));
  assert.equal(size, 0);
  assert.equal(readFileSync(path).length, 0);
});

test('file sink: a source that fails mid-stream rejects with its error', async () => {
  const src = new PassThrough();
  await assert.rejects(sinkTo('failing', src, () => {
    src.write(randomBytes(3 * WRITE_BATCH));
    setImmediate(() => src.destroy(new Error('client went away')));
  }), /client went away/);
});

test('file sink: a source that closes before its end rejects', async () => {
  const src = new PassThrough();
  await assert.rejects(sinkTo('closed', src, () => {
    src.write(randomBytes(1000));
    setImmediate(() => src.destroy());
  }), /closed before its end/);
});

test('file sink: a source already failed when the sink starts rejects with its error', async () => {
  const src = new PassThrough();
  src.on('error', () => {});
  src.destroy(new Error('gone before the file was open'));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(sinkTo('failed-early', src), /gone before the file was open/);
});

test('readHead: a short source is read whole; a long one is left paused and the sink writes head + rest in order', async () => {
  const short = await readHead(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 100);
  assert.equal(short.ended, true);
  assert.equal(Buffer.concat(short.chunks).toString(), 'abcd');
  const total = 3 * WRITE_BATCH + 99;
  const seed = randomBytes(4096);
  const want = Buffer.concat([...pieces(total, seed)]);
  const src = Readable.from(pieces(total, seed));
  const head = await readHead(src, WRITE_BATCH);
  assert.equal(head.ended, false);
  assert.ok(head.size >= WRITE_BATCH);
  const path = join(dir, 'headed');
  const fh = await open(path, 'wx', 0o600);
  try {
    assert.equal(await writeStreamToFile(fh, src, head), total);
  } finally { await fh.close(); }
  assert.ok(readFileSync(path).equals(want));
});

test('readHead: a source that fails while paused between readHead and the sink is not an unhandled error; the sink rejects with it', async () => {
  const src = new PassThrough();
  src.write(randomBytes(WRITE_BATCH));
  const head = await readHead(src, WRITE_BATCH);
  src.destroy(new Error('client went away meanwhile'));
  await new Promise((r) => setImmediate(r));
  const fh = await open(join(dir, 'headed-failing'), 'wx', 0o600);
  try {
    await assert.rejects(writeStreamToFile(fh, src, head), /client went away meanwhile/);
  } finally { await fh.close(); }
});

test('readHead: a failing or early-closing source rejects', async () => {
  const failing = new PassThrough();
  setImmediate(() => failing.destroy(new Error('boom')));
  await assert.rejects(readHead(failing, 100), /boom/);
  const closing = new PassThrough();
  closing.write('x');
  setImmediate(() => closing.destroy());
  await assert.rejects(readHead(closing, 100), /closed before its end/);
});
