/**
 * Nextcloud on PostgreSQL: the master-key fixture's tables copied from its SQLite file into a fresh
 * PostgreSQL database under another table prefix (`ncx_`), with the column types Nextcloud's schema
 * has on PostgreSQL (bigint, integer, smallint, boolean, varchar, text, json, timestamp: what
 * Doctrine makes of the types the SQLite file declares, as in the MariaDB fixture's dump), so the
 * `pg` driver hands values over as it does for a real instance (bigint as strings, timestamps,
 * JSON). The copy gets what the fixture lacks: a password link with an expiry date, a label and a
 * note, a user share with a note and an expiry, and a reshare (by the recipient of another share),
 * written as Nextcloud writes them (expiry: the midnight that starts the day in the timezone of
 * who set it, stored in UTC). The dry run reads the connection from config.php; the import is told
 * it with --database-url while config.php names a database that does not exist.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { createPgDatabase } from '../support/test-instance.ts';
import { basic, davUrl, installCoffer, propfind, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';

const TABLES = ['users', 'groups', 'group_user', 'preferences', 'appconfig', 'authtoken', 'storages', 'mounts', 'filecache', 'mimetypes', 'share', 'files_versions', 'files_trash'];

/** PostgreSQL's type for a column as SQLite declares it in Nextcloud's schema (Doctrine's mapping). */
function pgType(declared: string, json: boolean, pk: boolean): string {
  const t = declared.toUpperCase();
  if (json) return 'json';
  if (pk && t === 'INTEGER') return 'bigint'; // the autoincrement ids: bigint(20) in the MariaDB dump
  if (/^BIGINT/.test(t)) return 'bigint';
  if (/^INTEGER/.test(t)) return 'integer';
  if (/^SMALLINT/.test(t)) return 'smallint';
  if (t === 'BOOLEAN') return 'boolean';
  if (t === 'DATETIME') return 'timestamp(0) without time zone';
  if (/^VARCHAR\(\d+\)$/.test(t)) return t.toLowerCase();
  if (t === 'CLOB') return 'text';
  if (t === 'BLOB') return 'bytea';
  throw new Error(`no PostgreSQL type for ${declared}`);
}

