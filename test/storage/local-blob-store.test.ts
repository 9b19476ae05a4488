import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { SMALL_BLOB } from '../../src/storage/buffer-sizes.ts';
import { newBlobId } from '../../src/storage/blob-id.ts';
import { runBlobStoreConformance } from './blob-store-conformance.ts';
import { SYSTEM } from '../../src/actor.ts';
import { openDescriptorsUnder } from '../support/open-descriptors.ts';

runBlobStoreConformance('LocalBlobStore on a temp dir', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
  const store = new LocalBlobStore(join(dir, 'blobs'));
  await store.init();
  return {
    store,
    async leftovers(blobId: string) {
      return readdirSync(store.tempDir).filter((f) => f.startsWith(`${blobId}.`)).map((f) => `temp file ${f}`);
    },
    async close() { rmSync(dir, { recursive: true, force: true }); },
  };
}, {
  // LocalBlobStore.put renames over an existing blob instead of throwing AlreadyExistsError
  // (reported to the lead); the test runs as todo until that is fixed.

});

// ---- small-blob fast path, shard folders, reads sized to the blob (no timing: counts and bytes)

const MiB = 1 << 20;
const CTX = { fileId: 1, owner: 'alice', actor: SYSTEM };

async function freshStore(): Promise<{ dir: string; store: LocalBlobStore }> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-lbs-'));
  const store = new LocalBlobStore(join(dir, 'blobs'));
  await store.init();
  return { dir, store };
}

