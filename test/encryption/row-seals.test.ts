/**
 * Integrity through the database: whoever can write the data directory, the database in it
 * included, but holds no config secret, cannot make Coffer serve content of their choosing by
 * rewriting a file row (codec switched to plain, another blob, another size): every file row is
 * sealed under a key from the secret, the read is refused (500, audit-log entry) and
 * `encryption:verify` reports the file. An emptied seal is not sealed again at the next start.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { IntegrityVerifier } from '../../src/encryption/bulk-conversion/integrity-verifier.ts';
import { silentLogger } from '../../src/logger.ts';
import { newBlobId } from '../../src/storage/blob-id.ts';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { NodeFileRows } from '../../src/files/node-file-rows.ts';
import { SYSTEM, userActor } from '../../src/actor.ts';

const DAV = '/remote.php/dav/files/admin';
const EVIL = Buffer.from('attacker-chosen content');

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`row seals: a rewritten database row is refused, never served (${db})`, () => {
    let t: TestInstance;
    const row = (path: string) => t.app.db.selectFrom('nodes').selectAll().where('owner', '=', ADMIN.uid).where('path', '=', path).executeTakeFirstOrThrow();
    /** The attacker: a plain blob of their own in the data directory, and the row pointed at it. */
    async function plantPlain(path: string, opts: { size?: number } = {}): Promise<void> {
      const blobId = newBlobId();
      await t.app.rawBlobs.put(blobId, Readable.from([EVIL]), { fileId: 0, owner: ADMIN.uid, actor: SYSTEM });
      await t.app.db.updateTable('nodes').set({ blob_id: blobId, blob_codec: 'plain', size: opts.size ?? EVIL.length })
        .where('owner', '=', ADMIN.uid).where('path', '=', path).execute();
    }
    async function get(path: string): Promise<{ status: number; body: string }> {
      const r = await t.fetch(`${DAV}/${path}`);
      let body = '';
      try { body = await r.text(); } catch { /* an aborted body is a refusal too */ }
      return { status: r.status, body };
    }
    const auditLines = () => readFileSync(join(t.dataDir, 'audit.log'), 'utf8');

    before(async () => {
      t = await startTestInstance({ db });
      // one file written before encryption (legitimately plain), the others encrypted
      assert.equal((await t.fetch(`${DAV}/before.txt`, { method: 'PUT', body: 'plain from before' })).status, 201);
      await enableEncryption(t);
      for (const f of ['secret.txt', 'other.txt', 'empty.txt', 'kept.txt']) {
        assert.equal((await t.fetch(`${DAV}/${f}`, { method: 'PUT', body: `the real ${f}` })).status, 201);
      }
      assert.equal((await row('secret.txt')).blob_codec, 'cfe1');
    });
    after(async () => { await t?.stop(); });

    it('an encrypted file whose row is switched to an attacker\'s plain blob is refused and audited', async () => {
      await plantPlain('secret.txt');
      const r = await get('secret.txt');
      assert.notEqual(r.status, 200, 'not served');
      assert.ok(!r.body.includes(EVIL.toString()), 'the attacker\'s bytes never reach the client');
      await new Promise((res) => setTimeout(res, 100));
      assert.match(auditLines(), /"integrity\.failure".*"reason":"wrong-binding".*does not match its seal/);
    });

    it('a legitimately plain file pointed at another blob, or given another size, is refused', async () => {
      const before = await row('before.txt');
      assert.equal(before.blob_codec, 'plain');
      assert.equal((await get('before.txt')).body, 'plain from before', 'the file from before encryption still reads');
      await t.app.db.updateTable('nodes').set({ size: 3 }).where('fileid', '=', before.fileid).execute();
      assert.notEqual((await get('before.txt')).status, 200);
      await plantPlain('before.txt');
      assert.notEqual((await get('before.txt')).status, 200);
    });

    it('a seal copied from another row does not fit; an encrypted row set to size 0 is refused', async () => {
      const other = await row('other.txt');
      await plantPlain('other.txt');
      const donor = await row('kept.txt');
      await t.app.db.updateTable('nodes').set({ blob_seal: donor.blob_seal }).where('fileid', '=', other.fileid).execute();
      assert.notEqual((await get('other.txt')).status, 200);
      await t.app.db.updateTable('nodes').set({ size: 0 }).where('owner', '=', ADMIN.uid).where('path', '=', 'empty.txt').execute();
      const r = await get('empty.txt');
      assert.notEqual(r.status, 200, 'not served as an empty file');
      assert.equal((await get('kept.txt')).body, 'the real kept.txt', 'untouched files read as before');
    });

    it('encryption:verify names every altered file; the untouched ones pass', async () => {
      const report = await new IntegrityVerifier({ encryption: t.app.encryption, audit: t.app.audit, rows: new NodeFileRows(t.app.db) }).verify();
      const damaged = report.damaged.map((d) => d.path).sort();
      assert.deepEqual(damaged, ['before.txt', 'empty.txt', 'other.txt', 'secret.txt']);
      assert.ok(report.damaged.every((d) => /seal/.test(d.reason)), JSON.stringify(report.damaged));
    });

    it('an emptied seal is not sealed again when the server restarts', async () => {
      await t.app.db.updateTable('nodes').set({ blob_seal: null }).where('owner', '=', ADMIN.uid).where('path', '=', 'secret.txt').execute();
      let again: App | undefined;
      try {
        again = await openApp(loadConfig(t.configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
        assert.equal((await again.db.selectFrom('nodes').select('blob_seal').where('owner', '=', ADMIN.uid).where('path', '=', 'secret.txt').executeTakeFirstOrThrow()).blob_seal, null);
        await assert.rejects(again.files.openRead(userActor(ADMIN.uid, 'password'), ADMIN.uid, 'secret.txt'), /seal/);
      } finally {
        await again?.close();
      }
    });
  });
}

