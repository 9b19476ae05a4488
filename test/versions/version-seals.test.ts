/**
 * Version rows are sealed in a domain of their own (docs/FORMAT.md, "Versions and trash items"):
 * whoever can write the database cannot roll a file back by copying a version's fields into the
 * file row, a version row altered in the database is refused when read and when restored (never
 * sealed anew as the file's), and migration 015 re-seals the versions of an existing install.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { RowSeal } from '../../src/encryption/row-seal.ts';
import { silentLogger } from '../../src/logger.ts';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { call, FILES, VERSIONS } from './helpers.ts';

const OLD = 'the old content, kept as a version';
/** The instance's row seals (its config's secret and instance id). */
const sealOf = (t: TestInstance) => { const c = loadConfig(t.configPath); return new RowSeal(c.secret, c.instanceid); };
const NEW = 'the current content';

for (const mode of ['plain', 'encrypted'] as const) {
  describe(`version seals (${mode})`, () => {
    let t: TestInstance;
    const auditLines = () => readFileSync(join(t.dataDir, 'audit.log'), 'utf8');
    const nodeRow = (path: string) => t.app.db.selectFrom('nodes').selectAll().where('owner', '=', ADMIN.uid).where('path', '=', path).executeTakeFirstOrThrow();
    const versionRows = (fileId: number) => t.app.db.selectFrom('file_versions').selectAll().where('fileid', '=', fileId).orderBy('version').execute();
    /** Writes OLD then NEW to `path` (OLD is then a version); answers the file id. */
    async function twoStates(path: string): Promise<number> {
      assert.equal((await call(t, ADMIN, 'PUT', `${FILES(ADMIN)}/${path}`, { body: OLD, headers: { 'X-OC-Mtime': '1700000000' } })).status, 201);
      assert.equal((await call(t, ADMIN, 'PUT', `${FILES(ADMIN)}/${path}`, { body: NEW, headers: { 'X-OC-Mtime': '1700000100' } })).status, 204);
      return Number((await nodeRow(path)).fileid);
    }
    async function audited(n: number): Promise<void> {
      for (let i = 0; i < 50 && (auditLines().match(/integrity\.failure/g) ?? []).length < n; i++) await sleep(20);
      assert.ok((auditLines().match(/integrity\.failure/g) ?? []).length >= n, 'audited as an integrity failure');
    }

    before(async () => {
      t = await startTestInstance();
      if (mode === 'encrypted') await enableEncryption(t);
    });
    after(async () => { await t?.stop(); });

    it('a version row carries the version seal, not the file row\'s', async () => {
      const fileId = await twoStates('sealed.txt');
      const [v] = await versionRows(fileId);
      const seal = sealOf(t);
      assert.equal(v!.blob_seal, seal.version(fileId, v!.blob_id, v!.blob_codec, Number(v!.size)));
      assert.notEqual(v!.blob_seal, seal.node(fileId, v!.blob_id, v!.blob_codec, Number(v!.size)));
      assert.equal((await call(t, ADMIN, 'GET', `${VERSIONS(ADMIN)}/versions/${fileId}/1700000000`)).text, OLD);
    });

    it('a version\'s fields copied into the file row in the database are refused and audited, not served', async () => {
      const fileId = await twoStates('rollback.txt');
      const [v] = await versionRows(fileId);
      const failures = (auditLines().match(/integrity\.failure/g) ?? []).length;
      await t.app.db.updateTable('nodes').set({ blob_id: v!.blob_id, blob_codec: v!.blob_codec, blob_seal: v!.blob_seal, size: Number(v!.size) })
        .where('fileid', '=', fileId).execute();
      const r = await call(t, ADMIN, 'GET', `${FILES(ADMIN)}/rollback.txt`);
      assert.notEqual(r.status, 200);
      assert.ok(!r.text.includes(OLD), 'the old content is not served as the current one');
      await audited(failures + 1);
    });

    it('a version row altered in the database is refused when read and when restored; the file is unchanged', async () => {
      const fileId = await twoStates('altered.txt');
      const [v] = await versionRows(fileId);
      await t.app.db.updateTable('file_versions').set({ size: Number(v!.size) - 4 }).where('id', '=', v!.id).execute();
      const failures = (auditLines().match(/integrity\.failure/g) ?? []).length;
      const got = await call(t, ADMIN, 'GET', `${VERSIONS(ADMIN)}/versions/${fileId}/1700000000`);
      assert.notEqual(got.status, 200);
      const restore = await call(t, ADMIN, 'MOVE', `${VERSIONS(ADMIN)}/versions/${fileId}/1700000000`, { headers: { Destination: `${VERSIONS(ADMIN)}/restore/target` } });
      assert.ok(restore.status >= 400, `restore refused (${restore.status})`);
      await audited(failures + 2);
      // nothing changed: the file still reads as it was, its version row is still there (still refused)
      assert.equal((await call(t, ADMIN, 'GET', `${FILES(ADMIN)}/altered.txt`)).text, NEW);
      assert.equal((await versionRows(fileId)).length, 1);
      assert.equal((await nodeRow('altered.txt')).blob_id !== v!.blob_id, true);
    });

    it('a legitimate restore seals the file row as a file, and the replaced content as a version', async () => {
      const fileId = await twoStates('restored.txt');
      const restore = await call(t, ADMIN, 'MOVE', `${VERSIONS(ADMIN)}/versions/${fileId}/1700000000`, { headers: { Destination: `${VERSIONS(ADMIN)}/restore/target` } });
      assert.equal(restore.status, 201);
      assert.equal((await call(t, ADMIN, 'GET', `${FILES(ADMIN)}/restored.txt`)).text, OLD);
      assert.equal((await call(t, ADMIN, 'GET', `${VERSIONS(ADMIN)}/versions/${fileId}/1700000100`)).text, NEW);
      const seal = sealOf(t);
      const n = await nodeRow('restored.txt');
      assert.equal(n.blob_seal, seal.node(fileId, n.blob_id!, n.blob_codec!, Number(n.size)));
      const [v] = await versionRows(fileId);
      assert.equal(v!.blob_seal, seal.version(fileId, v!.blob_id, v!.blob_codec, Number(v!.size)));
    });
  });
}

