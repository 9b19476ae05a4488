import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import pg from 'pg';
import type { App } from '../app.ts';
import { configSchema, newInstanceId, newSecret, saveConfig, type Config } from '../config/config.ts';
import { AlreadyExistsError, ConfigError, ConflictError, ValidationError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { KNOWN_APPS } from '../apps/app-registry.ts';
import { assertValidUid } from '../auth/user-service.ts';
import { COFFER_VERSION } from './version.ts';

export type InstallDatabase =
  | { type: 'sqlite'; /** default `coffer.db` beside the config file, outside the data directory */ path?: string }
  | { type: 'pgsql'; host: string; port?: number; name: string; user: string; password?: string };

/** Where content goes: local disk under the data directory (default) or an S3 bucket. */
export type InstallStorage =
  | { type: 'local' }
  | { type: 's3'; endpoint: string; bucket: string; region?: string; accessKey: string; secretKey: string; pathStyle?: boolean };

export interface InstallOptions {
  /** Where the config file goes (absolute, or relative to `cwd`). */
  configPath: string;
  adminUser: string;
  adminPass: string;
  /** Data directory; default `./data`, relative paths resolved against `cwd`. */
  dataDir?: string;
  /** Default: SQLite in the data directory. */
  database?: InstallDatabase;
  /** Default: local. For S3 the bucket is created when missing, then probed (put/get/delete). */
  storage?: InstallStorage;
  /** Shared Redis (throttle counters across server processes); checked before installing. */
  redis?: { host: string; port: number };
  /** Base for relative paths (default process.cwd()). */
  cwd?: string;
  logger?: Logger;
}

export interface InstallResult {
  configPath: string;
  config: Config;
}

/** A config file that exists and says installed: true (or cannot be read at all). */
function assertNotInstalled(path: string): void {
  if (!existsSync(path)) return;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ConflictError(`A config file exists at ${path} but cannot be read; refusing to overwrite it`);
  }
  if ((raw as { installed?: unknown } | null)?.installed !== false) {
    throw new ConflictError(`Coffer is already installed (config file ${path})`);
  }
}

/**
 * Installs Coffer: checks the database, creates the data directory (0700), migrates the schema,
 * creates the admin user and the apps' default states, and writes the config file last
 * (atomically), so a failed install never leaves an "installed" config behind.
 * @throws ConflictError when already installed (nothing changed) or the database already holds users;
 *         ValidationError for a bad admin name/password or options; ConfigError when the database
 *         cannot be reached (the message says why); database errors otherwise.
 */
