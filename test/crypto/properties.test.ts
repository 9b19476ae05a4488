import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CryptoError } from '../../src/errors.ts';
import { CHUNK_SIZE, hkdfSha256 } from '../../src/crypto/index.ts';
import { decrypt, encrypt } from './helpers.ts';

const K = CHUNK_SIZE;

test('property: any single bit flip, truncation or extension is a CryptoError, never wrong bytes', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 0, max: 2 * K + 3 }),
    fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 0.9999, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.double({ min: 0, max: 0.9999, noNaN: true }) }),
      fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: K + 20 }) }),
    ),
    fc.integer({ min: 1, max: 70_000 }),
    async (size, m, piece) => {
      const plain = randomBytes(size);
      const raw = await encrypt(plain);
      let bad: Buffer;
      if (m.kind === 'flip') { bad = Buffer.from(raw); bad[Math.floor(m.at * raw.length)]! ^= 1 << m.bit; }
      else if (m.kind === 'cut') bad = raw.subarray(0, Math.floor(m.at * raw.length));
      else bad = Buffer.concat([raw, randomBytes(m.n)]);
      await assert.rejects(decrypt(bad, 7, Buffer.alloc(16, 1), piece), (err: unknown) => err instanceof CryptoError);
      assert.deepEqual(await decrypt(raw, 7, Buffer.alloc(16, 1), piece), plain);
    },
  ), { numRuns: 50 });
});

test('decoder accepts input in any piece size, down to one byte', async () => {
  const plain = randomBytes(K + 300);
  const raw = await encrypt(plain, 7, Buffer.alloc(16, 1), undefined, 13);
  for (const piece of [1, 7, 139, 140, 141, K + 16, K + 17]) {
    assert.deepEqual(await decrypt(raw, 7, Buffer.alloc(16, 1), piece), plain, `piece ${piece}`);
  }
});

test('property: hkdfSha256 equals node:crypto hkdfSync (RFC 5869) for any key, salt, info and length', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.uint8Array({ minLength: 0, maxLength: 80 }),
    fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.integer({ min: 1, max: 255 * 32 }),
    (ikm, salt, info, length) => {
      const want = Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
      assert.ok(hkdfSha256(Buffer.from(ikm), Buffer.from(salt), Buffer.from(info), length).equals(want));
    },
  ), { numRuns: 300 });
  assert.throws(() => hkdfSha256(Buffer.alloc(32), Buffer.alloc(0), Buffer.alloc(0), 255 * 32 + 1), RangeError);
});