describe('version seals: migration 015 re-seals the versions of an existing install', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await enableEncryption(t);
  });
  after(async () => { await t?.stop(); });

  it('versions sealed as file rows become version seals; an altered one stays refused', async () => {
    for (const p of ['a.txt', 'b.txt']) {
      assert.equal((await call(t, ADMIN, 'PUT', `${FILES(ADMIN)}/${p}`, { body: `${OLD} ${p}`, headers: { 'X-OC-Mtime': '1700000000' } })).status, 201);
      assert.equal((await call(t, ADMIN, 'PUT', `${FILES(ADMIN)}/${p}`, { body: NEW })).status, 204);
    }
    const seal = sealOf(t);
    // as an install before 015 left them: each version with its file row's seal; b's row altered afterwards
    const rows = await t.app.db.selectFrom('file_versions').selectAll().orderBy('id').execute();
    assert.equal(rows.length, 2);
    for (const r of rows) {
      await t.app.db.updateTable('file_versions').set({ blob_seal: seal.node(Number(r.fileid), r.blob_id, r.blob_codec, Number(r.size)) }).where('id', '=', r.id).execute();
    }
    await t.app.db.updateTable('file_versions').set({ size: Number(rows[1]!.size) + 1 }).where('id', '=', rows[1]!.id).execute();
    await t.app.db.deleteFrom('coffer_migrations' as never).where('name' as never, '=', '015-version-seals' as never).execute();
    let upgraded: App | undefined;
    try {
      upgraded = await openApp(loadConfig(t.configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
      const after = await upgraded.db.selectFrom('file_versions').selectAll().orderBy('id').execute();
      const a = after[0]!;
      assert.equal(a.blob_seal, seal.version(Number(a.fileid), a.blob_id, a.blob_codec, Number(a.size)), 'a matching row is sealed as a version');
      const b = after[1]!;
      assert.equal(b.blob_seal, seal.node(Number(b.fileid), b.blob_id, b.blob_codec, Number(rows[1]!.size)), 'the altered row keeps its old seal');
      assert.notEqual(b.blob_seal, seal.version(Number(b.fileid), b.blob_id, b.blob_codec, Number(b.size)));
    } finally {
      await upgraded?.close();
    }
    await t.restart();
    const ids = rows.map((r) => Number(r.fileid));
    assert.equal((await call(t, ADMIN, 'GET', `${VERSIONS(ADMIN)}/versions/${ids[0]}/1700000000`)).text, `${OLD} a.txt`);
    assert.notEqual((await call(t, ADMIN, 'GET', `${VERSIONS(ADMIN)}/versions/${ids[1]}/1700000000`)).status, 200);
  });
});