async function drain(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('sizes around SMALL_BLOB, one chunk or many, round-trip and leave no temp file', async () => {
  const { dir, store } = await freshStore();
  try {
    for (const size of [0, 1, 4096, SMALL_BLOB - 1, SMALL_BLOB, SMALL_BLOB + 1, 3 * SMALL_BLOB + 5]) {
      const data = randomBytes(size);
      const pieces = [data.subarray(0, size >> 2), data.subarray(size >> 2, size >> 1), data.subarray(size >> 1)];
      for (const source of [Readable.from([data]), Readable.from(pieces)]) {
        const id = newBlobId();
        assert.equal((await store.put(id, source, CTX)).size, size);
        assert.ok(readFileSync(store.pathOf(id)).equals(data), `content of ${size}`);
        assert.ok((await drain(await store.get(id, 'plain', CTX))).equals(data), `get of ${size}`);
        assert.equal(await store.size(id), size);
      }
    }
    assert.deepEqual(readdirSync(store.tempDir), []);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a source ending later (asynchronously) after exactly SMALL_BLOB bytes streams through the temp path', async () => {
  const { dir, store } = await freshStore();
  try {
    const data = randomBytes(SMALL_BLOB);
    const src = new PassThrough();
    const id = newBlobId();
    const done = store.put(id, src, CTX);
    src.write(data);
    await new Promise((r) => setTimeout(r, 20));
    src.end();
    assert.equal((await done).size, SMALL_BLOB);
    assert.ok(readFileSync(store.pathOf(id)).equals(data));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a small put to a taken id fails with AlreadyExistsError and leaves the blob as it was', async () => {
  const { dir, store } = await freshStore();
  try {
    const id = newBlobId();
    await store.put(id, Readable.from([Buffer.from('first')]), CTX);
    await assert.rejects(store.put(id, Readable.from([Buffer.from('second')]), CTX), AlreadyExistsError);
    assert.equal(readFileSync(store.pathOf(id), 'utf8'), 'first');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a small source failing before its end creates no file at all', async () => {
  const { dir, store } = await freshStore();
  try {
    const id = newBlobId();
    const src = new PassThrough();
    const done = store.put(id, src, CTX);
    src.write(randomBytes(1000));
    setImmediate(() => src.destroy(new Error('client went away')));
    await assert.rejects(done, /client went away/);
    assert.equal(existsSync(store.pathOf(id)), false);
    assert.deepEqual(readdirSync(store.tempDir), []);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('existing data directories: blobs and shard folders made before are found; a removed shard folder is made again', async () => {
  const { dir } = await freshStore();
  try {
    // a blob written by an earlier version, at the same <id[0..2]>/<id[2..4]>/<id> path
    const old = newBlobId();
    mkdirSync(join(dir, 'blobs', old.slice(0, 2), old.slice(2, 4)), { recursive: true });
    writeFileSync(join(dir, 'blobs', old.slice(0, 2), old.slice(2, 4), old), 'old content');
    const reopened = new LocalBlobStore(join(dir, 'blobs'));
    await reopened.init();
    assert.equal((await drain(await reopened.get(old, 'plain', CTX))).toString(), 'old content');
    // same shard folder as the old blob: the folder listing says it exists
    const sibling = old.slice(0, 4) + newBlobId().slice(4);
    await reopened.put(sibling, Readable.from([Buffer.from('new')]), CTX);
    assert.equal(readFileSync(reopened.pathOf(sibling), 'utf8'), 'new');
    assert.deepEqual((await collectIds(reopened)).sort(), [old, sibling].sort());
    // shard folder removed behind the store's back: made again on the next put, small or large
    rmSync(join(dir, 'blobs', old.slice(0, 2)), { recursive: true });
    for (const size of [10, SMALL_BLOB + 10]) {
      const id = old.slice(0, 4) + newBlobId().slice(4);
      await reopened.put(id, Readable.from([randomBytes(size)]), CTX);
      assert.equal(statSync(reopened.pathOf(id)).size, size);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

async function collectIds(store: LocalBlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const b of store.list()) ids.push(b.blobId);
  return ids;
}

test('get: byte streams (not object mode), ranges of small and large blobs, invalid ranges refused, no descriptor left open', async () => {
  const { dir, store } = await freshStore();
  try {
    const small = randomBytes(3000);
    const large = randomBytes(2 * MiB + 777);
    const a = newBlobId(), b = newBlobId();
    await store.put(a, Readable.from([small]), CTX);
    await store.put(b, Readable.from([large]), CTX);
    const fds0 = openDescriptorsUnder(dir);
    for (let i = 0; i < 20; i++) {
      const s = await store.get(a, 'plain', CTX);
      assert.equal(s.readableObjectMode, false);
      assert.ok((await drain(s)).equals(small));
      assert.ok((await drain(await store.get(a, 'plain', CTX, { start: 10, end: 99_999 }))).equals(small.subarray(10)));
      assert.equal((await drain(await store.get(a, 'plain', CTX, { start: 3000, end: 4000 }))).length, 0);
      assert.ok((await drain(await store.get(b, 'plain', CTX, { start: MiB - 5, end: 2 * MiB + 100 }))).equals(large.subarray(MiB - 5, 2 * MiB + 101)));
      assert.ok((await drain(await store.get(b, 'plain', CTX))).equals(large));
      await assert.rejects(store.get(a, 'plain', CTX, { start: 5, end: 4 }), ValidationError);
      await assert.rejects(store.get(a, 'plain', CTX, { start: -1, end: 4 }), ValidationError);
      await assert.rejects(store.get(newBlobId(), 'plain', CTX), NotFoundError);
      (await store.get(b, 'plain', CTX)).destroy(); // a large read abandoned unread
    }
    await new Promise((r) => setTimeout(r, 50)); // destroyed streams close their descriptors asynchronously
    assert.equal(openDescriptorsUnder(dir), fds0);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('newBlobId: 32 hex digits, unique; ids in a row share their shard folder, which changes after a run of them', () => {
  const ids = Array.from({ length: 10_000 }, () => newBlobId());
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(new Set(ids).size, ids.length);
  const shards = new Set(ids.map((id) => id.slice(0, 4)));
  // 10,000 ids span at most 4 runs (a run may have started before this test), and more than one
  assert.ok(shards.size >= 2 && shards.size <= 4, `${shards.size} shard folders`);
  // within a run, the rest of the id is random: no two ids share their next 16 digits
  assert.equal(new Set(ids.map((id) => id.slice(4, 20))).size, ids.length);
});
