/**
 * openNcDatabase and the column readers (nextcloud-columns.ts) give the same values on SQLite,
 * PostgreSQL and MariaDB, for the column types Nextcloud gives each engine: a date-time
 * (`oc_share.expiration`: DATETIME / timestamp / datetime), JSON (`oc_files_versions.metadata`:
 * CLOB / json / longtext with json_valid), bigint, and a blob. This process runs in a timezone far
 * from UTC: a date-time without zone is Nextcloud's UTC whatever the client's timezone.
 */
process.env.TZ = 'Pacific/Auckland';

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { openNcDatabase } from '../../src/import/nextcloud-database.ts';
import { ncDateTime, ncInt, ncText } from '../../src/import/nextcloud-columns.ts';
import type { NcConfig } from '../../src/import/nextcloud-config.ts';
import { createPgDatabase } from '../support/test-instance.ts';

const cfg = { tablePrefix: 'nct_' } as NcConfig;
// spaces and an escaped slash: kept as the database holds them, not re-serialized
const META = '{"author": "alice", "label": "draft \\/ é"}';
const ROW = { id: 4_000_000_123, expiration: '2030-06-14 22:00:00', metadata: META, blob: 'Nextcloud text in a blob' };

async function readBack(url: string): Promise<unknown[]> {
  const db = await openNcDatabase(cfg, url);
  try {
    const rows = await db.query('select id, expiration, metadata, data, unset_at from *PREFIX*t where id = ?', [ROW.id]);
    assert.equal(rows.length, 1);
    const r = rows[0]!;
    return [ncInt(r.id), ncDateTime(r.expiration), ncText(r.metadata), ncText(r.data), ncDateTime(r.unset_at)];
  } finally {
    await db.close();
  }
}

const want = [ROW.id, Date.UTC(2030, 5, 14, 22) / 1000, META, ROW.blob, null];

describe('Nextcloud database columns read alike on every engine', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => { for (const c of cleanups.reverse()) await c(); });

  test('the process runs away from UTC (the check below would pass by chance in UTC)', () => {
    assert.notEqual(new Date(Date.UTC(2030, 5, 14, 22)).getHours(), 22);
  });

  test('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-columns-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'nc.db');
    const db = new SQLite(file);
    db.exec('create table nct_t (id BIGINT, expiration DATETIME DEFAULT NULL, metadata CLOB NOT NULL --(DC2Type:json)\n, data BLOB, unset_at DATETIME DEFAULT NULL)');
    db.prepare('insert into nct_t (id, expiration, metadata, data) values (?, ?, ?, ?)').run(ROW.id, ROW.expiration, ROW.metadata, Buffer.from(ROW.blob));
    db.close();
    assert.deepEqual(await readBack(file), want);
    assert.deepEqual(await readBack(`sqlite:${file}`), want);
  });

  test('PostgreSQL', async () => {
    const d = await createPgDatabase();
    cleanups.push(() => d.drop());
    const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: d.name });
    await c.connect();
    try {
      await c.query('create table nct_t (id bigint, expiration timestamp(0) without time zone, metadata json not null, data bytea, unset_at timestamp(0) without time zone)');
      await c.query('insert into nct_t (id, expiration, metadata, data) values ($1, $2, $3, $4)', [ROW.id, ROW.expiration, ROW.metadata, Buffer.from(ROW.blob)]);
    } finally {
      await c.end();
    }
    assert.deepEqual(await readBack(`postgres://postgres@127.0.0.1:5432/${d.name}`), want);
  });

  test('MariaDB', async () => {
    const name = `nc_columns_${process.pid}_${randomBytes(3).toString('hex')}`;
    const mysql = (sql: string) => execFileSync('mysql', ['-uroot', '--default-character-set=utf8mb4', '-e', sql], { encoding: 'utf8' });
    mysql(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    cleanups.push(() => { mysql(`DROP DATABASE IF EXISTS ${name}`); });
    // as Nextcloud's schema on MariaDB (the fixture's dump): datetime, and JSON as a checked longtext
    mysql(`USE ${name}; create table nct_t (id bigint(20), expiration datetime DEFAULT NULL, metadata longtext NOT NULL CHECK (json_valid(metadata)), data longblob, unset_at datetime DEFAULT NULL);
      insert into nct_t (id, expiration, metadata, data) values (${ROW.id}, '${ROW.expiration}', '${ROW.metadata.replace(/\\/g, '\\\\')}', '${ROW.blob}');`);
    assert.deepEqual(await readBack(`mysql://root@127.0.0.1:3306/${name}`), want);
  });
});
