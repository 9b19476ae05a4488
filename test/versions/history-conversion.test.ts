/**
 * encrypt-all / decrypt-all and encryption:verify reach the blobs of kept versions and of trashed
 * files, not only the live files': a version written before encryption was enabled is encrypted by
 * encrypt-all (bound to its file's id), a trashed file too (bound to its own file id), both still
 * download over DAV with the same bytes, verify reads them back, and decrypt-all makes them plain
 * again. Real instance, real disk: the blob files are scanned for a plaintext marker.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { ALICE } from '../sharing/helpers.ts';
import { blobFile, blobIds, call, FILES, prop, propfind, responses, sha256, TRASH, VERSIONS } from './helpers.ts';
import { bulkConverter } from '../../src/cli/commands/encryption-status.command.ts';
import { IntegrityVerifier } from '../../src/encryption/bulk-conversion/integrity-verifier.ts';
import { NodeFileRows } from '../../src/files/node-file-rows.ts';
import { PLAIN_CODEC } from '../../src/storage/blob-store.ts';

const MARKER = 'HISTCONV-PLAINTEXT-MARKER';
const body = (what: string, n: number) => Buffer.from(`${MARKER} ${what} `.repeat(n));

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`encrypt-all and decrypt-all convert versions and trashed files (${db})`, () => {
    let t: TestInstance;
    before(async () => { t = await startTestInstance({ db }); await t.addUser(ALICE.uid, ALICE.password); });
    after(async () => { await t?.stop(); });

    const put = async (path: string, content: Buffer, mtime: number) => {
      const r = await call(t, ALICE, 'PUT', `${FILES(ALICE)}/${path}`, { body: content, headers: { 'X-OC-Mtime': String(mtime) } });
      assert.ok(r.status === 201 || r.status === 204, `PUT ${path}: ${r.status} ${r.text}`);
    };
    /** Blob files on disk that contain the marker in clear. */
    const plainBlobs = () => blobIds(t).filter((id) => readFileSync(blobFile(t, id)).includes(MARKER));
    const codecs = async () => ({
      versions: (await t.app.db.selectFrom('file_versions').select('blob_codec').execute()).map((r) => r.blob_codec),
      trash: (await t.app.db.selectFrom('trash_nodes').select('blob_codec').where('kind', '=', 'file').execute()).map((r) => r.blob_codec),
    });

    it('encrypts them, keeps them readable, verifies them, and decrypts them back', async () => {
      const v1 = body('old version', 3000);   // larger than one 64 KiB chunk
      const v2 = body('current', 10);
      const gone = body('trashed', 50);
      await put('doc.txt', v1, 1_700_000_000);
      await put('doc.txt', v2, 1_700_000_100);
      await put('gone.txt', gone, 1_700_000_000);
      const fileId = (await t.app.files.stat(ALICE.uid, 'doc.txt')).fileId;
      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/gone.txt`)).status, 204);
      assert.equal(plainBlobs().length, 3, 'the current file, the version and the trashed file are plain');

      const trashList = responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['nc:trashbin-filename'])).text).slice(1);
      assert.equal(trashList.length, 1);
      assert.equal(prop(trashList[0]!.xml, 'nc:trashbin-filename'), 'gone.txt');
      const trashed = trashList[0]!.href;
      const versionUrl = `${VERSIONS(ALICE)}/versions/${fileId}/1700000000`;
      const readAll = async (label: string) => {
        const v = await call(t, ALICE, 'GET', versionUrl);
        assert.equal(v.status, 200, `${label}: version`);
        assert.equal(sha256(v.body), sha256(v1), `${label}: version content`);
        const g = await call(t, ALICE, 'GET', trashed);
        assert.equal(g.status, 200, `${label}: trashed file`);
        assert.equal(sha256(g.body), sha256(gone), `${label}: trashed content`);
        assert.equal(sha256((await call(t, ALICE, 'GET', `${FILES(ALICE)}/doc.txt`)).body), sha256(v2), `${label}: current`);
      };
      await readAll('plain');

      await enableEncryption(t);
      const conv = bulkConverter(t.app);
      const todo = await conv.pending('encrypt');
      assert.deepEqual(todo, { files: 3, bytes: v1.length + v2.length + gone.length }, 'pending counts the version and the trashed file');
      const enc = await conv.run({ target: 'encrypt' });
      assert.deepEqual(enc.failed, []);
      assert.equal(enc.converted, 3);
      assert.deepEqual(enc.history, { versions: 1, trash: 1 });
      assert.deepEqual(plainBlobs(), [], 'no blob on disk holds the marker in clear');
      const c1 = await codecs();
      assert.equal(c1.versions.length, 1);
      assert.ok([...c1.versions, ...c1.trash].every((c) => c !== PLAIN_CODEC));
      assert.equal(blobIds(t).length, 3, 'the old plain blobs are deleted, no orphan is left');
      assert.deepEqual(await conv.pending('encrypt'), { files: 0, bytes: 0 });
      await readAll('encrypted');

      const verifier = new IntegrityVerifier({ encryption: t.app.encryption, audit: t.app.audit, rows: new NodeFileRows(t.app.db) });
      const rep = await verifier.verify();
      assert.deepEqual(rep.damaged, []);
      assert.equal(rep.checked, 3);
      assert.equal(rep.encrypted, 3);
      // a version bound to its file: its seal is checked, so a version row pointed at another blob is damage
      const vRow = await t.app.db.selectFrom('file_versions').select(['id', 'blob_id']).executeTakeFirstOrThrow();
      const tRow = await t.app.db.selectFrom('trash_nodes').select(['blob_id']).where('kind', '=', 'file').executeTakeFirstOrThrow();
      await t.app.db.updateTable('file_versions').set({ blob_id: tRow.blob_id! }).where('id', '=', vRow.id).execute();
      const bad = await verifier.verify();
      assert.equal(bad.damaged.length, 1);
      assert.equal(bad.damaged[0]!.fileid, fileId);
      await t.app.db.updateTable('file_versions').set({ blob_id: vRow.blob_id }).where('id', '=', vRow.id).execute();

      const dec = await conv.run({ target: 'decrypt' });
      assert.deepEqual(dec.failed, []);
      assert.equal(dec.converted, 3);
      assert.deepEqual(dec.history, { versions: 1, trash: 1 });
      const c2 = await codecs();
      assert.ok([...c2.versions, ...c2.trash].every((c) => c === PLAIN_CODEC));
      assert.equal(plainBlobs().length, 3, 'all three are plain on disk again');
      assert.equal(blobIds(t).length, 3);
      await readAll('decrypted');
      assert.equal((await verifier.verify()).damaged.length, 0);
    });
  });
}
