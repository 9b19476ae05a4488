/**
 * Crash safety of the import into per-user-key mode: SIGKILL while bob's versions are being
 * written (kept in Nextcloud's form, pending), then at growing delays (key pairs being made, files
 * being converted or kept pending), then a run to completion, gives what an
 * uninterrupted run gives: every file once with its id and etag, alice's files converted and
 * readable, bob's and carol's kept pending and readable after their first login, bob's versions
 * and trashed file (kept in Nextcloud's form, pending) each once and readable after his login, no
 * import wrapping left behind.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { basic, davUrl, type Coffer, type Unpacked } from './nc-fixture.ts';
import type { LoadedMariaDb } from './nc-mariadb.ts';
import { closeUserKeysSource, openUserKeysSource } from './nc-user-keys-source.ts';
import { occKilledAfter, occKilledWhen } from './nc-kill.ts';
import { addUserHistory, type UserHistory } from './nc-user-history.ts';

describe('import:nextcloud into per-user-key mode survives SIGKILL and continues', { timeout: 900_000 }, () => {
  let nc: Unpacked;
  let maria: LoadedMariaDb;
  let coffer: Coffer;
  let hist: UserHistory;
  const args = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', maria.url, '--recovery-password-from-env'];
  const env = () => ({ ...coffer.env, OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });

  before(async () => {
    ({ nc, maria, coffer } = await openUserKeysSource());
    // 40 old versions of 200 KB: writing them lasts long enough to be cut
    hist = await addUserHistory(nc, maria, 'bob', 'Reports/q1 report.txt', { versionSizes: Array.from({ length: 40 }, (_, i) => 200_000 + i) });
  });
  after(() => closeUserKeysSource({ nc, maria, coffer }));

  test('killed at growing delays, then completed: same result as one run', async () => {
    let killed = 0;
    let completed = false;
    const marker = (key: string): boolean => {
      const db = new SQLite(join(coffer.dir, 'config', 'coffer.db'), { readonly: true });
      try {
        return db.prepare("select 1 from app_config where app = 'import_nextcloud' and key = ?").get(key) !== undefined;
      } finally {
        db.close();
      }
    };
    // first a run cut while it writes bob's versions (kept in Nextcloud's form, pending)
    const bobVersions = (db: SQLite.Database) => (db.prepare("select count(*) as n from file_versions where owner = 'bob'").get() as { n: number }).n;
    const inHistory = await occKilledWhen(coffer.dir, env(), args(), (db) => { const n = bobVersions(db); return n > 0 && n < hist.versions.length; });
    assert.ok(inHistory.killed, 'the first run was killed while writing bob\'s versions');
    killed++;
    let midImport = 1;
    // small steps: a resumed run finishes soon after its start-up on a quiet machine
    for (let d = 300; d < 15_000; d = Math.round(d * 1.04 + 15)) {
      // a kill may land after the import completed (while the process exits): then it is done
      if (killed > 0 && marker('completed')) { completed = true; break; }
      const k = await occKilledAfter(env(), args(), d);
      if (!k.killed) {
        assert.equal(k.code, 0, k.stderr);
        completed = true;
        break;
      }
      killed++;
      if (marker('instanceid') && !marker('completed')) midImport++;
    }
    if (!completed) {
      const r = await coffer.occ(args(), { OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
      assert.equal(r.code, 0, r.stderr + r.stdout);
    }
    assert.ok(midImport >= 2, `at least two runs killed mid-import (${midImport} of ${killed} kills)`);
    for (const uid of ['alice', 'bob', 'carol']) {
      const names = readdirSync(join(coffer.dir, 'data', uid, 'files_encryption', 'OC_DEFAULT_MODULE'));
      assert.ok(!names.includes('nextcloudImport.privateKey'), `${uid}: import wrapping dropped`);
      assert.ok(names.includes('nextcloudPending.json') && names.includes(`${uid}.publicKey`), `${uid}: keys waiting for the first login`);
    }
    const st = JSON.parse((await coffer.occ(['import:nextcloud:status', '--output', 'json'])).stdout) as { completed: boolean; users: { uid: string; pendingFiles: number }[] };
    assert.equal(st.completed, true);
    // bob's files, his two versions, his trashed file and its version
    assert.deepEqual(st.users.filter((u) => u.pendingFiles > 0).map((u) => [u.uid, u.pendingFiles]), [['bob', 3 + hist.versions.length + 2], ['carol', 1]]);

    const srv = await coffer.serve();
    try {
      const rows = await srv.app.db.selectFrom('nodes').select(['fileid', 'owner', 'path', 'etag', 'blob_codec']).where('kind', '=', 'file').orderBy('fileid').execute();
      assert.deepEqual(rows.map((f) => `${f.fileid} ${f.owner}/${f.path} ${f.etag}`),
        [...nc.manifest.files].sort((a, b) => a.fileid - b.fileid).map((f) => `${f.fileid} ${f.owner}/${f.path} ${f.etag}`));
      for (const f of nc.manifest.files) {
        const codec = rows.find((r) => Number(r.fileid) === f.fileid)!.blob_codec;
        assert.equal(codec, f.owner === 'alice' || f.encrypted === 0 ? 'cfe1' : 'nc-pending', `${f.owner}/${f.path}`);
        const pw = nc.manifest.users.find((u) => u.uid === f.owner)!.password;
        const g = await fetch(davUrl(srv.url, f.owner, f.path), { headers: { authorization: basic(f.owner, pw) } });
        assert.equal(g.status, 200, `${f.owner}/${f.path}`);
        assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256, `${f.owner}/${f.path}`);
      }
      // bob's history: each row once (the reads above were his first login: converted since), readable
      const versions = await srv.app.db.selectFrom('file_versions').select(['fileid', 'version']).where('owner', '=', 'bob').execute();
      assert.deepEqual(versions.map((v) => `${v.fileid}/${v.version}`).sort(),
        [...hist.versions.map((v) => `${hist.file.fileid}/${v.ts}`), `${hist.trash.fileid}/${hist.trash.version.ts}`].sort());
      const items = await srv.app.db.selectFrom('trash_items').select(['name', 'deleted_at']).where('owner', '=', 'bob').execute();
      assert.deepEqual(items.map((i) => `${i.name}.d${i.deleted_at}`), [`${hist.trash.name}.d${hist.trash.deletedAt}`]);
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
