import { join } from 'node:path';
import type { Config } from './config/config.ts';
import { AppConfigRepository } from './db/app-config.ts';
import { migrateToLatest, openDatabase, type Db, type DbKind } from './db/database.ts';
import { createLogger, type Logger } from './logger.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { LocalBlobStore } from './storage/local-blob-store.ts';
import { FilesService } from './files/files-service.ts';
import { LockService } from './files/lock-service.ts';

/**
 * Everything a Coffer process holds, built once by `openApp` (the composition root) and passed
 * explicitly to adapters. No module-level mutable state anywhere else.
 */
export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Db;
  readonly dbKind: DbKind;
  readonly appConfig: AppConfigRepository;
  /** Content store as callers see it (the encryption decorator when the module is on). */
  readonly blobs: BlobStore;
  /** The store underneath any decorator (local disk or S3). */
  readonly rawBlobs: BlobStore;
  readonly files: FilesService;
  readonly locks: LockService;
  /** Closes the database and anything else held open. */
  close(): Promise<void>;
}

export interface OpenAppOptions {
  logger?: Logger;
  /** Run migrations (default true). */
  migrate?: boolean;
}

/**
 * Builds config → db → stores → services.
 * @throws ConfigError for a bad config; database errors when the database is unreachable.
 */
export async function openApp(config: Config, opts: OpenAppOptions = {}): Promise<App> {
  const log = opts.logger ?? createLogger(config.loglevel);
  const { db, kind } = openDatabase(config.database);
  try {
    if (opts.migrate !== false) await migrateToLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const appConfig = new AppConfigRepository(db);
  const local = new LocalBlobStore(join(config.datadirectory, 'blobs'));
  await local.init();
  const rawBlobs: BlobStore = local;
  const blobs: BlobStore = rawBlobs;
  const locks = new LockService(db);
  const files = new FilesService({ db, blobs, locks, log });
  return {
    config, log, db, dbKind: kind, appConfig, blobs, rawBlobs, files, locks,
    async close() { await db.destroy(); },
  };
}
