import { randomBytes } from 'node:crypto';
import { fsyncDirSync } from '../storage/durable-fs.ts';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { parseAddressRange } from './address-range.ts';

const databaseSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('sqlite'), path: z.string().min(1) }),
  z.object({
    type: z.literal('pgsql'),
    host: z.string().min(1),
    port: z.number().int().positive().default(5432),
    name: z.string().min(1),
    user: z.string().min(1),
    password: z.string().default(''),
  }),
]);

const storageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('local') }),
  z.object({
    type: z.literal('s3'),
    endpoint: z.string().min(1),
    bucket: z.string().min(1),
    region: z.string().default('us-east-1'),
    accessKey: z.string().min(1),
    secretKey: z.string().min(1),
    pathStyle: z.boolean().default(true),
    /** Key prefix inside the bucket (empty or ending in '/'). */
    prefix: z.string().optional(),
  }),
]);

/**
 * Master key custody (`./occ encryption:key-holder:set`): the config secret (default) or a PKCS#11
 * token. The PIN is never stored here: it comes from an environment variable or a file (strict: a
 * `pin` key is refused).
 */
const keyHolderSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('secret') }).strict(),
  z.object({
    type: z.literal('pkcs11'),
    module: z.string().min(1),
    tokenLabel: z.string().min(1).max(32),
    pinEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
    pinFile: z.string().min(1).optional(),
    keyLabel: z.string().min(1).max(64).optional(),
    /** How the token wraps the master key (docs/HSM.md): auto = AES-GCM, else AES key wrap with padding, else AES-CBC. */
    mechanism: z.enum(['auto', 'aes-gcm', 'aes-key-wrap-pad', 'aes-cbc']).optional(),
  }).strict(),
]);

/** Shape of `config/config.json`, validated once at start. */
/** A retention obligation as Nextcloud accepts it (one or two of `auto` and day counts, or `disabled`). */
const RETENTION_SYNTAX = /^\s*(disabled|(auto|\d+)\s*(,\s*(auto|\d+)\s*)?)$/;

export const configSchema = z.object({
  installed: z.boolean(),
  instanceid: z.string().regex(/^[a-z0-9]{6,32}$/),
  /** Instance secret: the root of master-key mode. Never logged. */
  secret: z.string().min(32),
  datadirectory: z.string().min(1),
  database: databaseSchema,
  storage: storageSchema.default({ type: 'local' }),
  /** Who wraps the master key (see keyHolderSchema). */
  keyHolder: keyHolderSchema.default({ type: 'secret' }),
  redis: z.object({ host: z.string(), port: z.number().int().positive() }).optional(),
  loglevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /**
   * Trusted proxies (peer addresses) whose X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host
   * are believed: client IP for throttling, public scheme and host for URLs and cookies.
   */
  trustedProxies: z.array(z.string()).default([]),
  /** Nextcloud's `overwriteprotocol`: the scheme of every URL Coffer makes (a TLS proxy that sends no X-Forwarded-Proto). */
  overwriteprotocol: z.enum(['http', 'https']).optional(),
  /** Nextcloud's `overwritehost`: the host[:port] of every URL Coffer makes. */
  overwritehost: z.string().regex(/^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/).optional(),
  /** Nextcloud's `overwrite.cli.url`: the base URL of links made outside a request (./occ), e.g. https://cloud.example.org */
  'overwrite.cli.url': z.string().url().regex(/^https?:\/\//).optional(),
  /**
   * Strict-Transport-Security: sent on every response served over TLS directly; behind a TLS proxy
   * (trusted X-Forwarded-Proto or overwriteprotocol https) only with `behindProxy` (the proxy may send
   * its own). `maxAge` 0 turns it off.
   */
  hsts: z.object({
    maxAge: z.number().int().min(0).default(15_552_000),
    includeSubDomains: z.boolean().default(false),
    behindProxy: z.boolean().default(false),
  }).strict().default({ maxAge: 15_552_000, includeSubDomains: false, behindProxy: false }),
  /**
   * Brute-force protection (docs/BRUTEFORCE.md). `allowlist`: address ranges (CIDR, IPv4/IPv6)
   * that are never throttled, as Nextcloud's brute-force whitelist.
   */
  /** Nextcloud's `versions_retention_obligation` (src/versions/retention-policy.ts): auto, D, auto, auto, D, D1, D2, disabled. */
  /** Nextcloud's `activity_expire_days`: activity rows older than this many days are deleted (src/activity/). */
  activity_expire_days: z.number().int().min(1).max(36_500).default(365),
  versions_retention_obligation: z.string().regex(RETENTION_SYNTAX, 'auto, "D, auto", "auto, D", "D1, D2" or disabled').default('auto'),
  /** Nextcloud's `trashbin_retention_obligation` (same syntax; `auto` keeps 30 days, then deletes when space is needed). */
  trashbin_retention_obligation: z.string().regex(RETENTION_SYNTAX, 'auto, "D, auto", "auto, D", "D1, D2" or disabled').default('auto'),
  bruteforce: z.object({
    allowlist: z.array(z.string().refine((s) => parseAddressRange(s) !== undefined, 'not an IPv4/IPv6 address or CIDR range')).default([]),
  }).strict().default({ allowlist: [] }),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Path of the config file: `$COFFER_CONFIG`, else `config/config.json` under the working directory. */
export function configPath(): string {
  return resolve(process.env.COFFER_CONFIG ?? 'config/config.json');
}

/**
 * Loads and validates the config file.
 * @throws ConfigError when the file is missing, not JSON, or invalid (the message names the field).
 */
export function loadConfig(path = configPath()): Config {
  if (!existsSync(path)) {
    throw new ConfigError(`Coffer is not installed: no config file at ${path} (run ./occ maintenance:install, or set COFFER_CONFIG)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`Config file ${path} is not valid JSON`, { cause: err });
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`Config file ${path} is invalid: ${issues}`);
  }
  const cfg = parsed.data;
  const base = dirname(path);
  cfg.datadirectory = resolve(base, cfg.datadirectory);
  if (cfg.database.type === 'sqlite') cfg.database.path = resolve(base, cfg.database.path);
  return Object.freeze(cfg);
}

/** Writes the config file atomically (temp file, fsync, rename), mode 0600. */
export function saveConfig(path: string, cfg: z.input<typeof configSchema>): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDirSync(dirname(path)); // the rename is durable only once its folder is
}

/** A fresh random instance id (Nextcloud style: `oc` + 10 chars). */
export function newInstanceId(): string {
  return 'oc' + randomBytes(8).toString('hex').slice(0, 10);
}

/** A fresh random instance secret (48 random bytes, base64). */
export function newSecret(): string {
  return randomBytes(48).toString('base64');
}
