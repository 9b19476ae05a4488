import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { DecryptStream, EncryptStream, CHUNK_SIZE } from '../../src/crypto/index.ts';
import { VECTOR_INPUTS, computeVector, plaintextOf } from './vector-inputs.ts';
import { collect } from './helpers.ts';

const doc = JSON.parse(readFileSync(new URL('../../docs/format-vectors.json', import.meta.url), 'utf8'));
const md = readFileSync(new URL('../../docs/FORMAT.md', import.meta.url), 'utf8');

test('known-answer vectors in docs/format-vectors.json match the implementation', () => {
  const v = VECTOR_INPUTS;
  assert.equal(doc.inputs.dek, v.dek.toString('hex'));
  assert.equal(doc.inputs.kek, v.kek.toString('hex'));
  assert.equal(doc.inputs.fileId, v.fileId);
  assert.equal(doc.vectors.length, 5);
  for (const vec of doc.vectors) {
    const got = computeVector({ cipher: vec.cipher, size: vec.plaintextSize });
    assert.equal(got.header, vec.header, vec.name);
    assert.equal(got.blobSize, vec.blobSize, vec.name);
    assert.equal(got.blobSha256, vec.blobSha256, vec.name);
    if (vec.blob) assert.equal(got.blob, vec.blob, vec.name);
  }
});

test('docs/FORMAT.md quotes the same vectors', () => {
  for (const vec of doc.vectors) {
    assert.ok(md.includes(vec.blobSha256), `FORMAT.md lacks the SHA-256 of "${vec.name}"`);
    if (vec.blob) assert.ok(md.replace(/\s+/g, '').includes(vec.blob), `FORMAT.md lacks the blob hex of "${vec.name}"`);
  }
});

test('the streaming encoder reproduces the vectors and the decoder opens them', async () => {
  const v = VECTOR_INPUTS;
  for (const vec of doc.vectors) {
    const plain = plaintextOf(vec.plaintextSize);
    const enc = new EncryptStream({ cipher: vec.cipher, fileId: v.fileId, blobId: v.blobId, keyId: v.keyId, kek: v.kek, dek: Buffer.from(v.dek), wrapNonce: v.wrapNonce });
    const raw = await collect(Readable.from(plain.length > CHUNK_SIZE ? [plain.subarray(0, 1000), plain.subarray(1000)] : [plain]).pipe(enc));
    assert.equal(computeHash(raw), vec.blobSha256, vec.name);
    const dec = new DecryptStream({ resolveKek: () => v.kek, expected: { fileId: v.fileId, blobId: v.blobId } });
    assert.deepEqual(await collect(Readable.from([raw]).pipe(dec)), plain);
  }
});

import { createHash } from 'node:crypto';
function computeHash(b: Buffer): string { return createHash('sha256').update(b).digest('hex'); }
