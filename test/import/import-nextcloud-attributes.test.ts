/**
 * `./occ import:nextcloud -n` on a copy of the master-key fixture whose database was given what the
 * fixture lacks: an email, quotas ("1 GB", "none", one that is no size, and the instance's `files/default_quota` for users
 * without their own), a disabled user, a second admin, an empty group, a file and a folder with
 * restrictive permissions (1 and 17), a stored checksum. Read back through `./occ user:info`,
 * `group:list` and PROPFIND: the user attributes, the admins and groups as in Nextcloud, a disabled
 * user refused at login, mtimes and checksums as oc_filecache has them, Coffer's own permissions and
 * the report naming the nodes whose Nextcloud permissions were not carried over; the progress lines
 * (non-TTY form: files, MiB, MiB/s) and the final report.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { basic, davUrl, installCoffer, propfind, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';

const GiB = 1024 ** 3;
const CHECKSUMMED = 'Old/plain-before.txt'; // stored in plain by Nextcloud: its bytes on disk are the plaintext
const READ_ONLY_FILE = 'Docs/contract.pdf';
const READ_SHARE_FOLDER = 'Public';

describe('import:nextcloud, user attributes, permissions, mtimes, checksums, progress (master-key copy)', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let coffer: Coffer;
  let srv: Awaited<ReturnType<Coffer['serve']>>;
  let run: { code: number | null; stdout: string; stderr: string };
  let checksum = '';
  const pw = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)?.password ?? nc.manifest.admin.password;
  const args = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data];
  const info = async (uid: string) => {
    const r = await coffer.occ(['user:info', uid, '--output=json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { display_name: string; email: string | null; quota: number | string; enabled: boolean; groups: string[] };
  };

  before(async () => {
    nc = unpack('master-key');
    const plain = readFileSync(join(nc.data, 'alice', 'files', CHECKSUMMED));
    checksum = `SHA1:${createHash('sha1').update(plain).digest('hex')} MD5:${createHash('md5').update(plain).digest('hex')}`;
    const db = new SQLite(join(nc.data, 'owncloud.db'));
    try {
      const pref = db.prepare('insert into oc_preferences (userid, appid, configkey, configvalue) values (?, ?, ?, ?)');
      pref.run('alice', 'settings', 'email', 'alice@example.org');
      pref.run('alice', 'files', 'quota', '1 GB');
      pref.run('bob', 'files', 'quota', 'none');
      pref.run('carol', 'core', 'enabled', 'false');
      pref.run('carol', 'files', 'quota', 'plenty'); // no size: imported without a limit, and reported
      db.prepare("insert into oc_appconfig (appid, configkey, configvalue) values ('files', 'default_quota', '2 GB')").run();
      db.prepare("update oc_users set displayname = 'Carol Ç. Nyström' where uid = 'carol'").run();
      db.prepare("insert into oc_group_user (gid, uid) values ('admin', 'bob')").run();
      db.prepare("insert into oc_groups (gid, displayname) values ('empty', 'Nobody Yet')").run();
      const alice = (db.prepare("select numeric_id from oc_storages where id = 'home::alice'").get() as { numeric_id: number }).numeric_id;
      const set = (col: string, v: unknown, path: string) => {
        assert.equal(db.prepare(`update oc_filecache set ${col} = ? where storage = ? and path = ?`).run(v, alice, `files/${path}`).changes, 1, path);
      };
      set('permissions', 1, READ_ONLY_FILE);
      set('permissions', 17, READ_SHARE_FOLDER);
      set('checksum', checksum, CHECKSUMMED);
    } finally {
      db.close();
    }
    coffer = await installCoffer();
  });
  after(async () => {
    await srv?.stop();
    coffer?.cleanup();
    nc?.cleanup();
  });

  test('the dry run lists the nodes whose permissions are not carried over', async () => {
    const r = await coffer.occ([...args(), '--dry-run', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { permissionsChanged: { what: string; nextcloud: number; coffer: number }[]; quotasNotUnderstood: { uid: string; quota: string }[] };
    assert.deepEqual(rep.quotasNotUnderstood, [{ uid: 'carol', quota: 'plenty' }]);
    assert.deepEqual(rep.permissionsChanged, [
      { what: `alice/files/${READ_SHARE_FOLDER}`, nextcloud: 17, coffer: 31 },
      { what: `alice/files/${READ_ONLY_FILE}`, nextcloud: 1, coffer: 27 },
    ]);
  });

  test('the import (-n, output not a terminal) prints progress lines with files, MiB and MiB/s, and the final report', async () => {
    run = await coffer.occ([...args(), '-n']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const total = nc.manifest.files.length;
    const mib = (nc.manifest.files.reduce((a, f) => a + f.size, 0) / 1024 / 1024).toFixed(1);
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('import:nextcloud: '));
    assert.ok(lines.length >= 1, run.stderr);
    for (const l of lines) assert.match(l, /^import:nextcloud: \d+\/\d+ files \(\d+%\), \d+\.\d MiB, \d+\.\d MiB\/s$/);
    assert.equal(lines.at(-1)!.replace(/, [\d.]+ MiB\/s$/, ''), `import:nextcloud: ${total}/${total} files (100%), ${mib} MiB`);
    for (const want of ['Imported:', 'users: 4', 'groups: 2', 'app passwords: 1', `files: ${total} (${mib} MiB)`, 'shares: 4',
      'Nextcloud encryption: master-key', 'versions: 4, trash items: 2 (3 files)',
      `permissions not carried over (Nextcloud gave their owner fewer rights than Coffer does): 2: alice/files/${READ_SHARE_FOLDER} (17 → 31), alice/files/${READ_ONLY_FILE} (1 → 27)`,
      'quotas not understood, imported without a limit: carol ("plenty")']) {
      assert.ok(run.stdout.includes(want), `${want}\n${run.stdout}`);
    }
    srv = await coffer.serve();
  });

  test('user:info: display names, email, quotas ("1 GB", "none", the default quota, one that is no size), enabled state, admins and groups', async () => {
    assert.equal(run.code, 0);
    const alice = await info('alice');
    assert.equal(alice.display_name, 'Alice Andersson');
    assert.equal(alice.email, 'alice@example.org');
    assert.equal(alice.quota, GiB);
    assert.equal(alice.enabled, true);
    assert.deepEqual(alice.groups, ['team']);
    const bob = await info('bob');
    assert.equal(bob.quota, 'none');
    assert.deepEqual(bob.groups, ['admin', 'team']);
    const carol = await info('carol');
    assert.equal(carol.display_name, 'Carol Ç. Nyström');
    assert.equal(carol.email, null);
    assert.equal(carol.quota, 'none', 'a quota that is no size: no limit (reported by the import)');
    assert.equal(carol.enabled, false);
    assert.deepEqual(carol.groups, []);
    const admin = await info('admin');
    assert.equal(admin.display_name, 'admin');
    assert.deepEqual(admin.groups, ['admin']);
    assert.equal(admin.quota, 2 * GiB);
  });

  test('group:list: the groups and members Nextcloud had (admins are Coffer admins, above)', async () => {
    const r = await coffer.occ(['group:list', '--info', '--output=json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      empty: { displayName: 'Nobody Yet', users: [] },
      team: { displayName: 'team', users: ['alice', 'bob'] },
    });
    // bob, an admin now, can use the admin API; alice cannot
    const ocs = (uid: string) => fetch(`${srv.url}/ocs/v2.php/cloud/users?format=json`, { headers: { authorization: basic(uid, pw(uid)), 'ocs-apirequest': 'true' } });
    assert.equal((await ocs('bob')).status, 200);
    assert.equal((await ocs('alice')).status, 403);
    // the provisioning API shows the same groups
    const u = await fetch(`${srv.url}/ocs/v2.php/cloud/users/alice?format=json`, { headers: { authorization: basic('bob', pw('bob')), 'ocs-apirequest': 'true' } });
    const data = (await u.json() as { ocs: { data: { groups: string[]; email: string; quota: { quota: number } } } }).ocs.data;
    assert.deepEqual(data.groups, ['team']);
    assert.equal(data.email, 'alice@example.org');
    assert.equal(data.quota.quota, GiB);
  });

  test('the disabled user cannot log in with the right password; the others can', async () => {
    const login = (uid: string) => fetch(davUrl(srv.url, uid, ''), { method: 'PROPFIND', headers: { authorization: basic(uid, pw(uid)), depth: '0' } });
    assert.equal((await login('carol')).status, 401);
    assert.equal((await login('alice')).status, 207);
    assert.equal((await login('bob')).status, 207);
  });

  test('PROPFIND: getlastmodified is oc_filecache.mtime for every file and folder; a stored checksum is served as it was', async () => {
    const db = new SQLite(join(nc.data, 'owncloud.db'), { readonly: true });
    const rows = db.prepare(`SELECT c.path, c.mtime, c.checksum, s.id AS storage FROM oc_filecache c JOIN oc_storages s ON s.numeric_id = c.storage
      WHERE s.id IN ('home::alice', 'home::bob') AND (c.path = 'files' OR c.path LIKE 'files/%')`).all() as { path: string; mtime: number; checksum: string | null; storage: string }[];
    db.close();
    assert.ok(rows.length > 40);
    for (const r of rows) {
      const uid = r.storage.slice('home::'.length);
      const path = r.path === 'files' ? '' : r.path.slice('files/'.length);
      const p = await propfind(srv.url, uid, pw(uid), path);
      assert.equal(p.status, 207, `${uid}/${path}`);
      assert.equal(p.lastModified, new Date(r.mtime * 1000).toUTCString(), `${uid}/${path}`);
      assert.equal(p.checksum ?? '', r.checksum ?? '', `${uid}/${path}`);
    }
    const p = await propfind(srv.url, 'alice', pw('alice'), CHECKSUMMED);
    assert.equal(p.checksum, checksum);
    // …and it is the content's: the file downloads with that SHA-1
    const g = await fetch(davUrl(srv.url, 'alice', CHECKSUMMED), { headers: { authorization: basic('alice', pw('alice')) } });
    assert.equal(`SHA1:${createHash('sha1').update(Buffer.from(await g.arrayBuffer())).digest('hex')}`, checksum.split(' ')[0]);
  });

  test("oc:permissions are Coffer's own for a node Nextcloud had restricted (named in the report above)", async () => {
    assert.equal((await propfind(srv.url, 'alice', pw('alice'), READ_ONLY_FILE)).permissions, 'RGDNVW');
    assert.equal((await propfind(srv.url, 'alice', pw('alice'), READ_SHARE_FOLDER)).permissions, 'RGDNVCK');
    // and they are what Coffer allows: alice writes into both
    const put = await fetch(davUrl(srv.url, 'alice', `${READ_SHARE_FOLDER}/new.txt`), { method: 'PUT', headers: { authorization: basic('alice', pw('alice')) }, body: 'x' });
    assert.equal(put.status, 201);
  });
});
