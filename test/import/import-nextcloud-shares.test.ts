/**
 * Shares carried over by `./occ import:nextcloud` (master-key fixture, SQLite read in place): the
 * per-user rows Nextcloud adds below a group share (share_type 2) become the members' own mounts
 * (a member who renamed it finds it under that name, one who removed it from their tree or
 * declined it does not find it), and Nextcloud's `permissions` become what Coffer's rules allow
 * (links lose the share bit Nextcloud adds: 17 → 1; a read-only group share stays read-only).
 * The fixture's group share has default per-user rows only; the copy imported here gets the
 * rows a rename, a removal and a decline make in Nextcloud (written as Nextcloud writes them).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { createPgDatabase } from '../support/test-instance.ts';
import { basic, davUrl, installCoffer, propfind, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';

interface OcsShare { id: string; share_type: number; permissions: number; path: string; share_with: string | null; token: string | null }

// Coffer on SQLite, and on PostgreSQL (the mount upserts)
for (const kind of ['sqlite', 'pgsql'] as const) {
  describe(`import:nextcloud: group shares with per-user rows, permissions mapped, Coffer on ${kind}`, { timeout: 600_000 }, () => {
    let nc: Unpacked;
    let coffer: Coffer;
    let srv: Awaited<ReturnType<Coffer['serve']>>;
    let pgdb: { name: string; drop(): Promise<void> } | undefined;
    const pw = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)?.password ?? nc.manifest.admin.password;
    const group = () => nc.manifest.shares.find((s) => s.share_type === 1)!;

    before(async () => {
      nc = unpack('master-key');
      // what Nextcloud writes when carol (added to the group) renames the share, the admin removes it
      // from their own tree (a per-user row with permissions 0), and bob declines it (accepted 2)
      const db = new SQLite(join(nc.data, 'owncloud.db'));
      try {
        const g = group();
        const row = db.prepare('select * from oc_share where parent = ? and share_with = ?').get(g.id, 'bob') as Record<string, unknown>;
        assert.ok(row, 'the fixture has the per-user row of bob');
        const insert = (over: Record<string, unknown>) => {
          const r: Record<string, unknown> = { ...row, ...over };
          delete r.id;
          const cols = Object.keys(r);
          db.prepare(`insert into oc_share (${cols.join(', ')}) values (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => r[c] as never));
        };
        for (const uid of ['carol', nc.manifest.admin.uid]) db.prepare('insert into oc_group_user (gid, uid) values (?, ?)').run(g.recipient, uid);
        insert({ share_with: 'carol', file_target: '/Team Project' });
        insert({ share_with: nc.manifest.admin.uid, permissions: 0 });
        db.prepare('update oc_share set accepted = 2 where id = ?').run(row.id);
      } finally {
        db.close();
      }
      pgdb = kind === 'pgsql' ? await createPgDatabase() : undefined;
      coffer = await installCoffer(pgdb ? { pg: { name: pgdb.name } } : {});
      const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, new RegExp(`shares: ${nc.manifest.shares.length}\\n`));
      srv = await coffer.serve();
    });
    after(async () => {
      await srv?.stop();
      coffer?.cleanup();
      nc?.cleanup();
      await pgdb?.drop();
    });

    test('a member who renamed the group share finds it under that name, read-only as shared', async () => {
      const g = group();
      const p = await propfind(srv.url, 'carol', pw('carol'), 'Team Project');
      assert.equal(p.status, 207);
      assert.equal(p.fileid, String(g.fileid));
      assert.equal((await propfind(srv.url, 'carol', pw('carol'), g.path)).status, 404, 'not under the default name too');
      const inside = nc.manifest.files.find((f) => f.owner === g.owner && f.path.startsWith(`${g.path}/`))!;
      const rest = inside.path.slice(g.path.length + 1);
      const r = await fetch(davUrl(srv.url, 'carol', `Team Project/${rest}`), { headers: { authorization: basic('carol', pw('carol')) } });
      assert.equal(r.status, 200);
      assert.equal(createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex'), inside.sha256);
      // Nextcloud's permissions 1 (read): no writes through the share
      const put = await fetch(davUrl(srv.url, 'carol', 'Team Project/new.txt'), { method: 'PUT', headers: { authorization: basic('carol', pw('carol')) }, body: 'x' });
      assert.equal(put.status, 403);
      assert.equal((await fetch(davUrl(srv.url, g.owner, `${g.path}/new.txt`), { headers: { authorization: basic(g.owner, pw(g.owner)) } })).status, 404);
    });

    test('a member who removed it from their tree, or declined it, does not find it (bob keeps his own user share)', async () => {
      const g = group();
      assert.equal((await propfind(srv.url, nc.manifest.admin.uid, pw(nc.manifest.admin.uid), g.path)).status, 404);
      const root = await fetch(davUrl(srv.url, nc.manifest.admin.uid, ''), { method: 'PROPFIND', headers: { authorization: basic(nc.manifest.admin.uid, pw(nc.manifest.admin.uid)), depth: '1' } });
      assert.doesNotMatch(await root.text(), new RegExp(`/${g.path}/?<`));
      // bob declined the group share; the user share of the same folder still shows it, with its permissions
      const bob = await propfind(srv.url, 'bob', pw('bob'), g.path);
      assert.equal(bob.status, 207);
      assert.match(bob.permissions ?? '', /W|C/, 'read-write through the user share (31)');
      const m = await srv.app.db.selectFrom('share_mounts as m').innerJoin('shares as s', 's.id', 'm.share_id')
        .select(['m.uid', 'm.hidden', 'm.file_target']).where('s.share_type', '=', 1).orderBy('m.uid').execute();
      assert.deepEqual(m.map((x) => `${x.uid} ${Number(x.hidden)} ${x.file_target}`), [`${nc.manifest.admin.uid} 1 ${g.path}`, `bob 1 ${g.path}`, 'carol 0 Team Project']);
    });

    test('permissions: user and group shares as in Nextcloud, links without the share bit Nextcloud adds', async () => {
      const owner = group().owner;
      const r = await fetch(`${srv.url}/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json`, { headers: { authorization: basic(owner, pw(owner)), 'OCS-APIREQUEST': 'true' } });
      assert.equal(r.status, 200);
      const got = ((await r.json()) as { ocs: { data: OcsShare[] } }).ocs.data;
      assert.equal(got.length, nc.manifest.shares.length);
      for (const s of nc.manifest.shares) {
        const c = got.find((x) => x.share_type === s.share_type && (s.token ? x.token === s.token : x.share_with === s.recipient))!;
        assert.ok(c, `share ${s.id}`);
        assert.equal(c.permissions, s.share_type === 3 ? s.permissions & ~16 : s.permissions, `share ${s.id} (${s.permissions} in Nextcloud)`);
      }
      // a link's imported permissions are a set Coffer's rules accept: the owner can edit the link
      const link = got.find((x) => x.share_type === 3 && nc.manifest.shares.find((s) => s.token === x.token)?.item_type === 'folder')!;
      const up = await fetch(`${srv.url}/ocs/v2.php/apps/files_sharing/api/v1/shares/${link.id}?format=json`, {
        method: 'PUT', headers: { authorization: basic(owner, pw(owner)), 'OCS-APIREQUEST': 'true', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ label: 'imported link' }).toString(),
      });
      assert.equal(up.status, 200, await up.text());
    });
  });
}
