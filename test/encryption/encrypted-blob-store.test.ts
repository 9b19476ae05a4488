import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, statSync, existsSync, mkdirSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AppConfigRepository } from '../../src/db/app-config.ts';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import { CryptoError } from '../../src/errors.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { newBlobId } from '../../src/storage/blob-id.ts';
import { KeyStore } from '../../src/keys/key-store.ts';
import { KeyManager } from '../../src/encryption/master-key/key-manager.ts';
import { EncryptionState } from '../../src/encryption/encryption-state.ts';
import { EncryptedBlobStore } from '../../src/encryption/encrypted-blob-store.ts';
import { EncryptionService } from '../../src/encryption/encryption-service.ts';
import { decryptBlobFile } from '../../src/encryption/bulk-conversion/offline-decrypt.ts';
import { CHUNK_SIZE, HEADER_SIZE, RAW_CHUNK_SIZE } from '../../src/crypto/format.ts';
import { createPgDatabase } from '../support/test-instance.ts';
import { NodeFileRows } from '../../src/files/node-file-rows.ts';
import { SYSTEM, type Actor } from '../../src/actor.ts';
import { MasterKeyPolicy } from '../../src/encryption/key-policy/master-key-policy.ts';

const SECRET = 'a'.repeat(48);
const INSTANCE = 'octestinst1';

async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

interface Env { dir: string; db: Db; local: LocalBlobStore; keys: KeyManager; blobs: EncryptedBlobStore; service: EncryptionService; appConfig: AppConfigRepository; state: EncryptionState }

async function setup(secret = SECRET, dir = mkdtempSync(join(tmpdir(), 'coffer-')), pgName?: string): Promise<Env> {
  const { db } = openDatabase(pgName
    ? { type: 'pgsql', host: '127.0.0.1', port: 5432, name: pgName, user: 'postgres', password: '' }
    : { type: 'sqlite', path: join(dir, 'coffer.db') });
  await migrateToLatest(db);
  const appConfig = new AppConfigRepository(db, { maxAgeMs: 0 });
  const local = new LocalBlobStore(join(dir, 'data', 'blobs'));
  await local.init();
  const keys = new KeyManager({ keyStore: new KeyStore(join(dir, 'data')), secret, instanceId: INSTANCE });
  const state = new EncryptionState(appConfig);
  const blobs = new EncryptedBlobStore({ inner: local, keys, policy: new MasterKeyPolicy(keys), state, defaultKeyRoot: join(dir, 'data') });
  const service = new EncryptionService({ rows: new NodeFileRows(db), appConfig, keys, blobs, state, dataDirectory: join(dir, 'data') });
  return { dir, db, local, keys, blobs, service, appConfig, state };
}

async function enable(e: Env): Promise<void> {
  await e.appConfig.set('encryption', 'enabled', 'yes');
  await e.service.enable();
}

async function addNode(e: Env, fileid: number, owner: string, blobId: string, codec: string, size: number): Promise<void> {
  await e.db.insertInto('users').values({ uid: owner, display_name: owner, email: null, password_hash: 'x', quota: null, enabled: 1, is_admin: 0, created_at: 0, last_login: null })
    .onConflict((oc) => oc.column('uid').doNothing()).execute();
  await e.db.insertInto('nodes').values({ fileid, owner, parent_id: null, path: `f${fileid}`, name: `f${fileid}`, kind: 'file', size, mtime: 0, etag: 'e', mimetype: 'application/octet-stream', blob_id: blobId, blob_codec: codec, checksum: null, favorite: 0 }).execute();
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...allFiles(p)); else out.push(p);
  }
  return out;
}

