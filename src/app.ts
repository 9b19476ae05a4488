import { join } from 'node:path';
import type { Config } from './config/config.ts';
import { AppConfigRepository } from './db/app-config.ts';
import { migrateToLatest, openDatabase, type Db, type DbKind } from './db/database.ts';
import { createLogger, type Logger } from './logger.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { LocalBlobStore } from './storage/local-blob-store.ts';
import { FilesService } from './files/files-service.ts';
import { LockService } from './files/lock-service.ts';
import { MaintenanceState } from './setup/maintenance.ts';
import { AuditLog } from './audit/audit-log.ts';
import { AppPasswordService } from './auth/app-password-service.ts';
import { Authenticator } from './auth/authenticator.ts';
import { PasswordHasher, type Argon2Params } from './auth/password-hasher.ts';
import { MemoryThrottleStore } from './auth/throttle-store.ts';
import { Throttler, type ThrottleOptions } from './auth/throttler.ts';
import { UserService } from './auth/user-service.ts';

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
  /** Maintenance mode flag (app config core/maintenance), cached ≤ 1 s. */
  readonly maintenance: MaintenanceState;
  readonly users: UserService;
  readonly appPasswords: AppPasswordService;
  /** Every login path goes through it (Basic, app passwords, web form). */
  readonly auth: Authenticator;
  readonly throttle: Throttler;
  /** `<datadirectory>/audit.log`. */
  readonly audit: AuditLog;
  /** Closes the database and anything else held open. */
  close(): Promise<void>;
}

export interface OpenAppOptions {
  logger?: Logger;
  /** Run migrations (default true). */
  migrate?: boolean;
  /** argon2id cost override (tests); default OWASP m=19 MiB t=2 p=1. */
  argon2?: Argon2Params;
  /** Brute-force throttle override (tests). */
  throttle?: Partial<ThrottleOptions>;
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
  const files = new FilesService({ db, blobs, log });
  const users = new UserService({ db, hasher: new PasswordHasher(opts.argon2) });
  const appPasswords = new AppPasswordService({ db });
  const throttle = new Throttler(new MemoryThrottleStore(), opts.throttle);
  const audit = new AuditLog(join(config.datadirectory, 'audit.log'));
  const auth = new Authenticator({ users, appPasswords, throttle, audit });
  return {
    config, log, db, dbKind: kind, appConfig, blobs, rawBlobs, files, locks,
    maintenance: new MaintenanceState(appConfig),
    users, appPasswords, auth, throttle, audit,
    async close() { await audit.close(); await db.destroy(); },
  };
}
