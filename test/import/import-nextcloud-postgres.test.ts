/**
 * Nextcloud on PostgreSQL: the master-key fixture's tables copied from its SQLite file into a fresh
 * PostgreSQL database under another table prefix (`ncx_`), config.php rewritten to dbtype pgsql, and
 * the connection taken from config.php (no --database-url).
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

/** Copies Nextcloud's tables (as `ncx_*`, integer columns as bigint, others as text) from SQLite into PostgreSQL. */
async function copyToPostgres(sqliteFile: string, dbName: string): Promise<void> {
  const src = new SQLite(sqliteFile, { readonly: true });
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: dbName });
  await c.connect();
  try {
    for (const t of TABLES) {
      const cols = src.prepare(`pragma table_info(oc_${t})`).all() as { name: string; type: string }[];
      const q = (n: string) => `"${n}"`;
      await c.query(`create table ncx_${t} (${cols.map((col) => `${q(col.name)} ${/INT/i.test(col.type) ? 'bigint' : 'text'}`).join(', ')})`);
      for (const row of src.prepare(`select * from oc_${t}`).all() as Record<string, unknown>[]) {
        await c.query(`insert into ncx_${t} (${cols.map((col) => q(col.name)).join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
          cols.map((col) => { const v = row[col.name]; return typeof v === 'bigint' ? v.toString() : v; }));
      }
    }
  } finally {
    await c.end();
    src.close();
  }
}

describe('import:nextcloud from PostgreSQL (table prefix from config.php)', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let db: { name: string; drop(): Promise<void> };
  let coffer: Coffer;

  before(async () => {
    nc = unpack('master-key');
    db = await createPgDatabase();
    await copyToPostgres(join(nc.data, 'owncloud.db'), db.name);
    const php = readFileSync(nc.configPhp, 'utf8')
      .replace("'dbtype' => 'sqlite3',", `'dbtype' => 'pgsql', 'dbhost' => '127.0.0.1:5432', 'dbname' => '${db.name}', 'dbuser' => 'postgres', 'dbpassword' => '', 'dbtableprefix' => 'ncx_',`);
    writeFileSync(nc.configPhp, php);
    coffer = await installCoffer();
  });
  after(async () => {
    coffer?.cleanup();
    await db?.drop();
    nc?.cleanup();
  });

  test('dry run reads every file, version and trash item with the manifest sha256', async () => {
    const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--dry-run', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { users: number; groups: number; appPasswords: number; shares: number; checked: { owner: string; path: string; sha256: string }[]; history: { versions: number; trash: number } };
    assert.equal(rep.users, nc.manifest.users.length + 1);
    assert.equal(rep.groups, 1);
    assert.equal(rep.appPasswords, 1);
    assert.equal(rep.shares, 4);
    assert.deepEqual(rep.checked.map((c) => `${c.owner}/${c.path}/${c.sha256}`).sort(), nc.manifest.files.map((f) => `${f.owner}/${f.path}/${f.sha256}`).sort());
    assert.equal(rep.history.versions, 4); // 3 old versions + the version of a trashed file
    assert.equal(rep.history.trash, 3);
  });

  test('the import works from PostgreSQL too', async () => {
    const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data]);
    assert.equal(r.code, 0, r.stderr);
    const srv = await coffer.serve();
    try {
      for (const u of nc.manifest.users) {
        const f = nc.manifest.files.find((x) => x.owner === u.uid)!;
        const g = await fetch(davUrl(srv.url, u.uid, f.path), { headers: { authorization: basic(u.uid, u.password) } });
        assert.equal(g.status, 200);
        assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256);
        assert.equal((await propfind(srv.url, u.uid, u.password, f.path)).etag, f.etag);
      }
    } finally {
      await srv.stop();
    }
  });
});
