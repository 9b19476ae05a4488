import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider, type Transaction } from 'kysely';
import type { Config } from '../config/config.ts';
import type { Database } from './schema.ts';
import { withStatementCache } from './statement-cache.ts';
import { DurableSqliteDialect, WalSync } from './durable-sqlite.ts';
import * as m001 from './migrations/001-initial.ts';
import * as m002 from './migrations/002-upload-chunk-offset.ts';
import * as m003 from './migrations/003-sharing.ts';
import * as m004 from './migrations/004-sessions.ts';
import * as m005 from './migrations/005-two-factor.ts';
import * as m006 from './migrations/006-bruteforce.ts';
import { rowSealsMigration } from './migrations/007-row-seals.ts';
import * as m008 from './migrations/008-previews.ts';
import * as m009 from './migrations/009-versions-trash.ts';
import * as m010 from './migrations/010-notifications-activity.ts';
import * as m011 from './migrations/011-import-pending.ts';
import * as m012 from './migrations/012-import-pending-blobs.ts';
import * as m013 from './migrations/013-expiry-indexes.ts';
import * as m014 from './migrations/014-trash-deleter-dismissed.ts';
import { versionSealsMigration } from './migrations/015-version-seals.ts';
import type { RowSealer } from './row-sealer.ts';

export type Db = Kysely<Database>;
export type DbKind = 'sqlite' | 'pgsql';

/**
 * True for a PostgreSQL error that says "run the transaction again": a deadlock (40P01) or a
 * serialization failure (40001). The transaction was rolled back.
 */
export function isRetryableTransactionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** How often a transaction runs at most when PostgreSQL keeps choosing it as a deadlock victim. */
const TRANSACTION_ATTEMPTS = 5;

/**
 * Runs `fn` in a transaction, and runs it again (up to 5 times, after a short random pause) when
 * PostgreSQL rolled it back as a deadlock or serialization victim. Ancestor rows are locked in
 * path order, but moves and deletes also lock whole subtrees, so two of those racing over the same
 * rows can still deadlock; the victim then succeeds on its next run instead of answering 500.
 * `fn` must keep its side effects inside the database (it may run more than once).
 * @throws whatever `fn` throws; the database error after the last attempt.
 */
export async function transact<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (err) {
      if (attempt >= TRANSACTION_ATTEMPTS || !isRetryableTransactionError(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}

/** True when `db` (a handle or a transaction) runs on PostgreSQL. */
export function isPostgres(db: Kysely<Database>): boolean {
  return (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
}

/**
 * Every migration, in order. Add new ones at the end; never edit a released one. `sealer` seals
 * the existing rows in 007 and re-seals versions in 015 (the app passes it; without it they stay as they are).
 */
function migrations(sealer?: RowSealer): Record<string, Migration> {
  return {
    '001-initial': m001,
    '002-upload-chunk-offset': m002,
    '003-sharing': m003,
    '004-sessions': m004,
    '005-two-factor': m005,
    '006-bruteforce': m006,
    '007-row-seals': rowSealsMigration(sealer),
    '008-previews': m008,
    '009-versions-trash': m009,
    '010-notifications-activity': m010,
    '011-import-pending': m011,
    '012-import-pending-blobs': m012,
    '013-expiry-indexes': m013,
    '014-trash-deleter-dismissed': m014,
    '015-version-seals': versionSealsMigration(sealer),
  };
}

class StaticMigrationProvider implements MigrationProvider {
  constructor(readonly sealer?: RowSealer) {}
  async getMigrations(): Promise<Record<string, Migration>> { return migrations(this.sealer); }
}

// pg returns int8 as string by default; sizes fit in doubles, so parse them.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Opens the configured database (SQLite file in WAL mode, or a PostgreSQL pool). Either way a query
 * or transaction that wrote resolves only once its commit is durable (docs/DURABILITY.md): SQLite
 * through WalSync's grouped WAL flushes, PostgreSQL with `synchronous_commit = on` set for every
 * connection of ours whatever the server's default.
 */
export function openDatabase(cfg: Config['database']): { db: Db; kind: DbKind } {
  if (cfg.type === 'sqlite') {
    mkdirSync(dirname(cfg.path), { recursive: true, mode: 0o700 });
    // A new database file is the owner's only (it holds password hashes): SQLite gives its -wal and
    // -shm files the same mode. The folder may be a shared one (beside the config file).
    if (!existsSync(cfg.path)) closeSync(openSync(cfg.path, 'a', 0o600));
    const sqlite = new SQLite(cfg.path);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL: no fsync inside COMMIT; WalSync flushes the WAL after it, grouped, off the event loop
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('foreign_keys = ON');
    const sync = new WalSync(cfg.path);
    const database = withStatementCache(sqlite, (stmt) => sync.observe(stmt));
    return { db: new Kysely<Database>({ dialect: new DurableSqliteDialect({ database }, sync) }), kind: 'sqlite' };
  }
  const pool = new pg.Pool({
    host: cfg.host, port: cfg.port, database: cfg.name, user: cfg.user, password: cfg.password, max: 10,
    // a commit returns only once PostgreSQL flushed its WAL, even where the server's default is off
    options: '-c synchronous_commit=on',
  });
  // An idle connection that the server terminates (PostgreSQL restart, failover, pg_terminate_backend)
  // is reported on the pool; without a listener that event would kill the process. The pool has
  // already dropped the client, and the next query opens a fresh connection.
  pool.on('error', () => {});
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), kind: 'pgsql' };
}

/**
 * Brings the schema up to date.
 * @throws Error naming the failed migration.
 */
export async function migrateToLatest(db: Db, opts: { sealer?: RowSealer } = {}): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider(opts.sealer), migrationTableName: 'coffer_migrations', migrationLockTableName: 'coffer_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message}`, { cause: error });
  }
}

