/**
 * Versions and trash of a user without recovery (issue #16): bob of the per-user-keys fixture gets
 * Nextcloud-format old versions of one of his files and a trashed file (nc-user-history.ts). The
 * import keeps them in Nextcloud's form like his files: listed (DAV versions and trashbin) before
 * his first login, a read says why it fails; after it they read back on the fly, and a version made
 * by overwriting a still-pending file reads back too; the background conversion then turns every
 * one of them into Coffer's format (status counts them until then).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, davUrl, propfind, type Coffer, type Unpacked } from './nc-fixture.ts';
import type { LoadedMariaDb } from './nc-mariadb.ts';
import { closeUserKeysSource, openUserKeysSource } from './nc-user-keys-source.ts';
import { addUserHistory, type UserHistory } from './nc-user-history.ts';
import type { Db } from '../../src/db/database.ts';

const FORMAT_ID = 'cfe1';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('import:nextcloud per-user keys: versions and trash of a user without recovery', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let maria: LoadedMariaDb;
  let coffer: Coffer;
  let hist: UserHistory;
  const bob = () => nc.manifest.users.find((u) => u.uid === 'bob')!;
  const live = () => nc.manifest.files.find((f) => f.owner === 'bob' && f.path === hist.file.path)!;
  const versionsHref = () => `/remote.php/dav/versions/bob/versions/${hist.file.fileid}`;
  const trashHref = () => `/remote.php/dav/trashbin/bob/trash/${encodeURIComponent(`${hist.trash.name}.d${hist.trash.deletedAt}`)}`;
  const get = async (url: string, path: string, password: string) => {
    const r = await fetch(`${url}${path}`, { headers: { authorization: basic('bob', password) } });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  };
  const listing = async (url: string, path: string, password: string) => {
    const r = await fetch(`${url}${path}`, { method: 'PROPFIND', headers: { authorization: basic('bob', password), depth: '1' } });
    assert.equal(r.status, 207, path);
    return [...(await r.text()).matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => decodeURIComponent(m[1]!).replace(/\/$/, ''));
  };
  const status = async () => {
    const r = await coffer.occ(['import:nextcloud:status', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { users: { uid: string; pendingFiles: number; pendingBytes: number; failedFiles: number }[] }).users.find((u) => u.uid === 'bob');
  };
  const codecs = async (db: Db) => ({
    versions: (await db.selectFrom('file_versions').select(['version', 'blob_id', 'blob_codec']).where('owner', '=', 'bob').orderBy('version').execute()),
    trash: (await db.selectFrom('trash_nodes').select(['fileid', 'blob_id', 'blob_codec']).where('owner', '=', 'bob').execute()),
  });

  before(async () => {
    ({ nc, maria, coffer } = await openUserKeysSource());
    hist = await addUserHistory(nc, maria, 'bob', 'Reports/q1 report.txt');
  });
  after(() => closeUserKeysSource({ nc, maria, coffer }));

  test('import keeps bob\'s versions and trashed file in Nextcloud\'s form (a dry run says it will); status counts them', async () => {
    const dry = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', maria.url,
      '--dry-run', '--recovery-password-from-env', '--output', 'json'], { OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
    assert.equal(dry.code, 0, dry.stderr);
    const dryRep = JSON.parse(dry.stdout) as { skipped: unknown[]; history: { kept: number } };
    assert.deepEqual(dryRep.skipped, []);
    assert.equal(dryRep.history.kept, hist.versions.length + 2);
    const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', maria.url,
      '--recovery-password-from-env', '--output', 'json'], { OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { skipped: unknown[]; history: { versions: number; trash: number; kept: number } };
    assert.deepEqual(rep.skipped, []);
    assert.equal(rep.history.kept, hist.versions.length + 2, 'bob\'s two versions, his trashed file and its version kept');
    rmSync(nc.data, { recursive: true, force: true }); // nothing may depend on the Nextcloud side from here on
    const bobFiles = nc.manifest.files.filter((f) => f.owner === 'bob');
    assert.deepEqual(await status(), {
      uid: 'bob', keys: 'waiting-for-login', pendingFiles: bobFiles.length + hist.versions.length + 2,
      pendingBytes: bobFiles.reduce((n, f) => n + f.size, 0) + hist.versions.reduce((n, v) => n + v.size, 0) + hist.trash.size + hist.trash.version.size, failedFiles: 0,
    });
  });

  test('before bob\'s first login: listed over DAV, a read is the clear 403', async () => {
    const srv = await coffer.serve();
    try {
      const c = await codecs(srv.app.db);
      const versionRows = await srv.app.db.selectFrom('file_versions').select(['fileid', 'version', 'blob_codec']).where('owner', '=', 'bob').orderBy('version').execute();
      assert.deepEqual(versionRows.map((v) => [Number(v.fileid), Number(v.version), v.blob_codec]).sort(),
        [...hist.versions.map((v) => [hist.file.fileid, v.ts, 'nc-pending']), [hist.trash.fileid, hist.trash.version.ts, 'nc-pending']].sort());
      assert.deepEqual(c.trash.map((t) => [Number(t.fileid), t.blob_codec]), [[hist.trash.fileid, 'nc-pending']]);
      for (const id of [...c.versions, ...c.trash].map((x) => x.blob_id!)) {
        assert.equal(readFileSync(findBlob(join(coffer.dir, 'data', 'blobs'), id)!).subarray(0, 6).toString('latin1'), 'HBEGIN', 'Nextcloud\'s form at rest');
      }
      // a client on an app password made in Coffer: it never saw the password, so this is no first login
      const { token } = await srv.app.appPasswords.create('bob', 'a sync client');
      const versions = await listing(srv.url, versionsHref(), token);
      for (const v of hist.versions) assert.ok(versions.includes(`${versionsHref()}/${v.ts}`), `version ${v.ts} listed`);
      assert.ok((await listing(srv.url, '/remote.php/dav/trashbin/bob/trash', token)).includes(decodeURIComponent(trashHref())), 'trashed file listed');
      for (const path of [`${versionsHref()}/${hist.versions[0]!.ts}`, trashHref()]) {
        const g = await get(srv.url, path, token);
        assert.equal(g.status, 403, path);
        assert.match(g.body.toString(), /imported from Nextcloud and awaits conversion to Coffer(&apos;|')s format: it becomes readable when bob logs in with their password/);
      }
    } finally {
      await srv.stop();
    }
  });

  test('after his first login they read back on the fly; so does the version an overwrite makes of a still-pending file', async () => {
    const srv = await coffer.serve();
    try {
      await srv.app.ncPending.converter.stop(); // reads go through Nextcloud's format
      const pw = bob().password;
      assert.equal((await propfind(srv.url, 'bob', pw, '')).status, 207);
      for (const v of hist.versions) {
        const g = await get(srv.url, `${versionsHref()}/${v.ts}`, pw);
        assert.equal(g.status, 200, `version ${v.ts}`);
        assert.equal(sha(g.body), v.sha256, `version ${v.ts}`);
      }
      const t = await get(srv.url, trashHref(), pw);
      assert.equal(t.status, 200);
      assert.equal(sha(t.body), hist.trash.sha256);
      // overwrite the pending file: its Nextcloud blob becomes a version, still pending, still readable
      const put = await fetch(davUrl(srv.url, 'bob', hist.file.path), { method: 'PUT', headers: { authorization: basic('bob', pw) }, body: 'new content of q1' });
      assert.ok(put.status === 204 || put.status === 201, String(put.status));
      const rows = (await codecs(srv.app.db)).versions;
      assert.equal(rows.length, hist.versions.length + 2);
      const made = rows.find((v) => ![...hist.versions, hist.trash.version].some((h) => h.ts === Number(v.version)))!;
      assert.equal(made.blob_codec, 'nc-pending');
      const g = await get(srv.url, `${versionsHref()}/${Number(made.version)}`, pw);
      assert.equal(g.status, 200);
      assert.equal(sha(g.body), live().sha256, 'the overwritten content reads back as a version');
      // delete another pending file: its Nextcloud blob goes to the trash, still pending, still readable there
      const gone = nc.manifest.files.find((f) => f.owner === 'bob' && f.path === 'Sizes/block-8096.bin')!;
      assert.equal((await fetch(davUrl(srv.url, 'bob', gone.path), { method: 'DELETE', headers: { authorization: basic('bob', pw) } })).status, 204);
      const item = await srv.app.db.selectFrom('trash_items').select(['name', 'deleted_at']).where('owner', '=', 'bob').where('fileid', '=', gone.fileid).executeTakeFirstOrThrow();
      const node = (await codecs(srv.app.db)).trash.find((x) => Number(x.fileid) === gone.fileid)!;
      assert.equal(node.blob_codec, 'nc-pending');
      const tg = await get(srv.url, `/remote.php/dav/trashbin/bob/trash/${encodeURIComponent(`${item.name}.d${Number(item.deleted_at)}`)}`, pw);
      assert.equal(tg.status, 200);
      assert.equal(sha(tg.body), gone.sha256, 'a pending file deleted before its conversion reads back from the trash');
      // a pending version deleted before its conversion
      const del = await fetch(`${srv.url}${versionsHref()}/${hist.versions[0]!.ts}`, { method: 'DELETE', headers: { authorization: basic('bob', pw) } });
      assert.equal(del.status, 204);
    } finally {
      await srv.stop();
    }
    // nothing converted yet; the version deleted above is no longer counted
    assert.equal((await status())?.pendingFiles, nc.manifest.files.filter((f) => f.owner === 'bob').length + hist.versions.length + 2 - 1);
  });

  test('his next login converts versions and trash too: Coffer\'s format at rest, same content, nothing pending', async () => {
    const srv = await coffer.serve();
    try {
      const pw = bob().password;
      const before_ = await codecs(srv.app.db);
      assert.equal((await propfind(srv.url, 'bob', pw, '')).status, 207);
      await srv.app.ncPending.converter.idle('bob');
      const now = await codecs(srv.app.db);
      assert.deepEqual([...now.versions, ...now.trash].map((x) => x.blob_codec), [...now.versions, ...now.trash].map(() => FORMAT_ID));
      for (const x of [...now.versions, ...now.trash]) {
        assert.notEqual(readFileSync(findBlob(join(coffer.dir, 'data', 'blobs'), x.blob_id!)!).subarray(0, 6).toString('latin1'), 'HBEGIN');
      }
      for (const x of [...before_.versions, ...before_.trash]) assert.equal(findBlob(join(coffer.dir, 'data', 'blobs'), x.blob_id!), undefined, 'Nextcloud\'s copy deleted');
      assert.ok(!now.versions.some((v) => Number(v.version) === hist.versions[0]!.ts), 'the deleted version stays deleted');
      assert.equal(await srv.app.db.selectFrom('import_pending_blobs').select('blob_id').where('owner', '=', 'bob').executeTakeFirst(), undefined, 'no pending row left');
      assert.ok(!existsSync(join(coffer.dir, 'data', 'bob', 'files_encryption', 'OC_DEFAULT_MODULE', 'nextcloudPrivate.sealed')), 'Nextcloud key dropped');
      const expected = new Map<number, string>(hist.versions.map((v) => [v.ts, v.sha256]));
      for (const v of now.versions.filter((x) => Number(x.version) !== hist.trash.version.ts)) {
        const g = await get(srv.url, `${versionsHref()}/${Number(v.version)}`, pw);
        assert.equal(g.status, 200);
        assert.equal(sha(g.body), expected.get(Number(v.version)) ?? live().sha256, `version ${v.version}`);
      }
      const t = await get(srv.url, trashHref(), pw);
      assert.equal(sha(t.body), hist.trash.sha256);
      const gone = nc.manifest.files.find((f) => f.owner === 'bob' && f.path === 'Sizes/block-8096.bin')!;
      assert.ok(now.trash.some((x) => Number(x.fileid) === gone.fileid), 'the file deleted before its conversion converted in the trash');
      const item = await srv.app.db.selectFrom('trash_items').select(['name', 'deleted_at']).where('owner', '=', 'bob').where('fileid', '=', gone.fileid).executeTakeFirstOrThrow();
      const tg = await get(srv.url, `/remote.php/dav/trashbin/bob/trash/${encodeURIComponent(`${item.name}.d${Number(item.deleted_at)}`)}`, pw);
      assert.equal(sha(tg.body), gone.sha256);
      // and the trashed file restores to where it was deleted from
      const mv = await fetch(`${srv.url}${trashHref()}`, {
        method: 'MOVE', headers: { authorization: basic('bob', pw), destination: `${srv.url}/remote.php/dav/trashbin/bob/restore/${encodeURIComponent(`${hist.trash.name}.d${hist.trash.deletedAt}`)}` },
      });
      assert.equal(mv.status, 201);
      const back = await get(srv.url, `/remote.php/dav/files/bob/Reports/${encodeURIComponent(hist.trash.name)}`, pw);
      assert.equal(sha(back.body), hist.trash.sha256);
      // with the version it had in the trash, converted there
      const tv = await get(srv.url, `/remote.php/dav/versions/bob/versions/${hist.trash.fileid}/${hist.trash.version.ts}`, pw);
      assert.equal(tv.status, 200);
      assert.equal(sha(tv.body), hist.trash.version.sha256);
    } finally {
      await srv.stop();
    }
    assert.equal(await status(), undefined, 'nothing pending for bob');
  });
});

/** The file of blob `id` below the local blob store's root (layout independent). */
function findBlob(dir: string, id: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { const f = findBlob(p, id); if (f) return f; } else if (e.name.startsWith(id)) return p;
  }
  return undefined;
}