export async function install(opts: InstallOptions): Promise<InstallResult> {
  const cwd = opts.cwd ?? process.cwd();
  const configPath = resolve(cwd, opts.configPath);
  assertNotInstalled(configPath);
  assertValidUid(opts.adminUser);
  if (!opts.adminPass) throw new ValidationError('The admin password must not be empty');

  const datadirectory = resolve(cwd, opts.dataDir ?? 'data');
  const dbOpt: InstallDatabase = opts.database ?? { type: 'sqlite' };
  const database = dbOpt.type === 'sqlite'
    // Beside the config file, not in the data directory: whoever can write the data directory (a
    // mounted disk, a restored backup) must not be able to rewrite the database too (README, threat model).
    ? { type: 'sqlite' as const, path: resolve(cwd, dbOpt.path ?? resolve(dirname(configPath), 'coffer.db')) }
    : { type: 'pgsql' as const, host: dbOpt.host, port: dbOpt.port ?? 5432, name: dbOpt.name, user: dbOpt.user, password: dbOpt.password ?? '' };
  if (database.type === 'pgsql') await preparePostgres(database);
  const storage = opts.storage?.type === 's3'
    ? { type: 's3' as const, endpoint: opts.storage.endpoint, bucket: opts.storage.bucket, region: opts.storage.region ?? 'us-east-1',
        accessKey: opts.storage.accessKey, secretKey: opts.storage.secretKey, pathStyle: opts.storage.pathStyle ?? true }
    : { type: 'local' as const };
  if (storage.type === 's3') await prepareS3(storage);
  if (opts.redis) await prepareRedis(opts.redis);

  // Two installs at once: only one gets the lock file.
  mkdirSync(resolve(configPath, '..'), { recursive: true });
  const lockPath = `${configPath}.install-lock`;
  let lockFd: number;
  try {
    lockFd = openSync(lockPath, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ConflictError(`Another installation is running (${lockPath} exists; remove it if that is not so)`);
    throw err;
  }
  try {
    assertNotInstalled(configPath);
    const createdDataDir = !existsSync(datadirectory);
    mkdirSync(datadirectory, { recursive: true, mode: 0o700 });
    if (createdDataDir) chmodSync(datadirectory, 0o700);

    const raw = {
      installed: true,
      instanceid: newInstanceId(),
      secret: newSecret(),
      datadirectory,
      database,
      storage,
      ...(opts.redis ? { redis: { host: opts.redis.host, port: opts.redis.port } } : {}),
      loglevel: 'info' as const,
      trustedProxies: [],
    };
    const config: Config = Object.freeze(configSchema.parse(raw));
    const { openApp } = await import('../app.ts');
    const app = await openApp(config, { logger: opts.logger ?? silentLogger() });
    try {
      await initialiseDatabase(app, opts.adminUser, opts.adminPass);
    } finally {
      await app.close();
    }
    saveConfig(configPath, raw);
    return { configPath, config };
  } finally {
    closeSync(lockFd);
    try { unlinkSync(lockPath); } catch { /* already gone */ }
  }
}

/** The admin user, app states and core settings of a fresh instance. */
async function initialiseDatabase(app: App, adminUser: string, adminPass: string): Promise<void> {
  if (await app.users.count() > 0) throw new ConflictError('The database already contains users: it belongs to another installation (use a fresh database)');
  try {
    await app.users.create({ uid: adminUser, password: adminPass, isAdmin: true });
  } catch (err) {
    if (err instanceof AlreadyExistsError) throw new ConflictError(err.message);
    throw err;
  }
  for (const a of KNOWN_APPS) {
    await app.appConfig.set(a.id, 'enabled', a.alwaysEnabled || a.defaultEnabled ? 'yes' : 'no');
    await app.appConfig.set(a.id, 'installed_version', a.version);
  }
  await app.appConfig.set('core', 'maintenance', '0');
  await app.appConfig.set('core', 'installedat', String(Math.floor(Date.now() / 1000)));
  await app.appConfig.set('core', 'installed_version', COFFER_VERSION);
}

/**
 * Creates the bucket when missing and probes put/get/delete.
 * @throws ConfigError listing what is wrong with the bucket or the credentials.
 */
export async function prepareS3(s: { endpoint: string; bucket: string; region: string; accessKey: string; secretKey: string; pathStyle: boolean }): Promise<void> {
  const [{ S3BlobStore }, { s3OptionsFromConfig }] = await Promise.all([import('../storage/s3-blob-store.ts'), import('../storage/s3-config.ts')]);
  const store = new S3BlobStore(s3OptionsFromConfig(s));
  try {
    try {
      await store.createBucketIfMissing();
    } catch { /* checkAccess below says why */ }
    const problems = await store.checkAccess();
    if (problems.length) throw new ConfigError(`S3 storage at ${s.endpoint} is not usable: ${problems.join('; ')}`);
  } finally {
    store.destroy();
  }
}

/**
 * Checks that Redis answers and accepts writes.
 * @throws ConfigError naming the problem.
 */
export async function prepareRedis(r: { host: string; port: number }): Promise<void> {
  const { RedisClient } = await import('../redis/redis-client.ts');
  const client = new RedisClient(r, { instanceId: 'install' });
  try {
    const problems = await client.check();
    if (problems.length) throw new ConfigError(problems.join('; '));
  } finally {
    await client.close();
  }
}

type PgDb = { host: string; port: number; name: string; user: string; password: string };

/**
 * Checks that PostgreSQL answers with these credentials; creates the database when it is
 * missing and the user may create databases.
 * @throws ConfigError naming what is wrong (unreachable, authentication, missing database).
 */
export async function preparePostgres(db: PgDb): Promise<void> {
  const where = `PostgreSQL at ${db.host}:${db.port}`;
  const tryConnect = async (database: string): Promise<pg.Client> => {
    const client = new pg.Client({ host: db.host, port: db.port, database, user: db.user, password: db.password, connectionTimeoutMillis: 5000 });
    client.on('error', () => { /* reported through connect() */ });
    await client.connect();
    return client;
  };
  let client: pg.Client;
  try {
    client = await tryConnect(db.name);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: string };
    if (e.code === '3D000') {
      await createPgDatabase(db, where, tryConnect);
      return;
    }
    throw new ConfigError(describePgError(e, db, where), { cause: err });
  }
  try {
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createPgDatabase(db: PgDb, where: string, tryConnect: (d: string) => Promise<pg.Client>): Promise<void> {
  let admin: pg.Client;
  try {
    admin = await tryConnect('postgres');
  } catch (err) {
    throw new ConfigError(`Database "${db.name}" does not exist on ${where}, and connecting to the "postgres" database to create it failed: ${(err as Error).message}`, { cause: err });
  }
  try {
    const ident = '"' + db.name.replace(/"/g, '""') + '"';
    await admin.query(`CREATE DATABASE ${ident}`);
  } catch (err) {
    throw new ConfigError(`Database "${db.name}" does not exist on ${where} and user "${db.user}" cannot create it: ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.end().catch(() => undefined);
  }
}

function describePgError(e: NodeJS.ErrnoException & { code?: string }, db: PgDb, where: string): string {
  switch (e.code) {
    case 'ECONNREFUSED': return `Cannot connect to ${where}: connection refused (is PostgreSQL running and listening there?)`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `Cannot connect to PostgreSQL: host "${db.host}" not found`;
    case 'ETIMEDOUT': return `Cannot connect to ${where}: timed out`;
    case '28P01': case '28000': return `${where} refused user "${db.user}": authentication failed (check --database-user and --database-pass)`;
    default:
      if (/timeout/i.test(e.message)) return `Cannot connect to ${where}: timed out`;
      return `Cannot use ${where} (database "${db.name}", user "${db.user}"): ${e.message}`;
  }
}