test('encrypted store: no plaintext on disk, plaintext sizes, ranges, plain blobs still readable', async () => {
  const e = await setup();
  const ctx = { fileId: 11, owner: 'alice', actor: SYSTEM };
  const plainId = newBlobId();
  const old = randomBytes(1000);
  assert.equal((await e.blobs.put(plainId, Readable.from([old]), { fileId: 10, owner: 'alice', actor: SYSTEM })).codec, 'plain');
  await enable(e);
  const data = Buffer.concat([Buffer.from('SECRET-MARKER-'.repeat(5000)), randomBytes(3 * CHUNK_SIZE)]);
  const id = newBlobId();
  const res = await e.blobs.put(id, Readable.from([data]), ctx);
  // put names the key it wrapped the data key under: the owner's root key in master-key mode
  assert.deepEqual(res, { size: data.length, codec: 'cfe1', keyId: (await e.keys.userKeyForWrite(ctx.owner)).id.toString('hex') });
  assert.equal(await e.blobs.size(id, 'cfe1', ctx), data.length);
  assert.equal(statSync(e.local.pathOf(id)).size, HEADER_SIZE + data.length + 16 * Math.ceil(data.length / CHUNK_SIZE));
  for (const f of allFiles(join(e.dir, 'data')).filter((x) => !/coffer\.db/.test(x))) assert.ok(!readFileSync(f).includes('SECRET-MARKER'), `plaintext in ${f}`);
  assert.deepEqual(await collect(await e.blobs.get(id, 'cfe1', ctx)), data);
  for (const [a, b] of [[0, 0], [5, CHUNK_SIZE + 5], [CHUNK_SIZE - 1, CHUNK_SIZE], [data.length - 1, data.length - 1], [data.length - 100, data.length + 100]] as const) {
    assert.deepEqual(await collect(await e.blobs.get(id, 'cfe1', ctx, { start: a, end: b })), data.subarray(a, Math.min(b, data.length - 1) + 1));
  }
  assert.deepEqual(await collect(await e.blobs.get(plainId, 'plain', { fileId: 10, owner: 'alice', actor: SYSTEM })), old);
  const empty = newBlobId();
  await e.blobs.put(empty, Readable.from([]), ctx);
  assert.equal((await collect(await e.blobs.get(empty, 'cfe1', ctx))).length, 0);
  // Key layout: system and user keys in Nextcloud's places.
  assert.ok(readdirSync(join(e.dir, 'data', 'files_encryption', 'OC_DEFAULT_MODULE')).some((n) => n.startsWith('master_')));
  assert.ok(readdirSync(join(e.dir, 'data', 'alice', 'files_encryption', 'OC_DEFAULT_MODULE')).some((n) => n.startsWith('rootKey_')));
  await e.db.destroy();
});

test('encrypted store: swapped, rolled-back, tampered and truncated blobs raise CryptoError', async () => {
  const e = await setup();
  await enable(e);
  const ctx = { fileId: 21, owner: 'bob', actor: SYSTEM };
  const v1 = newBlobId(), v2 = newBlobId(), other = newBlobId();
  await e.blobs.put(v1, Readable.from([randomBytes(2 * CHUNK_SIZE + 10)]), ctx);
  await e.blobs.put(v2, Readable.from([randomBytes(2 * CHUNK_SIZE + 10)]), ctx);
  await e.blobs.put(other, Readable.from([randomBytes(2 * CHUNK_SIZE + 10)]), { fileId: 22, owner: 'bob', actor: SYSTEM });
  const read = async (id: string, range?: { start: number; end: number }) => collect(await e.blobs.get(id, 'cfe1', ctx, range));
  const expectCrypto = async (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (err: unknown) => err instanceof CryptoError && re.test(err.message));
  const good = readFileSync(e.local.pathOf(v2));
  copyFileSync(e.local.pathOf(v1), e.local.pathOf(v2)); // rollback to the older version
  await expectCrypto(read(v2), /another file or version/);
  copyFileSync(e.local.pathOf(other), e.local.pathOf(v2)); // swap with another file
  await expectCrypto(read(v2), /another file or version/);
  const flipped = Buffer.from(good); flipped[HEADER_SIZE + RAW_CHUNK_SIZE + 7]! ^= 0x80;
  writeFileSync(e.local.pathOf(v2), flipped);
  await expectCrypto(read(v2), /chunk 1 failed authentication/);
  await expectCrypto(read(v2, { start: CHUNK_SIZE, end: CHUNK_SIZE + 1 }), /chunk 1 failed authentication/);
  writeFileSync(e.local.pathOf(v2), good.subarray(0, HEADER_SIZE + 2 * RAW_CHUNK_SIZE));
  await expectCrypto(read(v2), /truncated/);
  writeFileSync(e.local.pathOf(v2), Buffer.concat([good, good.subarray(HEADER_SIZE, HEADER_SIZE + RAW_CHUNK_SIZE)]));
  await expectCrypto(read(v2), /after the final chunk|failed authentication/);
  writeFileSync(e.local.pathOf(v2), good);
  assert.equal((await read(v2)).length, 2 * CHUNK_SIZE + 10);
  await e.db.destroy();
});

