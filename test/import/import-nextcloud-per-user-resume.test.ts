/**
 * Crash safety of the import into per-user-key mode (the MariaDB fixture, loaded into 127.0.0.1:3306,
 * with old versions and a trashed file of bob's added): SIGKILL at four pinned moments (while making
 * key pairs, writing bob's files kept in Nextcloud's form, shares with their keys, bob's versions),
 * then a run to completion, leaves what an uninterrupted import into another fresh Coffer leaves:
 * every table row for row, the blob store after garbage collection and the key files. Then: alice's
 * files converted and readable, bob's and carol's kept pending and readable after their first
 * login, bob's versions and trashed file each once and readable after his login, no import
 * wrapping left behind.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, davUrl, installCoffer, type Coffer, type Unpacked } from './nc-fixture.ts';
import type { LoadedMariaDb } from './nc-mariadb.ts';
import { closeUserKeysSource, openUserKeysSource } from './nc-user-keys-source.ts';
import { killImportAt, type RowMoment } from './nc-kill.ts';
import { assertSameImport, cofferCount } from './nc-state.ts';
import { addUserHistory, type UserHistory } from './nc-user-history.ts';

describe('import:nextcloud into per-user-key mode SIGKILLed at four moments, then completed, equals an uninterrupted import', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let maria: LoadedMariaDb;
  let coffer: Coffer;
  let whole: Coffer;
  let hist: UserHistory;
  const args = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', maria.url, '--recovery-password-from-env'];
  const recovery = () => ({ OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
  const killAt = (at: RowMoment) => killImportAt(coffer, args(), recovery(), at, nc.manifest.instanceid);

  before(async () => {
    ({ nc, maria, coffer } = await openUserKeysSource());
    hist = await addUserHistory(nc, maria, 'bob', 'Reports/q1 report.txt', { versionSizes: [3_000, 9_000, 27_000, 81_000] });
    whole = await installCoffer();
    const r = await whole.occ(args(), recovery());
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });
  after(() => {
    whole?.cleanup();
    closeUserKeysSource({ nc, maria, coffer });
  });

  test('killed while making key pairs, writing bob\'s pending files, shares, bob\'s versions; each rerun continued', async () => {
    // 1. key pairs: alice's made (kept for the rerun under the import's wrapping) and being sealed to
    // the recovery key (her opt-in not recorded yet), bob's and carol's not made yet
    await killAt({ table: 'app_config', nth: 1, where: "key = 'recovery_optin:alice'" });
    const keyFiles = (uid: string) => { try { return readdirSync(join(coffer.dir, 'data', uid, 'files_encryption', 'OC_DEFAULT_MODULE')); } catch { return []; } };
    assert.ok(keyFiles('alice').includes('nextcloudImport.privateKey'), 'alice: key pair made');
    assert.ok(!keyFiles('bob').includes('nextcloudImport.privateKey'), 'bob: not yet');
    assert.equal(cofferCount(coffer.dir, 'nodes'), 0);
    // 2. bob's files, kept in Nextcloud's form: the first one committed (file row and pending row at once)
    await killAt({ table: 'import_pending_blobs', nth: 2 });
    assert.equal(cofferCount(coffer.dir, "nodes where kind = 'file' and owner = 'bob'"), 1);
    assert.equal(cofferCount(coffer.dir, "nodes where kind = 'file' and owner = 'alice'"), nc.manifest.files.filter((f) => f.owner === 'alice').length);
    // 3. shares: two of them written (in per-user-key mode each with the keys it grants), the third not
    await killAt({ table: 'shares', nth: 3 });
    assert.equal(cofferCount(coffer.dir, "nodes where kind = 'file'"), nc.manifest.files.length);
    // 4. bob's old versions (kept in Nextcloud's form): one of them
    await killAt({ table: 'file_versions', nth: 2, where: "owner = 'bob'" });
    assert.equal(cofferCount(coffer.dir, 'shares'), nc.manifest.shares.filter((s) => s.share_type !== 2).length);

    const r = await coffer.occ(args(), recovery());
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });

  test("every table, the blob store and the key files equal the uninterrupted import's", async () => {
    await assertSameImport(coffer, whole);
    for (const uid of ['alice', 'bob', 'carol']) {
      const names = readdirSync(join(coffer.dir, 'data', uid, 'files_encryption', 'OC_DEFAULT_MODULE'));
      assert.ok(!names.includes('nextcloudImport.privateKey'), `${uid}: import wrapping dropped`);
      assert.ok(names.includes('nextcloudPending.json') && names.includes(`${uid}.publicKey`), `${uid}: keys waiting for the first login`);
    }
    const st = JSON.parse((await coffer.occ(['import:nextcloud:status', '--output', 'json'])).stdout) as { completed: boolean; users: { uid: string; pendingFiles: number }[] };
    assert.equal(st.completed, true);
    // bob's files, his versions, his trashed file and its version
    assert.deepEqual(st.users.filter((u) => u.pendingFiles > 0).map((u) => [u.uid, u.pendingFiles]), [['bob', 3 + hist.versions.length + 2], ['carol', 1]]);
  });

  test('every file reads back with its owner\'s password (pending ones converted at the first login), and bob\'s history', async () => {
    const srv = await coffer.serve();
    try {
      const rows = await srv.app.db.selectFrom('nodes').select(['fileid', 'blob_codec']).where('kind', '=', 'file').execute();
      for (const f of nc.manifest.files) {
        const codec = rows.find((r) => Number(r.fileid) === f.fileid)!.blob_codec;
        assert.equal(codec, f.owner === 'alice' || f.encrypted === 0 ? 'cfe1' : 'nc-pending', `${f.owner}/${f.path}`);
        const pw = nc.manifest.users.find((u) => u.uid === f.owner)!.password;
        const g = await fetch(davUrl(srv.url, f.owner, f.path), { headers: { authorization: basic(f.owner, pw) } });
        assert.equal(g.status, 200, `${f.owner}/${f.path}`);
        assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256, `${f.owner}/${f.path}`);
      }
      const bobPw = nc.manifest.users.find((u) => u.uid === 'bob')!.password;
      const sha = async (path: string) => {
        const r = await fetch(`${srv.url}${path}`, { headers: { authorization: basic('bob', bobPw) } });
        assert.equal(r.status, 200, path);
        return createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex');
      };
      for (const v of hist.versions) assert.equal(await sha(`/remote.php/dav/versions/bob/versions/${hist.file.fileid}/${v.ts}`), v.sha256);
      assert.equal(await sha(`/remote.php/dav/trashbin/bob/trash/${encodeURIComponent(`${hist.trash.name}.d${hist.trash.deletedAt}`)}`), hist.trash.sha256);
    } finally {
      await srv.stop();
    }
  });
});
