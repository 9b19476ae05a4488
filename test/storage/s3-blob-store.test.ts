/**
 * S3BlobStore on a real Ceph RADOS Gateway (started by test/support/ceph.ts): the BlobStore
 * conformance suite on a fresh bucket, then what is specific to S3 (key layout, pagination,
 * incomplete multipart uploads, error messages, checkAccess).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { AppError, NotFoundError } from '../../src/errors.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import type { S3StoreOptions } from '../../src/storage/s3-config.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfigRepository } from '../../src/db/app-config.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';
import { EncryptedBlobStore } from '../../src/encryption/encrypted-blob-store.ts';
import { EncryptionService } from '../../src/encryption/encryption-service.ts';
import { EncryptionState } from '../../src/encryption/encryption-state.ts';
import { KeyManager } from '../../src/encryption/master-key/key-manager.ts';
import { KeyStore } from '../../src/keys/key-store.ts';
import { startCephOrSkip } from '../support/ceph.ts';
import { runBlobStoreConformance, testBlobId } from './blob-store-conformance.ts';
import { assertPatternStream, patternBytes, patternSource } from './blob-pattern.ts';
import { NodeFileRows } from '../../src/files/node-file-rows.ts';
import { SYSTEM } from '../../src/actor.ts';
import { MasterKeyPolicy } from '../../src/encryption/key-policy/master-key-policy.ts';

const CTX = { fileId: 1, owner: 'alice', actor: SYSTEM };
const MiB = 1024 * 1024;
const ceph = await startCephOrSkip();

if (!ceph.cluster) {
  test('S3BlobStore on Ceph RGW', { skip: ceph.skip }, () => {
    assert.fail(`CI=true and no Ceph cluster: ${ceph.reason}`);
  });
} else {
  const cluster = ceph.cluster;
  after(() => cluster.stop());
  const base: Omit<S3StoreOptions, 'bucket'> = {
    endpoint: cluster.s3.endpoint,
    region: cluster.s3.region,
    accessKeyId: cluster.s3.accessKeyId,
    secretAccessKey: cluster.s3.secretAccessKey,
    forcePathStyle: cluster.s3.forcePathStyle,
  };
  const freshBucket = () => `coffer-test-${randomBytes(4).toString('hex')}`;
  const stores: S3BlobStore[] = [];
  const makeStore = async (opts: Partial<S3StoreOptions> = {}) => {
    const store = new S3BlobStore({ ...base, bucket: freshBucket(), ...opts });
    await store.createBucketIfMissing();
    stores.push(store);
    return store;
  };
  after(() => { for (const s of stores) s.destroy(); });

  runBlobStoreConformance(`S3BlobStore on Ceph RGW (up in ${cluster.startSeconds.toFixed(1)} s)`, async () => {
    const store = await makeStore();
    return {
      store,
      async leftovers(blobId: string) {
        return (await store.incompleteUploads(blobId)).map((u) => `incomplete multipart upload ${u.uploadId} of ${u.key}`);
      },
    };
  });

  // the encryption decorator, unchanged, over S3 (master-key mode, keys on local disk, not in the bucket)
  runBlobStoreConformance('EncryptedBlobStore over S3BlobStore', async () => {
    const inner = await makeStore();
    const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    const { db } = openDatabase({ type: 'sqlite', path: join(dir, 'coffer.db') });
    await migrateToLatest(db);
    const appConfig = new AppConfigRepository(db, { maxAgeMs: 0 });
    const keys = new KeyManager({ keyStore: new KeyStore(join(dir, 'data')), secret: randomBytes(32).toString('hex'), instanceId: 'ocs3test01' });
    const state = new EncryptionState(appConfig);
    const store = new EncryptedBlobStore({ inner, keys, policy: new MasterKeyPolicy(keys), state, defaultKeyRoot: join(dir, 'data') });
    const service = new EncryptionService({ rows: new NodeFileRows(db), appConfig, keys, blobs: store, state, dataDirectory: join(dir, 'data') });
    await appConfig.set('encryption', 'enabled', 'yes');
    await service.enable();
    return {
      store,
      async leftovers(blobId: string) {
        return (await inner.incompleteUploads(blobId)).map((u) => `incomplete multipart upload ${u.uploadId} of ${u.key}`);
      },
      async close() {
        await db.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }, { light: true });

  describe('S3BlobStore specifics', () => {
    test('object keys are blobs/<id[0..2]>/<id[2..4]>/<id>, nothing else lands in the bucket', async () => {
      const store = await makeStore();
      const ids = [testBlobId(), testBlobId()];
      await store.put(ids[0]!, Readable.from([Buffer.from('hello')]), { fileId: 7, owner: 'bob', actor: SYSTEM });
      await store.put(ids[1]!, patternSource(1, 9 * 1024 * 1024), { fileId: 8, owner: 'bob', actor: SYSTEM });
      assert.equal(await store.checkAccess().then((p) => p.length), 0); // the probe object is removed again
      const res = await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket }));
      const keys = (res.Contents ?? []).map((o) => o.Key).sort();
      assert.deepEqual(keys, ids.map((id) => `blobs/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`).sort());
      const up = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket }));
      assert.equal(up.Uploads?.length ?? 0, 0);
    });

    test('list pages through ListObjectsV2 and skips keys that are not blobs', async () => {
      const store = await makeStore({ prefix: 'tenant-a/', listPageSize: 2 });
      const ids = Array.from({ length: 5 }, testBlobId);
      for (const id of ids) await store.put(id, Readable.from([randomBytes(10)]), CTX);
      for (const key of ['tenant-a/readme.txt', `tenant-a/00/00/${ids[0]}`, 'other/ab/cd/abcdef0123456789']) {
        await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: 'x' }));
      }
      const listed: string[] = [];
      for await (const e of store.list()) listed.push(e.blobId);
      assert.deepEqual(listed.sort(), [...ids].sort());
    });

    test('abortStaleUploads aborts multipart uploads left by a crashed writer', async () => {
      const store = await makeStore();
      const id = testBlobId();
      await store.client.send(new CreateMultipartUploadCommand({ Bucket: store.bucket, Key: store.keyOf(id) }));
      assert.equal((await store.incompleteUploads()).length, 1);
      assert.equal((await store.incompleteUploads(id)).length, 1);
      assert.equal(await store.abortStaleUploads(60_000), 0, 'a fresh upload is not stale');
      assert.equal(await store.abortStaleUploads(-1), 1);
      assert.deepEqual(await store.incompleteUploads(), []);
    });

    test('a missing bucket is a storage error that names the bucket, not a missing blob', async () => {
      const store = new S3BlobStore({ ...base, bucket: freshBucket() });
      stores.push(store);
      const id = testBlobId();
      const isBucketError = (err: unknown) => {
        assert.ok(err instanceof AppError && !(err instanceof NotFoundError), String(err));
        assert.equal(err.code, 'storage-unavailable');
        assert.match(err.message, new RegExp(`bucket "${store.bucket}" does not exist`));
        return true;
      };
      await assert.rejects(store.get(id, 'plain', CTX), isBucketError);
      await assert.rejects(store.size(id, 'plain', CTX), isBucketError);
      await assert.rejects(store.put(id, Readable.from([Buffer.from('x')]), CTX), isBucketError);
      await assert.rejects(store.put(id, patternSource(2, 9 * 1024 * 1024), CTX), isBucketError);
      await assert.rejects(store.delete(id), isBucketError);
      await assert.rejects(async () => { for await (const _ of store.list()) { /* none */ } }, isBucketError);
      const problems = await store.checkAccess();
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /does not exist/);
    });

    test('checkAccess explains wrong keys and an unreachable endpoint', async () => {
      const good = await makeStore();
      assert.deepEqual(await good.checkAccess(), []);

      const wrongSecret = new S3BlobStore({ ...base, bucket: good.bucket, secretAccessKey: 'not-the-secret' });
      const unknownKey = new S3BlobStore({ ...base, bucket: good.bucket, accessKeyId: 'nobody' });
      const unreachable = new S3BlobStore({ ...base, bucket: good.bucket, endpoint: 'http://127.0.0.1:1' });
      stores.push(wrongSecret, unknownKey, unreachable);

      const p1 = await wrongSecret.checkAccess();
      assert.equal(p1.length, 1, p1.join('; '));
      assert.match(p1[0]!, /access denied|secret key/);
      assert.doesNotMatch(p1.join(' '), new RegExp(base.secretAccessKey));
      // object requests carry an error code, so the message can be exact
      await assert.rejects(wrongSecret.get(testBlobId(), 'plain', CTX), (err: AppError) => {
        assert.equal(err.code, 'storage-unavailable');
        assert.match(err.message, /secret key is wrong/);
        return true;
      });
      await assert.rejects(unknownKey.get(testBlobId(), 'plain', CTX), /does not know the access key/);

      const p3 = await unreachable.checkAccess();
      assert.equal(p3.length, 1);
      assert.match(p3[0]!, /cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:1/);
      await assert.rejects(unreachable.size(testBlobId(), 'plain', CTX), (err: AppError) => err.code === 'storage-unavailable' && /cannot reach/.test(err.message));
    });

    test('UNSIGNED-PAYLOAD mode (the https default) round-trips single and multipart puts', async () => {
      const store = await makeStore({ unsignedPayload: true });
      const small = testBlobId();
      const big = testBlobId();
      await store.put(small, patternSource(3, 1000), CTX);
      await store.put(big, patternSource(4, 9 * 1024 * 1024), CTX);
      await assertPatternStream(await store.get(small, 'plain', CTX), 3, 0, 1000, 'small');
      await assertPatternStream(await store.get(big, 'plain', CTX, { start: 8 * 1024 * 1024 - 5, end: 8 * 1024 * 1024 + 5 }), 4, 8 * 1024 * 1024 - 5, 11, 'big');
      assert.equal(await store.size(big), 9 * 1024 * 1024);
    });

    test('openRaw: one ranged GET for a small blob (no HEAD), prefetched bytes served again, ranges across the prefetch', async () => {
      const store = await makeStore();
      const sent: string[] = [];
      store.client.middlewareStack.add((next, context) => async (args) => { sent.push(String(context.commandName)); return next(args); }, { step: 'initialize', name: 'countCommands' });
      const KiB = 1024;
      const blobs = [
        { id: testBlobId(), seed: 41, size: 0 },
        { id: testBlobId(), seed: 42, size: 1000 },
        { id: testBlobId(), seed: 43, size: 600 * KiB }, // above the 256 KiB prefetch, below wholeUpTo
        { id: testBlobId(), seed: 44, size: 3 * MiB + 7 },
      ];
      for (const b of blobs) await store.put(b.id, patternSource(b.seed, b.size), CTX);
      const drain = async (r: Readable) => { const p: Buffer[] = []; for await (const c of r) p.push(c as Buffer); return Buffer.concat(p); };
      for (const b of blobs) {
        sent.length = 0;
        const raw = await store.openRaw(b.id, 140, MiB);
        assert.equal(raw.size, b.size, `size of ${b.size}`);
        assert.equal(raw.whole, b.size <= MiB);
        assert.deepEqual(raw.head, patternBytes(b.seed, 0, raw.whole ? b.size : Math.min(140, b.size)));
        // (an empty object has no byte 0: RGW answers 416 and a HEAD gives the size)
        if (b.size > 0 && b.size <= 1000) assert.deepEqual(sent, ['GetObjectCommand'], `requests for a ${b.size}-byte blob: ${sent.join(', ')}`);
        const ranges = [[0, 99], [140, b.size - 1], [256 * KiB - 10, 256 * KiB + 10], [b.size - 5, b.size - 1]]
          .filter(([s0, e0]) => s0! >= 0 && e0! < b.size && s0! <= e0!);
        for (const [start, end] of ranges) {
          assert.deepEqual(await drain(await raw.range(start!, end!)), patternBytes(b.seed, start!, end! - start! + 1), `range ${start}-${end} of ${b.size}`);
        }
        raw.close();
      }
      // a full body read of the big blob: the prefetch plus one GET of the rest, no HEAD
      sent.length = 0;
      const raw = await store.openRaw(blobs[3]!.id, 140, MiB);
      await assertPatternStream(await raw.range(140, blobs[3]!.size - 1), 44, 140, blobs[3]!.size - 140, 'body');
      assert.deepEqual(sent, ['GetObjectCommand', 'GetObjectCommand']);
      await assert.rejects(store.openRaw(testBlobId(), 140, MiB), NotFoundError);
    });

    test('a range starting past the end reads as empty', async () => {
      const store = await makeStore();
      const id = testBlobId();
      await store.put(id, Readable.from([Buffer.from('0123456789')]), CTX);
      const chunks: Buffer[] = [];
      for await (const c of await store.get(id, 'plain', CTX, { start: 10, end: 20 })) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).length, 0);
      const tail: Buffer[] = [];
      for await (const c of await store.get(id, 'plain', CTX, { start: 8, end: 20 })) tail.push(c as Buffer);
      assert.equal(Buffer.concat(tail).toString(), '89');
    });
  });
}