test('wrong secret is refused with a message naming the cause, and nothing is rewritten', async () => {
  const e = await setup();
  await enable(e);
  const id = newBlobId();
  await e.blobs.put(id, Readable.from([Buffer.from('hello')]), { fileId: 1, owner: 'carol', actor: SYSTEM });
  const keyDir = join(e.dir, 'data', 'files_encryption', 'OC_DEFAULT_MODULE');
  const before = readdirSync(keyDir).map((n) => [n, readFileSync(join(keyDir, n)).toString('hex')]);
  await e.db.destroy();
  const bad = await setup('b'.repeat(48), e.dir);
  await assert.rejects(bad.keys.verifySecret(), /config secret does not match the key storage/);
  await assert.rejects(bad.service.enable(), /config secret does not match/);
  await assert.rejects(bad.service.rotateMasterKey(), /config secret does not match/);
  await assert.rejects((async () => collect(await bad.blobs.get(id, 'cfe1', { fileId: 1, owner: 'carol', actor: SYSTEM })))(), /config secret does not match/);
  assert.deepEqual(readdirSync(keyDir).map((n) => [n, readFileSync(join(keyDir, n)).toString('hex')]), before);
  await bad.db.destroy();
});

test('rotate master key keeps everything readable and rewrites no content', async () => {
  const e = await setup();
  await enable(e);
  const blobsIn = [] as { id: string; data: Buffer; ctx: { fileId: number; owner: string, actor: Actor } }[];
  for (const [i, owner] of ['u1', 'u2', 'u3'].entries()) {
    const id = newBlobId(), data = randomBytes(5000 + i);
    const ctx = { fileId: 100 + i, owner, actor: SYSTEM };
    await e.blobs.put(id, Readable.from([data]), ctx);
    blobsIn.push({ id, data, ctx });
  }
  const rawBefore = blobsIn.map((b) => readFileSync(e.local.pathOf(b.id)));
  const oldMaster = await e.keys.masterKeyId();
  const res = await e.service.rotateMasterKey();
  assert.equal(res.rewrapped, 3);
  assert.notEqual(res.newMasterKeyId, oldMaster);
  assert.equal(readdirSync(join(e.dir, 'data', 'files_encryption', 'OC_DEFAULT_MODULE')).filter((n) => n.startsWith('master_')).length, 1);
  // A fresh process (no caches) reads everything.
  await e.db.destroy();
  const f = await setup(SECRET, e.dir);
  for (const [i, b] of blobsIn.entries()) {
    assert.deepEqual(readFileSync(f.local.pathOf(b.id)), rawBefore[i]);
    assert.deepEqual(await collect(await f.blobs.get(b.id, 'cfe1', b.ctx)), b.data);
  }
  await f.db.destroy();
});

