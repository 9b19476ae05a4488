import type { RowSealer } from './db/row-sealer.ts';
import { join } from 'node:path';
import type { Config } from './config/config.ts';
import { AppConfigRepository } from './db/app-config.ts';
import { migrateToLatest, openDatabase, type Db, type DbKind } from './db/database.ts';
import { createLogger, type Logger } from './logger.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { LocalBlobStore } from './storage/local-blob-store.ts';
import { KeyStore } from './keys/key-store.ts';
import { KeyManager } from './encryption/master-key/key-manager.ts';
import { createKeyHolder, type KeyHolder } from './encryption/key-holders/key-holder.ts';
import { resolveInterruptedSwitch } from './encryption/key-holders/key-holder-switch.ts';
import { EncryptionState, followKeyRoot, type EncryptionStateSnapshot } from './encryption/encryption-state.ts';
import { EncryptedBlobStore } from './encryption/encrypted-blob-store.ts';
import { RowSeal } from './encryption/row-seal.ts';
import { EncryptionService } from './encryption/encryption-service.ts';
import { UserKeys } from './encryption/user-keys/user-keys.ts';
import { RecoveryKey } from './encryption/user-keys/recovery-key.ts';
import { DEFAULT_KDF, type KdfParams } from './encryption/user-keys/user-key-files.ts';
import { NcPendingKeys } from './import/nextcloud-pending-keys.ts';
import { NcPendingRepository } from './import/nextcloud-pending-repository.ts';
import { NcPendingContent } from './import/nextcloud-pending-content.ts';
import { NcPendingConverter } from './import/nextcloud-pending-conversion.ts';
import { LockService } from './files/lock-service.ts';
import { UploadService } from './files/upload-service.ts';
import { MaintenanceState } from './setup/maintenance.ts';
import { AuditLog } from './audit/audit-log.ts';
import { NodeFileRows } from './files/node-file-rows.ts';
import { AppPasswordService, NC_SECRET } from './auth/app-password-service.ts';
import { Authenticator } from './auth/authenticator.ts';
import { PasswordHasher, type Argon2Params } from './auth/password-hasher.ts';
import { DbThrottleStore } from './auth/db-throttle-store.ts';
import { DeviceTokens } from './auth/device-token.ts';
import { RedisThrottleStore } from './auth/redis-throttle-store.ts';
import type { RedisClient } from './redis/redis-client.ts';
import { Throttler, type ThrottleOptions } from './auth/throttler.ts';
import { UserService } from './auth/user-service.ts';
import { UserDeletionService } from './auth/user-deletion-service.ts';
import { LoginFlowService, SharedLoginFlowService, type LoginFlowStore } from './auth/login-flow-service.ts';
import { RedisLoginFlowStore } from './redis/redis-login-flow-store.ts';
import { SessionService } from './auth/session-service.ts';
import { SecretBox } from './auth/secret-box.ts';
import { TwoFactorEnforcement } from './auth/two-factor-enforcement.ts';
import { TwoFactorRepository } from './auth/two-factor-repository.ts';
import { TwoFactorService } from './auth/two-factor-service.ts';
import { PasswordService } from './auth/password-service.ts';
import { GroupService } from './sharing/group-service.ts';
import { ShareRepository } from './sharing/share-repository.ts';
import { ShareResolver } from './sharing/share-resolver.ts';
import { ShareService } from './sharing/share-service.ts';
import { TransferPolicy } from './sharing/transfer-policy.ts';
import { ShareeSearch } from './sharing/sharee-search.ts';
import { ShareKeys } from './encryption/share-keys/share-keys.ts';
import { ShareKeySync } from './sharing/share-key-sync.ts';
import { GroupMembers } from './sharing/group-members.ts';
import { FilesService } from './files/files-service.ts';
import { userActor } from './actor.ts';
import { CurrentKeyStore } from './keys/current-key-store.ts';
import type { KeyPolicy } from './encryption/key-policy/key-policy.ts';
import { MasterKeyPolicy } from './encryption/key-policy/master-key-policy.ts';
import { PerUserKeyPolicy } from './encryption/key-policy/per-user-key-policy.ts';
import { DbShareTopology } from './sharing/share-topology.ts';
import { PreviewStore } from './previews/preview-store.ts';
import { PreviewService } from './previews/preview-service.ts';
import { Thumbnailer } from './previews/thumbnailer.ts';
import { NodeRepository } from './files/node-repository.ts';
import { SYSTEM } from './actor.ts';
import { VersionRepository } from './versions/version-repository.ts';
import { VersionRecorder } from './versions/version-recorder.ts';
import { VersionService } from './versions/version-service.ts';
import { VersionExpiry } from './versions/version-expiry.ts';
import { parseRetention } from './versions/retention-policy.ts';
import { sharePermissions, shareViews } from './versions/share-permissions.ts';
import { freeBytes } from './storage/free-space.ts';
import { RetentionQueue } from './versions/retention-queue.ts';
import { TrashService } from './trash/trash-service.ts';
import { TrashRepository } from './trash/trash-repository.ts';
import { TrashRecorder } from './trash/trash-recorder.ts';
import { storedTrashSize, TrashExpiry } from './trash/trash-expiry.ts';
import { InProcessChangeBus, type ChangeBus } from './push/change-bus.ts';
import { ChangeAudience } from './push/change-audience.ts';
import { fanOut } from './files/tree-changes.ts';
import { NotificationRepository } from './notifications/notification-repository.ts';
import { NotificationService } from './notifications/notification-service.ts';
import { ShareNotifier } from './notifications/share-notifier.ts';
import { ActivityRepository } from './activity/activity-repository.ts';
import { ActivityRecorder } from './activity/activity-recorder.ts';
import { ActivityService } from './activity/activity-service.ts';
import { MemoryPreAuthTokens, RedisPreAuthTokens, type PreAuthTokens } from './push/pre-auth-tokens.ts';

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
  /** What wraps the master key (config `keyHolder`): the secret or a PKCS#11 token; used at start only. */
  readonly keyHolder: KeyHolder;
  /** Per-user-key mode: key pairs, unlocked sessions, password events, recovery key. */
  readonly userKeys: UserKeys;
  /** Per-user keys imported from Nextcloud, completed at each user's first password login. */
  readonly ncPendingKeys: NcPendingKeys;
  /** Files imported from Nextcloud in its encrypted form (per-user keys), converted after their owner's first login. */
  readonly ncPending: { readonly repo: NcPendingRepository; readonly content: NcPendingContent; readonly converter: NcPendingConverter };
  /** Which key wraps and unwraps content for which actor (master-key or per-user), chosen at start. */
  readonly keyPolicy: KeyPolicy;
  /** Maintenance mode flag (app config core/maintenance), cached ≤ 1 s. */
  readonly maintenance: MaintenanceState;
  readonly users: UserService;
  /** Deleting a user with everything of theirs (every adapter goes through it). */
  readonly userDeletion: UserDeletionService;
  readonly appPasswords: AppPasswordService;
  /** Every login path goes through it (Basic, app passwords, web form). */
  readonly auth: Authenticator;
  /** Two-factor authentication (TOTP, backup codes, enforcement). */
  readonly twoFactor: TwoFactorService;
  readonly throttle: Throttler;
  /** Known-device tokens (the web login's device cookie; docs/BRUTEFORCE.md). */
  readonly deviceTokens: DeviceTokens;
  /** `<datadirectory>/audit.log`. */
  readonly audit: AuditLog;
  /** Login Flow v2 state: in memory, in the serve primary's memory (workers), or in Redis (shared by every process) when configured. */
  readonly loginFlow: LoginFlowService | SharedLoginFlowService;
  /** Groups and memberships (`group:*`). */
  readonly groups: GroupService;
  /** User, group and link shares (OCS Share API). */
  readonly shares: ShareService;
  /** Maps a user's paths into received shares (DAV integration), mounts, share types. */
  readonly shareResolver: ShareResolver;
  /** The permission rule of COPY/MOVE in a user's view (WebDAV and the web API both use it). */
  readonly transfers: TransferPolicy;
  /** Users and groups to share with (OCS Sharee API and the web UI). */
  readonly sharees: ShareeSearch;
  /** Web UI browser sessions (cookie + CSRF token). */
  readonly sessions: SessionService;
  /** Every login-password change and admin reset (web, OCS, CLI): keys, caches, sessions. */
  readonly passwords: PasswordService;
  /** Versions of files (Nextcloud's files_versions; zero copy). */
  readonly versions: VersionService;
  /** The trash bin (Nextcloud's files_trashbin; a delete is a metadata move). */
  readonly trash: TrashService;
  /**
   * Expiry of versions and trash items under the retention obligations (background job, ./occ);
   * `grew`: the users whose versions or trash just grew (a prompt expiry when over their space).
   */
  readonly retention: { readonly versions: VersionExpiry; readonly trash: TrashExpiry; readonly grew: RetentionQueue };
  /** Shared Redis connection when `config.redis` is set (throttle counters of all processes). */
  readonly redis?: RedisClient;
  /** Seals of what file rows say about their blobs (for code that inserts node rows itself: the importer). */
  readonly sealer: RowSealer;
  /** Previews (thumbnails) of image files, cached encrypted in the content store. */
  readonly previews: PreviewService;
  /** Committed tree changes for push notifications: in process, or Redis pub/sub in scale-out. */
  readonly changeBus: ChangeBus;
  /** notify_push pre-authentication tokens (in memory, or in Redis in scale-out). */
  readonly preAuth: PreAuthTokens;
  /** Notifications of Nextcloud's notifications app (shares received, ./occ notification:generate). */
  readonly notifications: NotificationService;
  /** The activity stream (Nextcloud's activity app API v2), fed by file and share events. */
  readonly activity: ActivityService;
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
  /** argon2id cost of per-user private-key wrapping (tests); default m=19 MiB t=2 p=1. */
  userKeyKdf?: KdfParams;
  /**
   * Where Login Flow v2 keeps flows when Redis is not configured: the workers of one
   * `./occ serve --workers N` pass their primary's store (src/cluster/); default: this process's memory.
   */
  loginFlowStore?: LoginFlowStore;
  /**
   * The push change bus when Redis is not configured: the workers of one `./occ serve --workers N`
   * pass their IPC bus (src/cluster/ipc-change-bus.ts); default: this process alone.
   */
  changeBus?: ChangeBus;
}

