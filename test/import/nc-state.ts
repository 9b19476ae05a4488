/**
 * The whole state an import leaves in a Coffer (SQLite): every table's rows and the files beside
 * the blobs, in a form two Coffers that imported the same source can be compared in (crash tests:
 * a killed and resumed import against an uninterrupted one).
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { COFFER_ADMIN, type Coffer } from './nc-fixture.ts';

/** Stands in for a value that legitimately differs between two Coffers (see IGNORED). */
const OTHER = '<differs>';

/**
 * Columns left out of the comparison, each because it cannot be equal between two installs that
 * imported the same source; everything else of every table must be equal, row for row.
 */
const IGNORED: Record<string, readonly string[]> = {
  // A blob's id is drawn at random for every put (newBlobId), and its seal is an HMAC over that id
  // under the install's own secret. The content behind them is compared by reading every file back.
  nodes: ['blob_id', 'blob_seal'],
  file_versions: ['blob_id', 'blob_seal'],
  trash_nodes: ['blob_id', 'blob_seal'],
  import_pending_blobs: ['blob_id'],
  // The clock of the run that wrote the row: Nextcloud has no such time for users and groups.
  users: ['created_at'],
  groups: ['created_at'],
  // When `maintenance:install` ran.
  coffer_migrations: ['timestamp'],
};

/** Rows of which one value legitimately differs, with why. */
function normalize(table: string, row: Record<string, unknown>): Record<string, unknown> {
  // Coffer's own admin, made by `maintenance:install`: a fresh salt in its argon2id hash.
  if (table === 'users' && row.uid === COFFER_ADMIN.uid) return { ...row, password_hash: OTHER };
  // The times of the install and of the import's completion.
  if (table === 'app_config' && ((row.app === 'core' && row.key === 'installedat') || (row.app === 'import_nextcloud' && row.key === 'completed'))) return { ...row, value: OTHER };
  return row;
}

/**
 * Per table (every table of the database), its rows as sorted JSON lines minus the ignored columns;
 * `exact`: every column as it is (one Coffer before and after something that must change nothing).
 */
export function databaseState(cofferDir: string, opts: { exact?: boolean } = {}): Record<string, string[]> {
  const db = openDb(cofferDir);
  try {
    const out: Record<string, string[]> = {};
    const tables = db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as { name: string }[];
    for (const { name } of tables) {
      const skip = new Set(opts.exact ? [] : IGNORED[name] ?? []);
      out[name] = (db.prepare(`select * from "${name}"`).all() as Record<string, unknown>[])
        .map((r) => JSON.stringify(Object.fromEntries(Object.entries(opts.exact ? r : normalize(name, r)).filter(([k]) => !skip.has(k)))))
        .sort();
    }
    return out;
  } finally {
    db.close();
  }
}

/**
 * The files of Coffer's data folder: blobs counted (their names are random ids), every other file
 * (key files) by its path with the random hex ids (16 digits or more) in names masked.
 */
export function dataFolderState(cofferDir: string): { blobs: number; others: string[] } {
  const data = join(cofferDir, 'data');
  let blobs = 0;
  const others: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(data, p);
      if (e.isDirectory()) walk(p);
      else if (rel.startsWith('blobs/')) { if (!rel.startsWith('blobs/.tmp/')) blobs++; }
      else others.push(rel.replace(/[0-9a-f]{16,}/g, '<id>'));
    }
  };
  walk(data);
  return { blobs, others: others.sort() };
}

function openDb(cofferDir: string): SQLite.Database {
  return new SQLite(join(cofferDir, 'config', 'coffer.db'), { readonly: true, fileMustExist: true });
}

/** One app_config value of the Coffer in `cofferDir`. */
export function cofferSetting(cofferDir: string, app: string, key: string): string | undefined {
  const db = openDb(cofferDir);
  try {
    return (db.prepare('select value from app_config where app = ? and key = ?').get(app, key) as { value: string } | undefined)?.value;
  } finally {
    db.close();
  }
}

/** `select count(*) from <from>` on the Coffer in `cofferDir` (`from`: a table, with a where clause if wanted). */
export function cofferCount(cofferDir: string, from: string): number {
  const db = openDb(cofferDir);
  try {
    return (db.prepare(`select count(*) as n from ${from}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * Asserts that the import resumed after kills (`resumed`) left what the uninterrupted one (`whole`)
 * did: every table row for row (databaseState), then, after files:cleanup on both (a kill can leave
 * a blob written for a row that was not, which garbage collection removes), as many blobs and the
 * same key files.
 */
export async function assertSameImport(resumed: Coffer, whole: Coffer): Promise<void> {
  const got = databaseState(resumed.dir);
  const want = databaseState(whole.dir);
  assert.deepEqual(Object.keys(got), Object.keys(want));
  for (const t of Object.keys(want)) assert.deepEqual(got[t], want[t], `table ${t}`);
  for (const c of [resumed, whole]) {
    const gc = await c.occ(['files:cleanup', '--grace-seconds', '0']);
    assert.equal(gc.code, 0, gc.stderr);
  }
  assert.deepEqual(dataFolderState(resumed.dir), dataFolderState(whole.dir));
}