describe('row seals: an install from before the seals gets its rows sealed once, by the migration', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t?.stop(); });

  it('rows written before migration 007 read as before after the upgrade', async () => {
    assert.equal((await t.fetch(`${DAV}/old.txt`, { method: 'PUT', body: 'written before the upgrade' })).status, 201);
    await enableEncryption(t);
    assert.equal((await t.fetch(`${DAV}/old-enc.txt`, { method: 'PUT', body: 'encrypted before the upgrade' })).status, 201);
    // back to the schema before row seals: no seal columns, 007 not applied
    await t.app.db.schema.alterTable('nodes').dropColumn('blob_seal').execute();
    await t.app.db.schema.alterTable('upload_chunks').dropColumn('blob_seal').execute();
    // ... nor what later migrations added (they run again after 007, in order)
    for (const table of ['previews', 'file_versions', 'file_authors', 'trash_nodes', 'trash_items', 'notifications', 'activities', 'import_pending_blobs']) await t.app.db.schema.dropTable(table).execute();
    await t.app.db.deleteFrom('coffer_migrations' as never).where('name' as never, '>=', '007-row-seals' as never).execute();
    let upgraded: App | undefined;
    try {
      upgraded = await openApp(loadConfig(t.configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
      const rows = await upgraded.db.selectFrom('nodes').select(['path', 'blob_seal']).where('blob_id', 'is not', null).execute();
      assert.ok(rows.length >= 2 && rows.every((r) => typeof r.blob_seal === 'string'), 'every file row is sealed');
      for (const [p, want] of [['old.txt', 'written before the upgrade'], ['old-enc.txt', 'encrypted before the upgrade']] as const) {
        const parts: Buffer[] = [];
        for await (const c of (await upgraded.files.openRead(userActor(ADMIN.uid, 'password'), ADMIN.uid, p)).stream) parts.push(c as Buffer);
        assert.equal(Buffer.concat(parts).toString(), want);
      }
    } finally {
      await upgraded?.close();
    }
  });
});
