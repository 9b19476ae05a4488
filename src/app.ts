import { join } from 'node:path';
import type { Config } from './config/config.ts';
import { AppConfigRepository } from './db/app-config.ts';
import { migrateToLatest, openDatabase, type Db, type DbKind } from './db/database.ts';
import { createLogger, type Logger } from './logger.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { LocalBlobStore } from './storage/local-blob-store.ts';
import { S3BlobStore } from './storage/s3-blob-store.ts';
import { s3OptionsFromConfig } from './storage/s3-config.ts';
import { KeyStore } from './keys/key-store.ts';
import { KeyManager } from './encryption/key-manager.ts';
import { EncryptionState } from './encryption/encryption-state.ts';
import { EncryptedBlobStore } from './encryption/encrypted-blob-store.ts';
import { EncryptionService } from './encryption/encryption-service.ts';
import { FilesService } from './files/files-service.ts';
import { LockService } from './files/lock-service.ts';
import { UploadService } from './files/upload-service.ts';
import { MaintenanceState } from './setup/maintenance.ts';
import { AuditLog } from './audit/audit-log.ts';
import { AppPasswordService } from './auth/app-password-service.ts';
import { Authenticator } from './auth/authenticator.ts';
import { PasswordHasher, type Argon2Params } from './auth/password-hasher.ts';
import { MemoryThrottleStore } from './auth/throttle-store.ts';
import { Throttler, type ThrottleOptions } from './auth/throttler.ts';
import { UserService } from './auth/user-service.ts';
import { LoginFlowService } from './auth/login-flow-service.ts';
import { SessionService } from './auth/session-service.ts';
import { GroupService } from './sharing/group-service.ts';
import { ShareRepository } from './sharing/share-repository.ts';
import { ShareResolver } from './sharing/share-resolver.ts';
import { ShareService } from './sharing/share-service.ts';

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
  /** Chunked uploads (`/remote.php/dav/uploads/<uid>/…`). */
  readonly uploads: UploadService;
  /** Server-side encryption (Default encryption module): status, enable, encrypt-all primitives, keys. */
  readonly encryption: EncryptionService;
  /** Maintenance mode flag (app config core/maintenance), cached ≤ 1 s. */
  readonly maintenance: MaintenanceState;
  readonly users: UserService;
  readonly appPasswords: AppPasswordService;
  /** Every login path goes through it (Basic, app passwords, web form). */
  readonly auth: Authenticator;
  readonly throttle: Throttler;
  /** `<datadirectory>/audit.log`. */
  readonly audit: AuditLog;
  /** Login Flow v2 state (in memory). */
  readonly loginFlow: LoginFlowService;
  /** Groups and memberships (`group:*`). */
  readonly groups: GroupService;
  /** User, group and link shares (OCS Share API). */
  readonly shares: ShareService;
  /** Maps a user's paths into received shares (DAV integration), mounts, share types. */
  readonly shareResolver: ShareResolver;
  /** Web UI browser sessions (cookie + CSRF token). */
  readonly sessions: SessionService;
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
  let rawBlobs: BlobStore;
  if (config.storage.type === 's3') {
    rawBlobs = new S3BlobStore(s3OptionsFromConfig(config.storage));
  } else {
    const local = new LocalBlobStore(join(config.datadirectory, 'blobs'));
    await local.init();
    rawBlobs = local;
  }
  // Encryption: a decorator over the raw store; keys under the key storage root (default: data dir).
  // A wrong config secret refuses to start here (CryptoError naming the cause), before anything is written.
  const encState = new EncryptionState(appConfig);
  const keyRoot = (await encState.get()).keyRoot ?? config.datadirectory;
  const keys = new KeyManager({ keyStore: new KeyStore(keyRoot), secret: config.secret, instanceId: config.instanceid });
  try {
    await keys.verifySecret();
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const encryptedBlobs = new EncryptedBlobStore({
    inner: rawBlobs, keys, state: encState, defaultKeyRoot: config.datadirectory,
    onIntegrityFailure: (f) => { void audit.record('encryption.integrity_failure', { ...f }).catch(() => {}); },
  });
  const encryption = new EncryptionService({ db, appConfig, keys, blobs: encryptedBlobs, state: encState, dataDirectory: config.datadirectory });
  const blobs: BlobStore = encryptedBlobs;
  const locks = new LockService(db);
  const files = new FilesService({ db, blobs, log });
  const uploads = new UploadService({ db, blobs, files, log });
  const users = new UserService({ db, hasher: new PasswordHasher(opts.argon2) });
  const appPasswords = new AppPasswordService({ db });
  const throttle = new Throttler(new MemoryThrottleStore(), opts.throttle);
  const audit = new AuditLog(join(config.datadirectory, 'audit.log'));
  const auth = new Authenticator({ users, appPasswords, throttle, audit });
  const groups = new GroupService({ db });
  const shareRepo = new ShareRepository(db);
  const shareResolver = new ShareResolver({ repo: shareRepo, files });
  const shares = new ShareService({ repo: shareRepo, resolver: shareResolver, files, users, groups, hasher: new PasswordHasher(opts.argon2), audit });
  return {
    config, log, db, dbKind: kind, appConfig, blobs, rawBlobs, files, locks, uploads, encryption,
    maintenance: new MaintenanceState(appConfig),
    users, appPasswords, auth, throttle, audit, loginFlow: new LoginFlowService({ appPasswords }),
    groups, shares, shareResolver,
    sessions: new SessionService({ db, secret: config.secret }),
    async close() { await audit.close(); await db.destroy(); },
  };
}
