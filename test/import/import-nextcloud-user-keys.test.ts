/**
 * `./occ import:nextcloud` on the real Nextcloud 32 per-user-keys fixture, its MariaDB dump loaded
 * into a fresh database on the local MariaDB server (127.0.0.1:3306) and read over --database-url.
 * The recovery key opens the files of alice (opted in); bob's and carol's encrypted files can only be
 * opened with their login passwords, which the importer does not have: reported by name, not imported.
 * (The import into Coffer's per-user-key mode, the default for such a source: import-nextcloud-per-user.test.ts.)
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { basic, davUrl, propfind, type Coffer, type Unpacked } from './nc-fixture.ts';
import type { LoadedMariaDb } from './nc-mariadb.ts';
import { closeUserKeysSource, openUserKeysSource } from './nc-user-keys-source.ts';
import { checkImportedHistory } from './nc-history-checks.ts';

describe('import:nextcloud, per-user-keys fixture (MariaDB dump)', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let maria: LoadedMariaDb;
  let coffer: Coffer;
  const args = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', maria.url];
  const recovery = () => ({ OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
  const optedIn = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)?.recovery_opt_in === true;

  before(async () => { ({ nc, maria, coffer } = await openUserKeysSource()); });
  after(() => closeUserKeysSource({ nc, maria, coffer }));

  test('dry run into master-key mode with the recovery password: the opted-in user\'s files decrypt to the manifest sha256, the others are named', async () => {
    const r = await coffer.occ([...args(), '--dry-run', '--into-master-key', '--recovery-password-from-env', '--output', 'json'], recovery());
    assert.equal(r.code, 1, r.stderr);
    const rep = JSON.parse(r.stdout) as { encryption: string; checked: { owner: string; path: string; sha256: string }[]; skipped: { what: string; reason: string }[] };
    assert.equal(rep.encryption, 'per-user');
    for (const f of nc.manifest.files) {
      const got = rep.checked.find((c) => c.owner === f.owner && c.path === f.path);
      if (f.encrypted === 0 || optedIn(f.owner)) {
        assert.equal(got?.sha256, f.sha256, `${f.owner}/${f.path}`);
      } else {
        assert.equal(got, undefined);
        assert.ok(rep.skipped.some((s) => s.what === `${f.owner}/files/${f.path}` && /did not opt into the recovery key/.test(s.reason)), `${f.owner}/${f.path} named`);
      }
    }
    const list = await coffer.occ(['user:list', '--output', 'json']);
    assert.deepEqual(Object.keys(JSON.parse(list.stdout)), ['cofferadmin']);
  });

  test('a wrong recovery password is refused before anything is written', async () => {
    const r = await coffer.occ([...args(), '--into-master-key', '--recovery-password-from-env'], { OC_RECOVERY_PASS: 'not-the-recovery-password' });
    assert.equal(r.code, 7);
    assert.match(r.stderr, /recovery password is wrong/);
  });

  test('import into master-key mode: passwords, app password, files readable by recovery, shares', async () => {
    const r = await coffer.occ([...args(), '--into-master-key', '--recovery-password-from-env'], recovery());
    assert.equal(r.code, 1, r.stderr); // some files skipped (named), everything else imported
    const srv = await coffer.serve();
    try {
      for (const u of nc.manifest.users) {
        const p = await propfind(srv.url, u.uid, u.password, '');
        assert.equal(p.status, 207, u.uid);
      }
      for (const u of nc.manifest.users) {
        for (const t of u.app_tokens) {
          const p = await fetch(davUrl(srv.url, u.uid, ''), { method: 'PROPFIND', headers: { authorization: basic(u.uid, t.token), depth: '0' } });
          assert.equal(p.status, 207, `${u.uid} app password`);
        }
      }
      for (const f of nc.manifest.files) {
        const pw = nc.manifest.users.find((u) => u.uid === f.owner)?.password ?? nc.manifest.admin.password;
        const g = await fetch(davUrl(srv.url, f.owner, f.path), { headers: { authorization: basic(f.owner, pw) } });
        if (f.encrypted === 0 || optedIn(f.owner)) {
          assert.equal(g.status, 200, `${f.owner}/${f.path}`);
          assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256);
          const p = await propfind(srv.url, f.owner, pw, f.path);
          assert.equal(p.fileid, String(f.fileid));
          assert.equal(p.etag, f.etag);
        } else {
          await g.arrayBuffer();
          assert.equal(g.status, 404, `${f.owner}/${f.path} not imported`);
        }
      }
      for (const s of nc.manifest.shares.filter((x) => x.share_type === 3)) {
        const l = await fetch(`${srv.url}/public.php/webdav/`, { method: 'PROPFIND', headers: { authorization: basic(s.token!, s.password ?? ''), depth: '0' } });
        assert.equal(l.status, 207, `link ${s.token}`);
      }
      // shares: the group share reaches bob (a member, with his per-user row); permissions as Coffer's rules allow (links lose the share bit)
      const g = nc.manifest.shares.find((x) => x.share_type === 1)!;
      const bobPw = nc.manifest.users.find((u) => u.uid === 'bob')!.password;
      assert.equal((await propfind(srv.url, 'bob', bobPw, g.path)).fileid, String(g.fileid));
      const alicePw = nc.manifest.users.find((u) => u.uid === g.owner)!.password;
      const o = await fetch(`${srv.url}/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json`, { headers: { authorization: basic(g.owner, alicePw), 'OCS-APIREQUEST': 'true' } });
      const got = ((await o.json()) as { ocs: { data: { share_type: number; permissions: number; token: string | null; share_with: string | null }[] } }).ocs.data;
      assert.deepEqual(got.map((x) => `${x.share_type} ${x.token ?? x.share_with} ${x.permissions}`).sort(),
        nc.manifest.shares.map((x) => `${x.share_type} ${x.token ?? x.recipient} ${x.share_type === 3 ? x.permissions & ~16 : x.permissions}`).sort());
      // versions and trash (all alice's, opted into recovery): converted, readable, restorable
      assert.match(r.stdout, /versions: 4, trash items: 2 \(3 files\) \(written\)/);
      await checkImportedHistory(srv.url, nc);
    } finally {
      await srv.stop();
    }
  });
});