/**
 * Builds config → db → stores → services.
 * @throws ConfigError for a bad config; database errors when the database is unreachable.
 */
export async function openApp(config: Config, opts: OpenAppOptions = {}): Promise<App> {
  const log = opts.logger ?? createLogger(config.loglevel);
  const { db, kind } = openDatabase(config.database);
  // Seals of what file rows say about their blobs, under a key from the config secret (row-seal.ts).
  const seal = new RowSeal(config.secret, config.instanceid);
  try {
    if (opts.migrate !== false) await migrateToLatest(db, { sealer: seal });
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const appConfig = new AppConfigRepository(db);
  let rawBlobs: BlobStore;
  if (config.storage.type === 's3') {
    // Loaded on demand: the AWS SDK costs tens of MiB of memory that local-disk installs never need.
    const { S3BlobStore } = await import('./storage/s3-blob-store.ts');
    const { s3OptionsFromConfig } = await import('./storage/s3-config.ts');
    rawBlobs = new S3BlobStore(s3OptionsFromConfig(config.storage));
  } else {
    const local = new LocalBlobStore(join(config.datadirectory, 'blobs'));
    await local.init();
    rawBlobs = local;
  }
  // Encryption: a decorator over the raw store; keys under the key storage root (default: data dir).
  // A wrong config secret refuses to start here (CryptoError naming the cause), before anything is written.
  const encState = new EncryptionState(appConfig);
  const keyStores = new CurrentKeyStore(new KeyStore((await encState.get()).keyRoot ?? config.datadirectory));
  const keyStore = (): KeyStore => keyStores.store;
  const userKeys = new UserKeys({
    store: keyStore, appConfig, state: encState, kdf: opts.userKeyKdf,
    // `keys` is made below (it takes userKeys); this runs at logins only, long after
    followKeyRoot: (fresh: boolean): Promise<EncryptionStateSnapshot> => followKeyRoot(keys, encState, config.datadirectory, fresh),
    recovery: new RecoveryKey({ store: keyStore, kdf: opts.userKeyKdf ?? { memoryCost: 19456, timeCost: 2, parallelism: 1 } }),
  });
  const ncPendingKeys = new NcPendingKeys({
    store: keyStore, kdf: opts.userKeyKdf ?? DEFAULT_KDF, ncSecret: () => appConfig.get(NC_SECRET.app, NC_SECRET.key),
  });
  // Master key custody: a missing token or a wrong PIN refuses to start here, naming the cause.
  let keyHolder: KeyHolder;
  try { keyHolder = await createKeyHolder(config); } catch (err) { await db.destroy(); throw err; }
  const keys = new KeyManager({ keyStore: keyStores, secret: config.secret, instanceId: config.instanceid, userRoots: userKeys, holder: keyHolder });
  try {
    await keyHolder.open();
    await keys.verifySecret();
    // A holder switch that committed before a crash: drop the old holder's wrapping now.
    if (await resolveInterruptedSwitch(keys.keyStore, keyHolder.id, { rollBack: false }) === 'pending') {
      log.warn('an interrupted key holder switch is pending: run ./occ encryption:key-holder:set again to finish or undo it');
    }
  } catch (err) {
    await keyHolder.close();
    await db.destroy();
    throw err;
  }
  // The key mode is chosen once per process (switching it needs no encrypted file, and a restart).
  const perUser = await userKeys.perUserMode();
  // Per-user-key mode sharing: one share key per shared node (docs/PER-USER-KEYS.md, "Sharing").
  const shareTopology = new DbShareTopology(db);
  const shareKeys = new ShareKeys({ store: keyStore, keys, userKeys, state: encState, topology: shareTopology, raw: rawBlobs, perUser });
  const keyPolicy: KeyPolicy = perUser ? new PerUserKeyPolicy({ userKeys, shareKeys }) : new MasterKeyPolicy(keys);
  const audit = new AuditLog(join(config.datadirectory, 'audit.log'));
  const ncPendingRepo = new NcPendingRepository(db);
  const ncPendingContent = new NcPendingContent({ repo: ncPendingRepo, raw: rawBlobs, session: userKeys.session, store: keyStore });
  const encryptedBlobs = new EncryptedBlobStore({
    inner: rawBlobs, policy: keyPolicy, keys, state: encState, defaultKeyRoot: config.datadirectory, seal, pending: ncPendingContent,
  });
  const encryption = new EncryptionService({ rows: new NodeFileRows(db), appConfig, keys, blobs: encryptedBlobs, state: encState, dataDirectory: config.datadirectory });
  const blobs: BlobStore = encryptedBlobs;
  const locks = new LockService(db);
  const groupMembers = new GroupMembers(db);
  const shareKeySync = new ShareKeySync({ shareKeys, db, groups: groupMembers, log });
  const groups = new GroupService({ db, members: groupMembers, onMembership: shareKeySync });
  const shareRepo = new ShareRepository(db);
  // Several server processes: brute-force counters in Redis (connects lazily on first use).
  // ioredis is loaded only when configured (it costs ~0.1 s of every ./occ start otherwise).
  // Without Redis they live in the database, where ./occ security:bruteforce:* sees them too.
  const redis = config.redis ? new (await import('./redis/redis-client.ts')).RedisClient(config.redis, { instanceId: config.instanceid }) : undefined;
  // Push: every committed change goes to the users who see it, through the bus every process hears.
  const changeBus: ChangeBus = redis ? new (await import('./push/redis-change-bus.ts')).RedisChangeBus(redis, log) : opts.changeBus ?? new InProcessChangeBus();
  const audience = new ChangeAudience({ shares: shareRepo, groups, bus: changeBus, log });
  const activityRepo = new ActivityRepository(db);
  const activityRecorder = new ActivityRecorder({ repo: activityRepo, audience, bus: changeBus, log, retentionDays: config.activity_expire_days });
  const changes = fanOut(audience, activityRecorder);
  // Previews live in the same (encrypting) content store; released file versions take theirs along.
  const previewStore = new PreviewStore({ db, blobs, sealer: seal, log });
  // Versions: an overwrite keeps the old blob as a version inside its own transaction ...
  const versionRepo = new VersionRepository();
  const grew = new RetentionQueue();
  const versionRecorder = new VersionRecorder(versionRepo, { grew, sealer: seal });
  // ... and a replacing MOVE (or a COPY, except a file's onto a file) puts what it replaces in the trash, as a DELETE does.
  const nodes = new NodeRepository(db, seal);
  const trashRepo = new TrashRepository();
  const ncConverter = new NcPendingConverter({ db, blobs, raw: rawBlobs, nodes, versions: versionRepo, trash: trashRepo, sealer: seal, repo: ncPendingRepo, content: ncPendingContent, keys: ncPendingKeys, log });
  const trashRecorder = new TrashRecorder(trashRepo, nodes, grew);
  const files = new FilesService({
    db, blobs, log, sealer: seal, checkRow: (id, codec, ctx) => encryptedBlobs.checkRow(id, codec, ctx), events: shareKeySync,
    onBlobsReleased: (ids) => previewStore.dropSources(ids), versions: versionRecorder, trash: trashRecorder, changes,
  });
  const uploads = new UploadService({ db, blobs, files, log, sealer: seal });
  const users = new UserService({ db, hasher: new PasswordHasher(opts.argon2) });
  const notificationRepo = new NotificationRepository(db);
  const notifications = new NotificationService({ repo: notificationRepo, users, bus: changeBus, log });
  const appPasswords = new AppPasswordService({ db, keys: userKeys });
  const deviceTokens = new DeviceTokens(config.secret);
  const throttle = new Throttler(redis ? new RedisThrottleStore(redis) : new DbThrottleStore(db),
    { allowlist: config.bruteforce.allowlist, ...opts.throttle }, { devices: deviceTokens });
  // Enforcement by group counts admins as members of `admin`, as Nextcloud's admin group.
  const twoFactor = new TwoFactorService({
    repo: new TwoFactorRepository(db), enforcement: new TwoFactorEnforcement(appConfig), box: new SecretBox(config.secret, 'totp'),
    throttle, audit,
    groupsOf: async (uid) => {
      const gs = await groups.groupsOf(uid);
      const u = await users.get(uid).catch(() => undefined);
      return u?.isAdmin && !gs.includes('admin') ? [...gs, 'admin'] : gs;
    },
  });
  const auth = new Authenticator({ users, appPasswords, throttle, audit, secondFactor: twoFactor, onLogin: async (uid, via, secret) => {
    const wasUnlocked = userKeys.session.get(uid) !== undefined;
    // A user imported from Nextcloud with per-user keys: the first password login opens their keys,
    // or the first use of a Nextcloud app password that stored the login password. Only in per-user
    // mode (the import sets it), so that other logins do not read the key store on every request.
    const mayBePending = !wasUnlocked && await userKeys.perUserMode();
    const ncLogin = via === 'app-password' && mayBePending ? await ncPendingKeys.loginPasswordFromToken(uid, secret) : undefined;
    if ((via === 'password' || ncLogin !== undefined) && mayBePending) {
      await ncPendingKeys.completeWithPassword(uid, ncLogin ?? secret).catch((err: unknown) => log.warn(`imported keys of ${uid} not completed: ${(err as Error).message}`));
    }
    if (ncLogin !== undefined) {
      await userKeys.onLogin(uid, 'password', ncLogin);
      await userKeys.addTokenWrapping(uid, secret).catch(() => false); // this app password unlocks by itself from now on
    } else {
      await userKeys.onLogin(uid, via, secret);
    }
    if (!wasUnlocked && userKeys.session.get(uid)) {
      await shareKeySync.onUnlocked(userActor(uid, via));
      ncConverter.start(uid); // in the background; nothing to do for users the import did not leave pending
    }
  } });
  const shareResolver = new ShareResolver({ repo: shareRepo, files });
  // A new user or group share: a notification to each recipient, and a row in everyone's activity stream.
  const shareNotifier = new ShareNotifier({ notifications, users, log });
  const shares = new ShareService({
    repo: shareRepo, resolver: shareResolver, files, users, groups, hasher: new PasswordHasher(opts.argon2), audit, keySync: shareKeySync,
    events: {
      async created(...e) { await shareNotifier.created(...e); await activityRecorder.created(...e); },
      async deleted(ids) { await shareNotifier.deleted(ids); },
    },
  });
  // Per-user keys: a web session wraps the private key under its cookie value, so that every
  // server process (scale-out) can unlock it; the wrapping goes when the session ends.
  const sessions = new SessionService({
    db, secret: config.secret,
    onCreated: async (uid, token) => { await userKeys.addTokenWrapping(uid, token); },
    onEnded: (uid, hashes) => userKeys.deleteTokenWrappings(uid, hashes),
  });
  const versions = new VersionService({
    db, repo: versionRepo, recorder: versionRecorder, nodes, files, blobs, log, permissions: sharePermissions(shareResolver),
  });
  const trash = new TrashService({ db, repo: trashRepo, recorder: trashRecorder, nodes, files, versions, log, views: shareViews(shareResolver), events: shareKeySync });
  // users without a quota: the local data disk limits versions and trash (an object store cannot tell its free space)
  const diskFree = async () => (config.storage.type === 'local' ? freeBytes(config.datadirectory) : null);
  const retention = {
    grew,
    versions: new VersionExpiry({ db, nodes, versions, log, policy: parseRetention(config.versions_retention_obligation, 'versions'), diskFree }),
    trash: new TrashExpiry({
      db, nodes, trash, log, policy: parseRetention(config.trashbin_retention_obligation, 'trashbin'), diskFree,
      // the user's size, else the default (Nextcloud: a user's -1, as `trashbin:size -1 --user` leaves it, means the default)
      configuredSize: async (uid) => storedTrashSize(await users.getPreference(uid, 'files_trashbin', 'trashbin_size'))
        ?? storedTrashSize(await appConfig.get('files_trashbin', 'trashbin_size')),
    }),
  };
  return {
    versions, trash, retention,
    config, log, db, dbKind: kind, appConfig, blobs, rawBlobs, files, locks, uploads, encryption, userKeys, ncPendingKeys, keyPolicy, keyHolder,
    ncPending: { repo: ncPendingRepo, content: ncPendingContent, converter: ncConverter },
    maintenance: new MaintenanceState(appConfig),
    users, appPasswords, auth, twoFactor, throttle, deviceTokens, audit, loginFlow: redis || opts.loginFlowStore
      ? new SharedLoginFlowService({ appPasswords, store: redis ? new RedisLoginFlowStore(redis) : opts.loginFlowStore! })
      : new LoginFlowService({ appPasswords }),
    groups, shares, shareResolver, transfers: new TransferPolicy({ resolver: shareResolver, files }),
    sharees: new ShareeSearch({ db, groups }),
    sessions,
    passwords: new PasswordService({ users, userKeys, auth, sessions, audit }),
    userDeletion: new UserDeletionService({
      db, users, auth, sessions, appPasswords, groups, shares, uploads, locks, files, keys, keySession: userKeys.session, audit,
      history: { async deleteAllOf(uid) {
        await trash.empty(SYSTEM, uid); await versions.cleanup(uid); await notificationRepo.deleteAll(uid); await activityRepo.deleteAllOf(uid);
      } },
    }),
    previews: new PreviewService({ files, shareResolver, store: previewStore, thumbnailer: new Thumbnailer(), log }),
    notifications, activity: new ActivityService(activityRepo),
    redis, changeBus, preAuth: redis ? new RedisPreAuthTokens(redis) : new MemoryPreAuthTokens(),
    sealer: seal,
    async close() { await ncConverter.stop(); await activityRecorder.close(); await changeBus.close(); await audit.close(); await redis?.close(); await keyHolder.close(); await db.destroy(); },
  };
}