/** Copies Nextcloud's tables from SQLite into PostgreSQL (as `ncx_*`), with Nextcloud's PostgreSQL column types. */
async function copyToPostgres(sqliteFile: string, c: pg.Client): Promise<void> {
  const src = new SQLite(sqliteFile, { readonly: true });
  try {
    for (const t of TABLES) {
      const cols = src.prepare(`pragma table_info(oc_${t})`).all() as { name: string; type: string; notnull: number; dflt_value: string | null; pk: number }[];
      const ddl = (src.prepare("select sql from sqlite_master where type = 'table' and name = ?").get(`oc_${t}`) as { sql: string }).sql;
      // Doctrine marks JSON columns with a comment: `metadata CLOB NOT NULL --(DC2Type:json)`
      const json = new Set([...ddl.matchAll(/(\w+) CLOB[^,]*?--\(DC2Type:json\)/g)].map((m) => m[1]!));
      const q = (n: string) => `"${n}"`;
      const defs = cols.map((col) => {
        const type = pgType(col.type, json.has(col.name), col.pk > 0);
        let dflt = col.dflt_value;
        if (dflt !== null && type === 'boolean') dflt = dflt === '1' ? 'true' : 'false';
        return `${q(col.name)} ${type}${col.notnull ? ' not null' : ''}${dflt !== null && dflt !== 'NULL' ? ` default ${dflt}` : ''}`;
      });
      const pks = cols.filter((col) => col.pk > 0).sort((a, b) => a.pk - b.pk).map((col) => q(col.name));
      await c.query(`create table ncx_${t} (${defs.join(', ')}${pks.length ? `, primary key (${pks.join(', ')})` : ''})`);
      for (const row of src.prepare(`select * from oc_${t}`).all() as Record<string, unknown>[]) {
        await c.query(`insert into ncx_${t} (${cols.map((col) => q(col.name)).join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
          cols.map((col) => { const v = row[col.name]; return typeof v === 'bigint' ? v.toString() : v; }));
      }
    }
  } finally {
    src.close();
  }
}

/** What the copy gets on top of the fixture's shares. */
const ADDED = {
  /** alice (in Berlin) links "Meeting Notes" until 2030-06-15, with the fixture's link password. */
  link: { id: 7, token: 'PgExpiryLink7aB', label: 'For the auditors', note: 'Read the notes from Monday first', expiration: '2030-06-14 22:00:00', day: '2030-06-15' },
  /** alice shares a file with carol until 2030-01-20 (winter: UTC+1), with a note. */
  user: { id: 8, path: 'Übersicht ä.txt', permissions: 19, note: 'Please review by Friday', expiration: '2030-01-19 23:00:00', day: '2030-01-20' },
  /** bob reshares "Project" (received from alice, permissions 31) with carol, read-only, until 2030-03-03 (bob: no timezone, UTC). */
  reshare: { id: 9, permissions: 1, expiration: '2030-03-03 00:00:00', day: '2030-03-03' },
};

interface OcsShare { id: string; share_type: number; uid_owner: string; uid_file_owner: string; share_with: string | null; token: string | null; permissions: number; expiration: string | null; note: string; label: string; path: string; item_source: number }

describe('import:nextcloud from PostgreSQL (Nextcloud\'s column types; config.php, then --database-url)', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let db: { name: string; drop(): Promise<void> };
  let coffer: Coffer;
  let srv: Awaited<ReturnType<Coffer['serve']>> | undefined;
  let linkPassword = '';
  let fileIds: { meetingNotes: number; userFile: number; project: number };
  const pw = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)!.password;
  const url = () => `postgres://postgres@127.0.0.1:5432/${db.name}`;
  const base = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data];

  before(async () => {
    nc = unpack('master-key');
    db = await createPgDatabase();
    const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: db.name });
    await c.connect();
    try {
      await copyToPostgres(join(nc.data, 'owncloud.db'), c);
      const id = async (uid: string, path: string) => Number((await c.query(
        "select f.fileid from ncx_filecache f join ncx_storages s on s.numeric_id = f.storage where s.id = $1 and f.path = $2", [`home::${uid}`, `files/${path}`])).rows[0].fileid);
      fileIds = { meetingNotes: await id('alice', 'Meeting Notes'), userFile: await id('alice', ADDED.user.path), project: await id('alice', 'Project') };
      const pwLink = nc.manifest.shares.find((s) => s.share_type === 3 && s.password)!;
      linkPassword = pwLink.password!;
      const userShare = nc.manifest.shares.find((s) => s.share_type === 0 && s.recipient === 'bob')!;
      assert.equal(userShare.fileid, fileIds.project, 'bob received Project from alice');
      await c.query("insert into ncx_preferences (userid, appid, configkey, configvalue) values ('alice', 'core', 'timezone', 'Europe/Berlin')");
      const cols = 'id, share_type, share_with, password, uid_owner, uid_initiator, parent, item_type, item_source, file_source, file_target, permissions, stime, accepted, expiration, token, mail_send, password_by_talk, note, hide_download, label';
      const add = (v: unknown[]) => c.query(`insert into ncx_share (${cols}) values (${v.map((_, i) => `$${i + 1}`).join(', ')})`, v);
      const { link, user, reshare } = ADDED;
      await add([link.id, 3, null, (await c.query('select password from ncx_share where id = $1', [pwLink.id])).rows[0].password, 'alice', 'alice', null,
        'folder', String(fileIds.meetingNotes), fileIds.meetingNotes, '/Meeting Notes', 17, 1796625100, 0, link.expiration, link.token, 0, false, link.note, 0, link.label]);
      await add([user.id, 0, 'carol', null, 'alice', 'alice', null, 'file', String(fileIds.userFile), fileIds.userFile, `/${user.path}`, user.permissions, 1796625101, 1, user.expiration, null, 0, false, user.note, 0, null]);
      await add([reshare.id, 0, 'carol', null, 'alice', 'bob', null, 'folder', String(fileIds.project), fileIds.project, '/Project', reshare.permissions, 1796625102, 1, reshare.expiration, null, 0, false, null, 0, null]);
      // the driver hands these columns over as a real instance's: a bigint as a string, a timestamp as the database holds it
      const t = await c.query("select pg_typeof(expiration)::text as t, pg_typeof(file_source)::text as f from ncx_share where id = $1", [link.id]);
      assert.deepEqual(t.rows[0], { t: 'timestamp without time zone', f: 'bigint' });
    } finally {
      await c.end();
    }
    const php = readFileSync(nc.configPhp, 'utf8')
      .replace("'dbtype' => 'sqlite3',", `'dbtype' => 'pgsql', 'dbhost' => '127.0.0.1:5432', 'dbname' => '${db.name}', 'dbuser' => 'postgres', 'dbpassword' => '', 'dbtableprefix' => 'ncx_',`);
    assert.notEqual(php, readFileSync(nc.configPhp, 'utf8'));
    writeFileSync(nc.configPhp, php);
    coffer = await installCoffer();
  });
  after(async () => {
    await srv?.stop();
    coffer?.cleanup();
    await db?.drop();
    nc?.cleanup();
  });

  test('dry run (connection from config.php) reads every file, version and trash item with the manifest sha256', async () => {
    const r = await coffer.occ([...base(), '--dry-run', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { users: number; groups: number; appPasswords: number; shares: number; checked: { owner: string; path: string; sha256: string }[]; history: { versions: number; trash: number } };
    assert.equal(rep.users, nc.manifest.users.length + 1);
    assert.equal(rep.groups, 1);
    assert.equal(rep.appPasswords, 1);
    assert.equal(rep.shares, nc.manifest.shares.length + 3);
    assert.deepEqual(rep.checked.map((c) => `${c.owner}/${c.path}/${c.sha256}`).sort(), nc.manifest.files.map((f) => `${f.owner}/${f.path}/${f.sha256}`).sort());
    assert.equal(rep.history.versions, 4); // 3 old versions + the version of a trashed file
    assert.equal(rep.history.trash, 3);
  });

  test('a bad --database-url: a clear error, exit 2, nothing imported', async () => {
    const cases: [string, RegExp][] = [
      [`postgres://postgres@127.0.0.1:5432/${db.name}_absent`, /cannot connect to Nextcloud's PostgreSQL database .*_absent/],
      ['postgres://postgres:secret-pw@127.0.0.1:1/x', /cannot connect to Nextcloud's PostgreSQL database x on 127\.0\.0\.1/],
      ['postgres://postgres@127.0.0.1:5432', /names no database/],
      ['mssql://sa@127.0.0.1/nextcloud', /unsupported kind of database/],
      [join(nc.root, 'no-such.db'), /cannot open Nextcloud's SQLite database .*no-such\.db/],
      [nc.configPhp, /cannot open Nextcloud's SQLite database .*config\.php: file is not a database/],
    ];
    for (const [bad, message] of cases) {
      const r = await coffer.occ([...base(), '--database-url', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}${r.stdout}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /secret-pw/, 'the password is not printed');
    }
    const list = await coffer.occ(['user:list', '--output', 'json']);
    assert.deepEqual(Object.keys(JSON.parse(list.stdout) as Record<string, unknown>), ['cofferadmin']);
  });

  test('the import works from PostgreSQL, told by --database-url (config.php names another database)', async () => {
    writeFileSync(nc.configPhp, readFileSync(nc.configPhp, 'utf8').replace(`'dbname' => '${db.name}'`, `'dbname' => '${db.name}_elsewhere'`));
    assert.equal((await coffer.occ([...base(), '--dry-run'])).code, 2, 'config.php alone leads nowhere now');
    const r = await coffer.occ([...base(), '--database-url', url()]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`shares: ${nc.manifest.shares.length + 3}\\n`));
    srv = await coffer.serve();
    for (const u of nc.manifest.users) {
      const f = nc.manifest.files.find((x) => x.owner === u.uid)!;
      const g: Response = await fetch(davUrl(srv.url, u.uid, f.path), { headers: { authorization: basic(u.uid, u.password) } });
      assert.equal(g.status, 200);
      assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256);
      assert.equal((await propfind(srv.url, u.uid, u.password, f.path)).etag, f.etag);
    }
  });

  const ocs = async (uid: string, query = ''): Promise<OcsShare[]> => {
    const r = await fetch(`${srv!.url}/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json${query}`, { headers: { authorization: basic(uid, pw(uid)), 'OCS-APIREQUEST': 'true' } });
    assert.equal(r.status, 200);
    return ((await r.json()) as { ocs: { data: OcsShare[] } }).ocs.data;
  };

  test('OCS shows expiry days, labels, notes, permissions, owner and initiator as Nextcloud had them', async () => {
    const { link, user, reshare } = ADDED;
    const mine = await ocs('alice');
    const l = mine.find((s) => s.token === link.token)!;
    assert.ok(l, 'the link');
    assert.deepEqual([l.share_type, l.uid_owner, l.uid_file_owner, l.item_source, l.permissions, l.expiration, l.label, l.note],
      [3, 'alice', 'alice', fileIds.meetingNotes, 1, `${link.day} 00:00:00`, link.label, link.note]); // 17 → 1: Coffer's links have no share bit
    const u = mine.find((s) => s.share_type === 0 && s.share_with === 'carol')!;
    assert.deepEqual([u.uid_owner, u.uid_file_owner, u.item_source, u.permissions, u.expiration, u.note], ['alice', 'alice', fileIds.userFile, user.permissions, `${user.day} 00:00:00`, user.note]);
    const untouched = mine.find((s) => s.share_type === 0 && s.share_with === 'bob')!;
    assert.deepEqual([untouched.expiration, untouched.note, untouched.label], [null, '', '']);
    // the reshare: bob's (initiator), of alice's folder
    const r = (await ocs('bob')).find((s) => s.share_with === 'carol')!;
    assert.ok(r, 'bob lists his reshare');
    assert.deepEqual([r.share_type, r.uid_owner, r.uid_file_owner, r.item_source, r.permissions, r.expiration], [0, 'bob', 'alice', fileIds.project, reshare.permissions, `${reshare.day} 00:00:00`]);
    const withCarol = await ocs('carol', '&shared_with_me=true');
    assert.deepEqual(withCarol.map((s) => `${s.uid_owner}/${s.uid_file_owner}/${s.item_source}/${s.expiration}`).sort(),
      [`alice/alice/${fileIds.userFile}/${user.day} 00:00:00`, `bob/alice/${fileIds.project}/${reshare.day} 00:00:00`].sort());
    // carol reads through both
    const inProject = nc.manifest.files.find((f) => f.owner === 'alice' && f.path.startsWith('Project/'))!;
    const g = await fetch(davUrl(srv!.url, 'carol', inProject.path), { headers: { authorization: basic('carol', pw('carol')) } });
    assert.equal(g.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), inProject.sha256);
    assert.equal((await propfind(srv!.url, 'carol', pw('carol'), user.path)).fileid, String(fileIds.userFile));
    const put = await fetch(davUrl(srv!.url, 'carol', 'Project/new.txt'), { method: 'PUT', headers: { authorization: basic('carol', pw('carol')) }, body: 'x' });
    assert.equal(put.status, 403, 'the reshare is read-only');
  });

  test('the link with an expiry still works: its page and public WebDAV with its password, a wrong one refused', async () => {
    const { link } = ADDED;
    const page = await fetch(`${srv!.url}/s/${link.token}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /name="password"/, 'asks for the password');
    const wrong = await fetch(`${srv!.url}/s/${link.token}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'password=wrong-password' });
    assert.equal(wrong.status, 403);
    const right = await fetch(`${srv!.url}/s/${link.token}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ password: linkPassword }).toString() });
    assert.equal(right.status, 303);
    const cookie = right.headers.get('set-cookie')!.split(';')[0]!;
    const shown = await fetch(`${srv!.url}/s/${link.token}`, { headers: { cookie } });
    assert.equal(shown.status, 200);
    const html = await shown.text();
    assert.ok(html.includes('notes from monday.txt'), 'lists the folder');
    assert.ok(html.includes(link.note), 'shows the note');

    const file = nc.manifest.files.find((f) => f.path === 'Meeting Notes/notes from monday.txt')!;
    const dav = `${srv!.url}/public.php/webdav/${encodeURIComponent('notes from monday.txt')}`;
    const g = await fetch(dav, { headers: { authorization: basic(link.token, linkPassword) } });
    assert.equal(g.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), file.sha256);
    const bad = await fetch(dav, { headers: { authorization: basic(link.token, 'wrong-password') } });
    assert.equal(bad.status, 401);
  });
});
