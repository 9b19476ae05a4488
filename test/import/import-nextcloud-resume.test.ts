/**
 * Crash safety of `./occ import:nextcloud` on the master-key fixture: SIGKILL at three pinned
 * moments (while writing users, live files, share mounts), then a run to completion, leaves the
 * same state as an uninterrupted import into another fresh Coffer: every table row for row, the
 * blob store after garbage collection, every file's content, the app password and the links.
 * Coffer stays in maintenance mode until the import has completed, and then has the mode it had
 * before, also when the first run was killed right after switching it on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { basic, checkPublicLink, davUrl, installCoffer, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';
import { checkImportedHistory } from './nc-history-checks.ts';
import { killImportAt, type RowMoment } from './nc-kill.ts';
import { assertSameImport, cofferCount, cofferSetting } from './nc-state.ts';

describe('import:nextcloud SIGKILLed at three moments, then completed, equals an uninterrupted import', { timeout: 300_000 }, () => {
  let nc: Unpacked;
  let killed: Coffer;
  let whole: Coffer;
  const args = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data];
  const pw = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)?.password ?? nc.manifest.admin.password;

  before(async () => {
    nc = unpack('master-key');
    [killed, whole] = await Promise.all([installCoffer(), installCoffer()]);
    const r = await whole.occ(args());
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });
  after(() => {
    killed?.cleanup();
    whole?.cleanup();
    nc?.cleanup();
  });

  const killAt = (at: RowMoment) => killImportAt(killed, args(), {}, at, nc.manifest.instanceid);

  test('killed while writing users, then files, then share mounts; each rerun continued where the last stopped', async () => {
    const ncUsers = nc.manifest.users.length + 1; // with Nextcloud's admin
    const files = nc.manifest.files.length;
    const shares = nc.manifest.shares.filter((s) => s.share_type !== 2).length;

    // 1. users: Coffer's admin and two of Nextcloud's committed (encryption already switched on)
    await killAt({ table: 'users', nth: 4 });
    assert.equal(cofferCount(killed.dir, 'nodes'), 0, 'no folder or file yet');
    assert.equal(cofferSetting(killed.dir, 'core', 'encryption_enabled'), 'yes');

    // 2. live files: the rerun completed the users and groups, and wrote 10 of the files
    await killAt({ table: 'nodes', nth: 11, where: "kind = 'file'" });
    assert.equal(cofferCount(killed.dir, 'users'), ncUsers + 1);
    assert.equal(cofferCount(killed.dir, 'app_passwords'), 1);
    assert.ok(files > 11, `the fixture has more files than that (${files})`);

    // 3. shares: the next rerun wrote every file, and two of the shares with one recipient's mount
    await killAt({ table: 'share_mounts', nth: 2 });
    assert.equal(cofferCount(killed.dir, "nodes where kind = 'file'"), files);
    const sharesNow = cofferCount(killed.dir, 'shares');
    assert.ok(sharesNow > 0 && sharesNow < shares, `some shares, not all (${sharesNow} of ${shares})`);
    assert.equal(cofferCount(killed.dir, 'file_versions'), 0, 'no version yet (they come after the shares)');

    const r = await killed.occ(args());
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(cofferSetting(killed.dir, 'core', 'maintenance'), '0', 'maintenance mode lifted at completion');
  });

  test("every table equals the uninterrupted import's, row for row (minus blob ids, seals and run times)", async () => {
    await assertSameImport(killed, whole);
  });

  test('every file reads back with its sha256; the app password and the public links work', async () => {
    const srv = await killed.serve();
    try {
      for (const f of nc.manifest.files) {
        const g = await fetch(davUrl(srv.url, f.owner, f.path), { headers: { authorization: basic(f.owner, pw(f.owner)) } });
        assert.equal(g.status, 200, `${f.owner}/${f.path}`);
        assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256, f.path);
      }
      const alice = nc.manifest.users.find((u) => u.uid === 'alice')!;
      const app = await fetch(davUrl(srv.url, 'alice', ''), { method: 'PROPFIND', headers: { authorization: basic('alice', alice.app_tokens[0]!.token), depth: '0' } });
      assert.equal(app.status, 207, 'the app password works');
      for (const s of nc.manifest.shares.filter((x) => x.share_type === 3)) await checkPublicLink(srv.url, nc.manifest, s);
      await checkImportedHistory(srv.url, nc);
    } finally {
      await srv.stop();
    }
  });
});

describe('import:nextcloud killed between switching maintenance mode on and writing its marker', { timeout: 300_000 }, () => {
  test('the rerun keeps the mode recorded before the first run and restores it at completion', async () => {
    const nc = unpack('master-key');
    const coffer = await installCoffer();
    try {
      // the state such a kill leaves: the mode Coffer had recorded (off), the mode switched on, no marker
      const db = new SQLite(join(coffer.dir, 'config', 'coffer.db'));
      try {
        db.prepare("insert into app_config (app, key, value) values ('import_nextcloud', 'maintenance_before', '0')").run();
        db.prepare("update app_config set value = '1' where app = 'core' and key = 'maintenance'").run();
      } finally {
        db.close();
      }
      const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const d = new SQLite(join(coffer.dir, 'config', 'coffer.db'), { readonly: true });
      try {
        assert.equal((d.prepare("select value from app_config where app = 'core' and key = 'maintenance'").get() as { value: string }).value, '0', 'off again, as before the first run');
      } finally {
        d.close();
      }
    } finally {
      coffer.cleanup();
      nc.cleanup();
    }
  });
});