test('backup → delete keys → restore; key storage root change; decryptBlob without the database', async () => {
  const e = await setup();
  await enable(e);
  const id = newBlobId(), data = randomBytes(3 * CHUNK_SIZE + 3), ctx = { fileId: 5, owner: 'dave', actor: SYSTEM };
  await e.blobs.put(id, Readable.from([data]), ctx);
  const archive = join(e.dir, 'keys.backup');
  await e.service.backupKeys(archive, 'correct horse', { logN: 12, r: 8, p: 1 });
  assert.ok(!readFileSync(archive).includes('rootKey_'));
  // every key file lost: the system's and dave's key folders
  for (const d of ['files_encryption', 'dave/files_encryption']) rmSync(join(e.dir, 'data', d), { recursive: true, force: true });
  await e.db.destroy();
  const f = await setup(SECRET, e.dir);
  await assert.rejects((async () => collect(await f.blobs.get(id, 'cfe1', ctx)))(), CryptoError);
  await assert.rejects(f.service.restoreKeys(archive, 'wrong'), /wrong password/);
  assert.equal((await f.service.restoreKeys(archive, 'correct horse')).files, 3);
  assert.deepEqual(await collect(await f.blobs.get(id, 'cfe1', ctx)), data);

  const newRoot = join(f.dir, 'keys-elsewhere');
  mkdirSync(newRoot);
  await f.service.changeKeyStorageRoot(newRoot);
  assert.ok(!existsSync(join(f.dir, 'data', 'files_encryption')));
  assert.equal(await f.service.keyStorageRoot(), newRoot);
  assert.deepEqual(await collect(await f.blobs.get(id, 'cfe1', ctx)), data);
  await f.db.destroy();
  const g = await setup(SECRET, e.dir); // another process picks the new root from the database
  assert.deepEqual(await collect(await g.blobs.get(id, 'cfe1', ctx)), data);
  await g.db.destroy();

  const out = join(e.dir, 'recovered.bin');
  const r = await decryptBlobFile({ blobFile: g.local.pathOf(id), outFile: out, keysRoot: newRoot, secret: SECRET, instanceId: INSTANCE });
  assert.equal(r.fileId, 5);
  assert.deepEqual(readFileSync(out), data);
  await assert.rejects(decryptBlobFile({ blobFile: g.local.pathOf(id), outFile: out + '2', keysRoot: newRoot, secret: 'c'.repeat(48), instanceId: INSTANCE }), /config secret does not match/);
  assert.ok(!existsSync(out + '2'));
  // A blob copied over another blob's file name is refused offline too.
  const elsewhere = join(e.dir, newBlobId());
  copyFileSync(g.local.pathOf(id), elsewhere);
  await assert.rejects(decryptBlobFile({ blobFile: elsewhere, outFile: out + '3', keysRoot: newRoot, secret: SECRET, instanceId: INSTANCE }), /another file or version/);
  await assert.rejects(decryptBlobFile({ blobFile: g.local.pathOf(id), outFile: out + '4', keysRoot: newRoot, secret: SECRET, instanceId: INSTANCE, expectFileId: 6 }), /another file or version/);
  assert.ok(!existsSync(out + '3') && !existsSync(out + '4'));
});

for (const kind of ['sqlite', 'pgsql'] as const) test(`encrypt-all / decrypt-all primitives round-trip and guard against concurrent writes (${kind})`, async () => {
  const pgdb = kind === 'pgsql' ? await createPgDatabase() : undefined;
  const e = await setup(SECRET, undefined, pgdb?.name);
  const contents = new Map<number, Buffer>();
  for (let i = 1; i <= 4; i++) {
    const id = newBlobId(), data = randomBytes(i * 30_000);
    await e.blobs.put(id, Readable.from([data]), { fileId: i, owner: 'erin', actor: SYSTEM });
    await addNode(e, i, 'erin', id, 'plain', data.length);
    contents.set(i, data);
  }
  await enable(e);
  const todo = await e.service.nodesToConvert('encrypt');
  assert.equal(todo.length, 4);
  // File 4 changes under our feet: the guarded UPDATE must skip it.
  await e.db.updateTable('nodes').set({ blob_id: 'changed0000000000' }).where('fileid', '=', 4).execute();
  const results = [];
  for (const n of todo) results.push(await e.service.reencryptBlob(n, 'encrypt'));
  assert.deepEqual(results, ['converted', 'converted', 'converted', 'skipped']);
  assert.equal(await e.service.countEncrypted(), 3);
  await assert.rejects(e.service.disable(), /decrypt-all/);
  const rows = await e.db.selectFrom('nodes').selectAll().where('fileid', '<=', 3).execute();
  for (const r of rows) {
    assert.equal(r.blob_codec, 'cfe1');
    assert.deepEqual(await collect(await e.blobs.get(r.blob_id!, 'cfe1', { fileId: r.fileid, owner: r.owner, actor: SYSTEM })), contents.get(r.fileid));
  }
  for (const n of await e.service.nodesToConvert('decrypt')) assert.equal(await e.service.reencryptBlob(n, 'decrypt'), 'converted');
  assert.equal(await e.service.countEncrypted(), 0);
  await e.service.disable();
  assert.equal((await e.service.status()).enabled, false);
  const blobCount = [];
  for await (const b of e.local.list()) blobCount.push(b);
  assert.equal(blobCount.length, 4, 'old blobs deleted after conversion');
  await e.db.destroy();
  await pgdb?.drop();
});

