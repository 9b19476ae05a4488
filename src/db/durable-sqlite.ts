import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';
import { GroupFlush, fsyncDir } from '../storage/durable-fs.ts';
import { fdatasyncFd } from '../storage/fd-io.ts';

/**
 * Durable SQLite commits with group commit.
 *
 * SQLite runs in WAL mode with `synchronous = NORMAL`: a commit appends its frames to the WAL with
 * write(2) and returns without an fsync (checkpoints still fsync the WAL before and the database
 * after). That alone loses the last commits on a power cut. `synchronous = FULL` would fsync the WAL
 * inside every COMMIT, on the event loop, one writer at a time. Instead, each use of the connection
 * that wrote something fdatasyncs the WAL on the thread pool after it released the connection,
 * and before the caller's query or transaction resolves: so nothing is answered before its commit
 * is on stable storage, the next writer commits while the flush runs, and every writer that
 * committed meanwhile shares the following flush (GroupFlush). What a flush covers: every frame
 * written to the WAL before it started, which includes every commit released before it started.
 */
export class WalSync {
  readonly #walPath: string;
  #fd: number | undefined;
  readonly #group: GroupFlush;
  /** A statement that may write ran since the connection was last acquired. */
  #wrote = false;

  constructor(dbPath: string) {
    this.#walPath = `${dbPath}-wal`;
    this.#group = new GroupFlush(() => this.#flush());
  }

  /** Notes that the statement about to run may write (called for every prepared statement). */
  observe(stmt: BetterSqlite3.Statement): void {
    if (!stmt.readonly) this.#wrote = true;
  }

  /** Whether the connection's holder wrote since the last call; resets. */
  takeWrote(): boolean {
    const w = this.#wrote;
    this.#wrote = false;
    return w;
  }

  /** Resolves once the WAL is on stable storage with every commit made before this call. @throws the flush error. */
  flush(): Promise<void> {
    return this.#group.flush();
  }

  async #flush(): Promise<void> {
    if (this.#fd !== undefined) { await fdatasyncFd(this.#fd); return; }
    // The first flush of this process: the WAL (and, on a new install, the database file) may have
    // been created since the folder was last flushed. Opened once: SQLite keeps the WAL while any
    // connection has the database open.
    const fd = openSync(this.#walPath, 'r');
    try {
      await fdatasyncFd(fd);
      await fsyncDir(dirname(this.#walPath));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.#fd = fd;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** SqliteDriver whose release of the connection waits for the WAL flush when the holder wrote. */
class DurableSqliteDriver extends SqliteDriver {
  readonly #sync: WalSync;
  readonly #db: BetterSqlite3.Database;
  constructor(config: SqliteDialectConfig & { database: BetterSqlite3.Database }, sync: WalSync) {
    super(config);
    this.#sync = sync;
    this.#db = config.database;
  }

  /**
   * BEGIN IMMEDIATE: the write lock is taken at the start (waiting up to busy_timeout), not at the
   * first write. With several processes on one file (`./occ serve --workers N`, or `./occ` beside
   * the server), a deferred transaction that read and then wrote after another process committed
   * would fail at once with SQLITE_BUSY (its snapshot is stale; the busy timeout does not apply),
   * and a read-check-insert such as a WebDAV LOCK would not be serialized across processes.
   */
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /**
   * SQLite rolls a transaction back by itself when a statement fails with SQLITE_FULL or an I/O
   * error; a second ROLLBACK would then fail ("no transaction is active") and hide the real error
   * (a full disk, answered 507) behind a generic one.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#db.inTransaction) return;
    await super.rollbackTransaction(connection);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const conn = await super.acquireConnection();
    this.#sync.takeWrote(); // anything noted before belongs to a holder that already flushed
    return conn;
  }

  override async releaseConnection(): Promise<void> {
    const wrote = this.#sync.takeWrote();
    await super.releaseConnection(); // the next holder may commit while this flush runs
    if (wrote) await this.#sync.flush();
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    this.#sync.close();
  }
}

/** SqliteDialect with durable commits (see WalSync). */
export class DurableSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig & { database: BetterSqlite3.Database };
  readonly #sync: WalSync;
  constructor(config: SqliteDialectConfig & { database: BetterSqlite3.Database }, sync: WalSync) {
    super(config);
    this.#config = config;
    this.#sync = sync;
  }

  override createDriver(): Driver {
    return new DurableSqliteDriver(this.#config, this.#sync);
  }
}
