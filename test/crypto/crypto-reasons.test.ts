/**
 * Every way a stored blob can be damaged surfaces as a CryptoError whose `reason` names the
 * damage (as minio/sio's sentinel errors do), so that callers, the audit log and tests tell them
 * apart without parsing messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CryptoError, type CryptoReason } from '../../src/errors.ts';
import { CHUNK_SIZE, HEADER_SIZE, RAW_CHUNK_SIZE } from '../../src/crypto/index.ts';
import { decrypt, encrypt } from './helpers.ts';

const reasonOf = async (p: Promise<unknown>): Promise<CryptoReason> => {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CryptoError, `expected a CryptoError, got ${String(err)}`);
    return err.reason;
  }
  assert.fail('the damaged blob was decrypted');
};

test('truncated, extended, tampered, rebound and foreign blobs each have their own reason', async () => {
  const plain = randomBytes(2 * CHUNK_SIZE + 10);
  const raw = await encrypt(plain);
  assert.deepEqual(await decrypt(raw), plain);

  // whole chunks missing at the end: the last one left is not marked final
  assert.equal(await reasonOf(decrypt(raw.subarray(0, HEADER_SIZE + 2 * RAW_CHUNK_SIZE))), 'truncated');
  // a header cut short
  assert.equal(await reasonOf(decrypt(raw.subarray(0, HEADER_SIZE - 1))), 'truncated');
  // bytes after a final chunk that is whole (after a short one they join it: its tag fails)
  const whole = await encrypt(randomBytes(2 * CHUNK_SIZE));
  assert.equal(await reasonOf(decrypt(Buffer.concat([whole, randomBytes(100)]))), 'extended');
  assert.equal(await reasonOf(decrypt(Buffer.concat([raw, randomBytes(100)]))), 'tag-mismatch');
  // one bit of a chunk flipped
  const flipped = Buffer.from(raw);
  flipped[HEADER_SIZE + RAW_CHUNK_SIZE + 7]! ^= 0x80;
  assert.equal(await reasonOf(decrypt(flipped)), 'tag-mismatch');
  // a header altered: the key commitment no longer verifies
  const header = Buffer.from(raw);
  header[HEADER_SIZE - 1]! ^= 1;
  assert.equal(await reasonOf(decrypt(header)), 'tag-mismatch');
  // an authentic blob of another file, or of another version of this one
  assert.equal(await reasonOf(decrypt(raw, 8)), 'wrong-binding');
  assert.equal(await reasonOf(decrypt(raw, 7, Buffer.alloc(16, 2))), 'wrong-binding');
  // not a cfe1 blob at all
  assert.equal(await reasonOf(decrypt(randomBytes(HEADER_SIZE + RAW_CHUNK_SIZE))), 'malformed');
});