test('an interrupted master key rotation resumes and leaves everything readable', async () => {
  const e = await setup();
  await enable(e);
  const items = [] as { id: string; data: Buffer; ctx: { fileId: number; owner: string, actor: Actor } }[];
  for (const [i, owner] of ['r1', 'r2', 'r3'].entries()) {
    const id = newBlobId(), data = randomBytes(100 + i), ctx = { fileId: 300 + i, owner, actor: SYSTEM };
    await e.blobs.put(id, Readable.from([data]), ctx);
    items.push({ id, data, ctx });
  }
  await assert.rejects(e.service.rotateMasterKey(() => { throw new Error('simulated crash'); }), /simulated crash/);
  const keyDir = join(e.dir, 'data', 'files_encryption', 'OC_DEFAULT_MODULE');
  assert.equal(readdirSync(keyDir).filter((n) => n.startsWith('master_')).length, 2, 'old master kept while rotating');
  await e.db.destroy();
  const f = await setup(SECRET, e.dir);
  for (const b of items) assert.deepEqual(await collect(await f.blobs.get(b.id, 'cfe1', b.ctx)), b.data);
  const res = await f.service.rotateMasterKey();
  assert.equal(res.rewrapped, 2, 'resumed: only the root keys not yet re-wrapped');
  assert.equal(readdirSync(keyDir).filter((n) => n.startsWith('master_')).length, 1);
  await f.db.destroy();
  const g = await setup(SECRET, e.dir);
  for (const b of items) assert.deepEqual(await collect(await g.blobs.get(b.id, 'cfe1', b.ctx)), b.data);
  await g.db.destroy();
});

test('verifyNode names damaged files; list-modules and set-default-module; status reports the backup', async () => {
  const e = await setup();
  await enable(e);
  for (let i = 1; i <= 3; i++) {
    const id = newBlobId(), data = randomBytes(70_000);
    await e.blobs.put(id, Readable.from([data]), { fileId: 500 + i, owner: 'vic', actor: SYSTEM });
    await addNode(e, 500 + i, 'vic', id, 'cfe1', data.length);
  }
  const rows = await e.service.filesToVerify({ owner: 'vic' });
  assert.equal(rows.length, 3);
  const p = e.local.pathOf(rows[1]!.blobId);
  const raw = readFileSync(p); raw[HEADER_SIZE + 5]! ^= 4; writeFileSync(p, raw);
  const results = [];
  for (const r of rows) results.push(await e.service.verifyNode(r));
  assert.equal(results[0], undefined);
  assert.match(results[1]!, /chunk 0 failed authentication/);
  assert.equal(results[2], undefined);
  assert.deepEqual(e.service.listModules().map((m) => m.id), ['OC_DEFAULT_MODULE']);
  await assert.rejects(e.service.setDefaultModule('OTHER'), /does not exist/);
  await e.service.setDefaultModule('OC_DEFAULT_MODULE');
  assert.equal((await e.service.status()).keysBackedUpAt, null);
  await e.service.backupKeys(join(e.dir, 'k.bak'), 'pw', { logN: 10, r: 8, p: 1 });
  assert.equal(typeof (await e.service.status()).keysBackedUpAt, 'number');
  await e.db.destroy();
});
