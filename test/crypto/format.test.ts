import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CryptoError } from '../../src/errors.ts';
import {
  CHUNK_SIZE, CIPHER_AES_256_GCM, CIPHER_CHACHA20_POLY1305, HEADER_SIZE, RAW_CHUNK_SIZE, encryptedSize, plaintextSize, parseHeader,
} from '../../src/crypto/index.ts';
import { decrypt, decryptRange, encrypt } from './helpers.ts';

const K = CHUNK_SIZE;
const SIZES = [0, 1, K - 1, K, K + 1, 2 * K + 1, 10 * 1024 * 1024];

for (const cipher of [CIPHER_AES_256_GCM, CIPHER_CHACHA20_POLY1305] as const) {
  test(`round trip at every chunk boundary (cipher ${cipher})`, async () => {
    for (const n of SIZES) {
      const plain = randomBytes(n);
      const raw = await encrypt(plain, 7, Buffer.alloc(16, 1), cipher, n > K ? 77_777 : 1000);
      assert.equal(raw.length, encryptedSize(n), `size formula at ${n}`);
      assert.equal(plaintextSize(raw.length), n);
      assert.equal(parseHeader(raw).cipher, cipher);
      assert.ok(!raw.includes(plain.subarray(0, Math.min(n, 64))) || n < 8, 'no plaintext in ciphertext');
      assert.deepEqual(await decrypt(raw, 7, Buffer.alloc(16, 1), 65_000), plain, `round trip at ${n}`);
    }
  });
}

test('overhead: header 140 B + 16 B per chunk, ≤ 0.05 % from 1 MiB', () => {
  assert.equal(HEADER_SIZE, 140);
  assert.equal(encryptedSize(0), 156);
  assert.equal(encryptedSize(1), 157);
  for (const n of [1 << 20, 1 << 30]) assert.ok((encryptedSize(n) - n) / n <= 0.0005, `overhead at ${n}`);
});

test('plaintextSize rejects impossible raw sizes', () => {
  for (const raw of [0, 100, HEADER_SIZE + 15, HEADER_SIZE + RAW_CHUNK_SIZE + 16, HEADER_SIZE + RAW_CHUNK_SIZE + 3]) {
    assert.throws(() => plaintextSize(raw), CryptoError, `raw ${raw}`);
  }
  assert.equal(plaintextSize(HEADER_SIZE + RAW_CHUNK_SIZE + 17), K + 1);
});

test('range reads at every offset class', async () => {
  const n = 3 * K + 500;
  const plain = randomBytes(n);
  const raw = await encrypt(plain);
  const cases: [number, number][] = [
    [0, 0], [10, 20], [0, K - 1], [K - 1, K], [K - 10, K + 10], [K, 2 * K - 1], [100, 3 * K + 100],
    [n - 1, n - 1], [n - 500, n - 1], [3 * K, n - 1], [0, n - 1], [n - 10, n + 1000],
  ];
  for (const [a, b] of cases) {
    assert.deepEqual(await decryptRange(raw, n, a, b), plain.subarray(a, Math.min(b, n - 1) + 1), `range ${a}-${b}`);
  }
  const exact = randomBytes(2 * K);
  const raw2 = await encrypt(exact);
  assert.deepEqual(await decryptRange(raw2, 2 * K, 2 * K - 5, 2 * K - 1), exact.subarray(2 * K - 5));
});

async function rejects(raw: Buffer, pattern: RegExp, fileId = 7, blobId = Buffer.alloc(16, 1)): Promise<void> {
  await assert.rejects(decrypt(raw, fileId, blobId), (err: unknown) => {
    assert.ok(err instanceof CryptoError, `expected CryptoError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('tamper: bit flips in header, chunk and tag are refused', async () => {
  const plain = randomBytes(2 * K + 1);
  const raw = await encrypt(plain);
  const flip = (off: number) => { const c = Buffer.from(raw); c[off]! ^= 1; return c; };
  await rejects(flip(5), /cipher|header|unwrap/);        // cipher id
  await rejects(flip(12), /another file/);               // file id
  await rejects(flip(40), /unwrapped/);                  // key id
  await rejects(flip(70), /unwrapped/);                  // wrapped DEK
  await rejects(flip(120), /header failed authentication/); // commitment
  await rejects(flip(HEADER_SIZE + 10), /chunk 0 failed authentication/);
  await rejects(flip(HEADER_SIZE + RAW_CHUNK_SIZE + 100), /chunk 1 failed authentication/);
  await rejects(flip(HEADER_SIZE + RAW_CHUNK_SIZE - 3), /chunk 0 failed authentication/); // tag of chunk 0
  await rejects(flip(raw.length - 1), /chunk 2 failed authentication/);
});

test('truncation, extension and reordering are refused', async () => {
  const plain = randomBytes(3 * K);
  const raw = await encrypt(plain);
  await rejects(raw.subarray(0, 100), /truncated/);                                  // header only (partial)
  await rejects(raw.subarray(0, HEADER_SIZE), /truncated/);                          // header only
  await rejects(raw.subarray(0, HEADER_SIZE + RAW_CHUNK_SIZE + 1000), /failed authentication|truncated/); // mid-chunk
  await rejects(raw.subarray(0, HEADER_SIZE + 2 * RAW_CHUNK_SIZE), /truncated \(chunk 1 is not the final chunk\)/); // boundary
  await rejects(Buffer.concat([raw, Buffer.from('x')]), /failed authentication|after the final chunk/);
  const extra = raw.subarray(HEADER_SIZE, HEADER_SIZE + RAW_CHUNK_SIZE);
  await rejects(Buffer.concat([raw, extra]), /after the final chunk|failed authentication/);
  const c0 = raw.subarray(HEADER_SIZE, HEADER_SIZE + RAW_CHUNK_SIZE);
  const c1 = raw.subarray(HEADER_SIZE + RAW_CHUNK_SIZE, HEADER_SIZE + 2 * RAW_CHUNK_SIZE);
  await rejects(Buffer.concat([raw.subarray(0, HEADER_SIZE), c1, c0, raw.subarray(HEADER_SIZE + 2 * RAW_CHUNK_SIZE)]), /chunk 0 failed authentication/);
});

test('swap (other file) and rollback (older version of the same file) are refused', async () => {
  const a = await encrypt(randomBytes(1000), 7, Buffer.alloc(16, 1));
  const other = await encrypt(randomBytes(1000), 8, Buffer.alloc(16, 2));
  const older = await encrypt(randomBytes(1000), 7, Buffer.alloc(16, 3));
  await rejects(other, /another file or version/, 7, Buffer.alloc(16, 1));
  await rejects(older, /another file or version/, 7, Buffer.alloc(16, 1));
  // Splice: header of one blob with chunks of another version of the same file.
  await rejects(Buffer.concat([a.subarray(0, HEADER_SIZE), older.subarray(HEADER_SIZE)]), /chunk 0 failed authentication/);
});

test('range reads reaching a truncated end are refused', async () => {
  const plain = randomBytes(3 * K);
  const raw = await encrypt(plain);
  const cut = raw.subarray(0, HEADER_SIZE + 2 * RAW_CHUNK_SIZE); // looks like a valid 2-chunk blob
  await assert.rejects(decryptRange(cut, plaintextSize(cut.length), K + 10, 2 * K - 1), /truncated/);
});
