/**
 * BulkConverter (encrypt-all / decrypt-all) in process: batched row switches, the page-level crash
 * journal and its recovery, files changed during a run, and rows whose size is smaller than the blob.
 * Versions and trash items (a trashed file with versions, a trashed folder with nested files) are
 * converted both ways and read back over DAV, and restore.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BulkConverter } from '../../src/encryption/bulk-conversion/bulk-convert.ts';
import { ConvertBatcher } from '../../src/encryption/bulk-conversion/convert-batch.ts';
import { ConvertJournal } from '../../src/encryption/bulk-conversion/convert-journal.ts';
import { EncryptedBlobStore } from '../../src/encryption/encrypted-blob-store.ts';
import { PLAIN_CODEC } from '../../src/storage/blob-store.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { newBlobId } from '../../src/storage/blob-id.ts';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';
import { NodeFileRows } from '../../src/files/node-file-rows.ts';
import { SYSTEM, userActor } from '../../src/actor.ts';
import { checkHistory, makeHistory, restoreTrash, restoreVersion, type HistoryFixture } from '../versions/history-fixture.ts';
import { filesContaining, walkPaths } from '../encryption-e2e/helpers.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(t: TestInstance, path: string): Promise<Buffer> {
  const c = await t.app.files.openRead(userActor(ADMIN.uid, 'password'), ADMIN.uid, path);
  const parts: Buffer[] = [];
  for await (const x of c.stream) parts.push(x as Buffer);
  return Buffer.concat(parts);
}

for (const db of ['sqlite', 'pgsql'] as const) describe(`BulkConverter (${db})`, () => {
  let t: TestInstance;
  let blobs: EncryptedBlobStore;
  let raw: LocalBlobStore;
  const expected = new Map<string, string>();
  let history: HistoryFixture;

  const converter = () => new BulkConverter({ rows: new NodeFileRows(t.app.db), encryption: t.app.encryption, blobs, rawBlobs: raw, workDir: t.dataDir });
  const row = (path: string) => t.app.db.selectFrom('nodes').select(['fileid', 'owner', 'blob_id', 'blob_codec', 'size', 'blob_seal'])
    .where('owner', '=', ADMIN.uid).where('path', '=', path).executeTakeFirstOrThrow();
  /** A new size for a row, sealed as the row of an older version would have been by the migration. */
  const resized = async (fileid: number, size: number) => {
    const r = await t.app.db.selectFrom('nodes').select(['blob_id', 'blob_codec']).where('fileid', '=', fileid).executeTakeFirstOrThrow();
    return { size, blob_seal: blobs.seal!.node(fileid, r.blob_id!, r.blob_codec!, size) };
  };
  /** A blob context with what the row says (plain reads need the row's seal). */
  const rowCtx = (r: { fileid: number; owner: string; size: unknown; blob_seal: string | null }) =>
    ({ fileId: r.fileid, owner: r.owner, actor: SYSTEM, row: { size: Number(r.size), seal: r.blob_seal } });
  const blobExists = (id: string) => existsSync(raw.pathOf(id));
  async function checkAll(label: string): Promise<void> {
    for (const [path, sum] of expected) assert.equal(sha(await readAll(t, path)), sum, `${label}: ${path}`);
  }

  before(async () => {
    t = await startTestInstance({ db });
    assert.ok(t.app.blobs instanceof EncryptedBlobStore);
    blobs = t.app.blobs;
    assert.ok(t.app.rawBlobs instanceof LocalBlobStore);
    raw = t.app.rawBlobs;
    // 0 bytes, one byte, around a chunk, and a few larger ones: more than one journal page and batch.
    const sizes = [0, 1, 65535, 65536, 65537, 300_000, 1_200_000];
    for (let i = 0; i < 150; i++) sizes.push((i * 7919) % 20_000);
    for (let i = 0; i < sizes.length; i++) {
      const b = randomBytes(sizes[i]!);
      await t.app.files.writeFile(userActor(ADMIN.uid, 'password'), ADMIN.uid, `f${i}.bin`, Readable.from([b]));
      expected.set(`f${i}.bin`, sha(b));
    }
    history = await makeHistory(t, ADMIN, 'bulk');
    await t.app.appConfig.set('encryption', 'enabled', 'yes');
    await t.app.encryption.enable();
  });
  after(async () => { await t?.stop(); });

  test('recovery cleans exactly what a killed run left, and counts only started conversions', async () => {
    const [a, b, c] = [await row('f10.bin'), await row('f11.bin'), await row('f12.bin')];
    const j1 = new ConvertJournal({ dir: t.dataDir, rows: new NodeFileRows(t.app.db), rawBlobs: raw });
    await j1.lock();
    assert.equal(await j1.recover(), 0);
    const ids = [newBlobId(), newBlobId(), newBlobId()];
    await j1.beginMany([a, b, c].map((r, i) => ({ newId: ids[i]!, oldId: r.blob_id!, fileid: r.fileid })));
    // a: new blob written, row not switched yet; b: row switched, old blob not deleted yet; c: never started.
    await blobs.putEncrypted(ids[0]!, await blobs.get(a.blob_id!, PLAIN_CODEC, rowCtx(a)), { fileId: a.fileid, owner: a.owner, actor: SYSTEM });
    const put = await blobs.putEncrypted(ids[1]!, await blobs.get(b.blob_id!, PLAIN_CODEC, rowCtx(b)), { fileId: b.fileid, owner: b.owner, actor: SYSTEM });
    await t.app.db.updateTable('nodes').set({ blob_id: ids[1]!, blob_codec: put.codec, blob_seal: blobs.seal!.node(b.fileid, ids[1]!, put.codec, Number(b.size)) })
      .where('fileid', '=', b.fileid).execute();
    writeFileSync(join(raw.tempDir, `${ids[2]}.abcdef`), 'partial');
    await j1.close(false); // as if killed: the journal stays

    const j2 = new ConvertJournal({ dir: t.dataDir, rows: new NodeFileRows(t.app.db), rawBlobs: raw });
    await j2.lock();
    assert.equal(await j2.recover(), 3, 'a (new blob), b (switched row) and c (temp file) were in progress');
    await j2.close(true);
    assert.ok(!blobExists(ids[0]!), 'the unreferenced new blob of a is gone');
    assert.ok(blobExists(a.blob_id!), 'a keeps its old blob');
    assert.ok(!blobExists(b.blob_id!), 'the old blob of the switched b is gone');
    assert.ok(blobExists(ids[1]!), 'b keeps its new blob');
    assert.ok(!existsSync(join(raw.tempDir, `${ids[2]}.abcdef`)), 'the temp file of c is gone');
    assert.ok(!existsSync(join(t.dataDir, '.encryption-convert.journal')));
    await checkAll('after recovery');
  });

  test('a journaled page that was never started is not reported as unfinished work', async () => {
    const r = await row('f20.bin');
    const j1 = new ConvertJournal({ dir: t.dataDir, rows: new NodeFileRows(t.app.db), rawBlobs: raw });
    await j1.lock();
    await j1.recover();
    await j1.beginMany([{ newId: newBlobId(), oldId: r.blob_id!, fileid: r.fileid }]);
    await j1.close(false);
    const j2 = new ConvertJournal({ dir: t.dataDir, rows: new NodeFileRows(t.app.db), rawBlobs: raw });
    await j2.lock();
    assert.equal(await j2.recover(), 0);
    await j2.close(true);
    assert.ok(blobExists(r.blob_id!), 'the live blob is kept');
  });

  test('a batch skips a file rewritten after its new blob was staged, and drops that blob', async () => {
    const r = await row('f30.bin');
    const j = new ConvertJournal({ dir: t.dataDir, rows: new NodeFileRows(t.app.db), rawBlobs: raw });
    await j.lock();
    await j.recover();
    const newId = newBlobId();
    await j.beginMany([{ newId, oldId: r.blob_id!, fileid: r.fileid }]);
    const ctx = rowCtx(r);
    const res = await blobs.putEncrypted(newId, await blobs.get(r.blob_id!, PLAIN_CODEC, ctx), ctx);
    const fresh = randomBytes(5000);
    await t.app.files.writeFile(userActor(ADMIN.uid, 'password'), ADMIN.uid, 'f30.bin', Readable.from([fresh]));
    expected.set('f30.bin', sha(fresh));
    const settled: string[] = [];
    const batcher = new ConvertBatcher({ rows: new NodeFileRows(t.app.db), blobs, journal: j, onSettled: (_s, result) => settled.push(result), maxBatch: 10 });
    await batcher.add({ node: { fileid: r.fileid, owner: r.owner, blobId: r.blob_id!, codec: PLAIN_CODEC, size: Number(r.size) }, newId, codec: res.codec });
    await batcher.flush();
    await j.close(true);
    assert.deepEqual(settled, ['skipped']);
    assert.ok(!blobExists(newId), 'the staged blob is dropped');
    assert.notEqual((await row('f30.bin')).blob_id, newId);
    await checkAll('after the skipped batch');
  });

  test('encrypt-all then decrypt-all: every file intact, in the target form, no blob left behind', async () => {
    // Rows that understate their blob's size (a streamed and a small one): the whole blob is still converted.
    const short = await row('f5.bin');
    await t.app.db.updateTable('nodes').set(await resized(short.fileid, 1000)).where('fileid', '=', short.fileid).execute();
    const shortSmall = await row('f4.bin');
    await t.app.db.updateTable('nodes').set(await resized(shortSmall.fileid, 10)).where('fileid', '=', shortSmall.fileid).execute();
    const progress: number[] = [];
    const todo = await converter().pending('encrypt');
    assert.ok(todo.files > 150);
    const enc = await converter().run({ target: 'encrypt', concurrency: 3, onProgress: (p) => progress.push(p.done) });
    assert.equal(enc.failed.length, 0);
    assert.equal(enc.converted, todo.files);
    assert.equal(progress.at(-1), todo.files);
    assert.ok(progress.every((d, i) => i === 0 || d >= progress[i - 1]!), 'progress never goes back');
    const rows = await t.app.db.selectFrom('nodes').select(['blob_id', 'blob_codec']).where('kind', '=', 'file').execute();
    assert.ok(rows.every((x) => x.blob_codec !== PLAIN_CODEC), 'every file is encrypted');
    const now5 = await row('f5.bin');
    assert.equal(await blobs.size(now5.blob_id!, now5.blob_codec!, { fileId: short.fileid, owner: ADMIN.uid, actor: SYSTEM }), 300_000);
    await t.app.db.updateTable('nodes').set(await resized(short.fileid, 300_000)).where('fileid', '=', short.fileid).execute();
    const now4 = await row('f4.bin');
    assert.equal(await blobs.size(now4.blob_id!, now4.blob_codec!, { fileId: shortSmall.fileid, owner: ADMIN.uid, actor: SYSTEM }), 65537);
    await t.app.db.updateTable('nodes').set(await resized(shortSmall.fileid, 65537)).where('fileid', '=', shortSmall.fileid).execute();
    await checkAll('after encrypt-all');
    // f30.bin was overwritten above: its old blob is a version, converted (and live) too
    const versions = await t.app.db.selectFrom('file_versions').select(['blob_id', 'blob_codec']).execute();
    assert.ok(versions.length > 0 && versions.every((x) => x.blob_codec !== PLAIN_CODEC), 'every version is encrypted');
    // the trashed file, the files of the trashed folder, and the versions of both
    const trash = await t.app.db.selectFrom('trash_nodes').select(['blob_id', 'blob_codec']).where('kind', '=', 'file').execute();
    assert.equal(trash.length, 3);
    assert.ok(trash.every((x) => x.blob_codec !== PLAIN_CODEC), 'every trashed file is encrypted');
    assert.deepEqual(enc.history, { versions: versions.length, trash: 3 });
    const live = new Set([...rows, ...versions, ...trash].map((x) => x.blob_id));
    for await (const e of raw.list()) assert.ok(live.has(e.blobId), `orphaned blob ${e.blobId}`);
    await checkHistory(t, history, 'after encrypt-all');
    assert.deepEqual(filesContaining(t.dataDir, history.marker), [], 'plaintext of a version or trash item under the data directory');
    for (const name of history.names) assert.deepEqual(filesContaining(join(t.dataDir, 'blobs'), name), [], `${name} in a blob`);
    const paths = walkPaths(t.dataDir).join('\n');
    for (const name of history.names) assert.ok(!paths.includes(name), `${name} in a path under the data directory`);
    // restored while encrypted: the trashed file and its versions are live again, and a version restores
    await restoreTrash(t, history, 'bulk-minutes.txt');
    await restoreVersion(t, history, 'bulk-minutes.txt');
    await checkHistory(t, history, 'encrypted, restored');

    const todoDec = await converter().pending('decrypt');
    const versionsNow = (await t.app.db.selectFrom('file_versions').select('id').execute()).length;
    const trashNow = (await t.app.db.selectFrom('trash_nodes').select('fileid').where('kind', '=', 'file').execute()).length;
    const rowsNow = (await t.app.db.selectFrom('nodes').select('fileid').where('kind', '=', 'file').execute()).length;
    assert.equal(trashNow, 2, 'the folder is still in the trash');
    assert.equal(todoDec.files, rowsNow + versionsNow + trashNow);
    const dec = await converter().run({ target: 'decrypt', concurrency: 2 });
    assert.equal(dec.failed.length, 0);
    assert.equal(dec.converted, rowsNow + versionsNow + trashNow);
    assert.deepEqual(dec.history, { versions: versionsNow, trash: trashNow });
    const after = await t.app.db.selectFrom('nodes').select(['blob_codec']).where('kind', '=', 'file').execute();
    assert.ok(after.every((x) => x.blob_codec === PLAIN_CODEC), 'every file is plain again');
    const histAfter = [...await t.app.db.selectFrom('file_versions').select('blob_codec').execute(),
      ...await t.app.db.selectFrom('trash_nodes').select('blob_codec').where('kind', '=', 'file').execute()];
    assert.ok(histAfter.every((x) => x.blob_codec === PLAIN_CODEC), 'every version and trashed file is plain again');
    await checkAll('after decrypt-all');
    await checkHistory(t, history, 'after decrypt-all');
    // restored when plain: the folder with its nested files and the version of memo.txt
    await restoreTrash(t, history, 'bulk-Archive');
    await restoreVersion(t, history, 'bulk-Archive/drafts/memo.txt');
    await checkHistory(t, history, 'decrypted, restored');
    assert.ok(!existsSync(join(t.dataDir, '.encryption-convert.journal')));
    assert.ok(!existsSync(join(t.dataDir, '.encryption-convert.lock')));
  });
});
