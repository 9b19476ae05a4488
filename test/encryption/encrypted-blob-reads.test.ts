/**
 * EncryptedBlobStore reads over a local store: small blobs read whole with their header, larger ones
 * streamed from the descriptor opened for the header; ranges, integrity failures and descriptors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AppConfigRepository } from '../../src/db/app-config.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';
import { CryptoError, NotFoundError } from '../../src/errors.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { newBlobId } from '../../src/storage/blob-id.ts';
import { KeyStore } from '../../src/keys/key-store.ts';
import { KeyManager } from '../../src/encryption/master-key/key-manager.ts';
import { EncryptionState } from '../../src/encryption/encryption-state.ts';
import { EncryptedBlobStore } from '../../src/encryption/encrypted-blob-store.ts';
import { EncryptionService } from '../../src/encryption/encryption-service.ts';
import { CHUNK_SIZE, HEADER_SIZE, RAW_CHUNK_SIZE } from '../../src/crypto/format.ts';
import { NodeFileRows } from '../../src/files/node-file-rows.ts';
import { SYSTEM } from '../../src/actor.ts';
import { MasterKeyPolicy } from '../../src/encryption/key-policy/master-key-policy.ts';
import { openDescriptorsUnder } from '../support/open-descriptors.ts';

const MiB = 1 << 20;

async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('encrypted reads: sizes around the whole-blob read limit, whole and ranged, tampering caught, no descriptor left open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-encreads-'));
  const { db } = openDatabase({ type: 'sqlite', path: join(dir, 'coffer.db') });
  try {
    await migrateToLatest(db);
    const appConfig = new AppConfigRepository(db, { maxAgeMs: 0 });
    const local = new LocalBlobStore(join(dir, 'data', 'blobs'));
    await local.init();
    const keys = new KeyManager({ keyStore: new KeyStore(join(dir, 'data')), secret: 'b'.repeat(48), instanceId: 'ocreads1' });
    const state = new EncryptionState(appConfig);
    const blobs = new EncryptedBlobStore({ inner: local, keys, policy: new MasterKeyPolicy(keys), state, defaultKeyRoot: join(dir, 'data') });
    const service = new EncryptionService({ rows: new NodeFileRows(db), appConfig, keys, blobs, state, dataDirectory: join(dir, 'data') });
    await appConfig.set('encryption', 'enabled', 'yes');
    await service.enable();
    const ctx = { fileId: 7, owner: 'carol', actor: SYSTEM };

    // stored sizes just under and over 1 MiB (whole read vs streamed from the open descriptor)
    const sizes = [0, 1, 3000, MiB - HEADER_SIZE - 16 * 17, MiB - HEADER_SIZE - 16 * 16, MiB, 3 * MiB + 5];
    const written: { id: string; data: Buffer }[] = [];
    for (const size of sizes) {
      const data = randomBytes(size);
      const id = newBlobId();
      assert.equal((await blobs.put(id, Readable.from([data]), ctx)).size, size);
      written.push({ id, data });
    }
    const fds0 = openDescriptorsUnder(dir);
    for (const { id, data } of written) {
      const size = data.length;
      assert.ok((await collect(await blobs.get(id, 'cfe1', ctx))).equals(data), `whole ${size}`);
      assert.equal(await blobs.size(id, 'cfe1', ctx), size);
      for (const [start, end] of [[0, 0], [size - 1, size - 1], [1, CHUNK_SIZE + 1], [size >> 1, size + 100], [size, size + 10]]) {
        if (start < 0 || end < start) continue;
        const got = await collect(await blobs.get(id, 'cfe1', ctx, { start, end }));
        assert.ok(got.equals(data.subarray(start, end + 1)), `range ${start}-${end} of ${size}`);
      }
      assert.equal((await blobs.openHeader(id, ctx)).plainSize, size);
      (await blobs.get(id, 'cfe1', ctx)).destroy(); // abandoned unread
    }
    await assert.rejects(blobs.get(newBlobId(), 'cfe1', ctx), NotFoundError);

    // a flipped byte in the second chunk of a small and of a large blob
    for (const { id, data } of [written[2]!, written[6]!]) {
      const path = local.pathOf(id);
      const good = readFileSync(path);
      const bad = Buffer.from(good);
      const at = Math.min(good.length - 1, HEADER_SIZE + RAW_CHUNK_SIZE + 7);
      bad[at]! ^= 0x80;
      writeFileSync(path, bad);
      await assert.rejects(async () => collect(await blobs.get(id, 'cfe1', ctx)), (err: unknown) => err instanceof CryptoError && /failed authentication/.test(err.message));
      await assert.rejects(async () => collect(await blobs.get(id, 'cfe1', ctx, { start: Math.min(CHUNK_SIZE, data.length - 1), end: Math.min(CHUNK_SIZE, data.length - 1) })), (err: unknown) => err instanceof CryptoError);
      const header = Buffer.from(good);
      header[20]! ^= 0x01;
      writeFileSync(path, header);
      await assert.rejects(blobs.get(id, 'cfe1', ctx), (err: unknown) => err instanceof CryptoError);
      writeFileSync(path, good);
    }
    await new Promise((r) => setTimeout(r, 50)); // destroyed streams close their descriptors asynchronously
    assert.equal(openDescriptorsUnder(dir), fds0);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
