import { createHash, randomInt } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { NotFoundError, ValidationError } from '../errors.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** App passwords are 72 characters of [A-Za-z0-9], as Nextcloud's. */
export const APP_PASSWORD_LENGTH = 72;
const TOKEN_RE = /^[A-Za-z0-9]{72}$/;
/** `last_used` is written at most this often per token (seconds). */
const LAST_USED_GRANULARITY = 60;

/** An app password as listed (never the token itself). */
export interface AppPasswordInfo {
  readonly id: number;
  readonly uid: string;
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsed: number | null;
}

/** True when `s` has the shape of an app password (a cheap pre-check before a lookup). */
export function looksLikeAppPassword(s: string): boolean {
  return TOKEN_RE.test(s);
}

/**
 * Per-user keys' wrappings of a user's private key under a token (encryption/user-keys.ts), so
 * that a client logging in with the app password can unlock the key.
 */
export interface TokenKeyWrappings {
  /**
   * Stores a wrapping under `token`; false when none is made (master-key mode, or the key is not
   * unlocked in this process).
   * @throws the key storage's write error
   */
  addTokenWrapping(uid: string, token: string): Promise<boolean>;
  /** Deletes the wrappings of the tokens with these SHA-256 hashes. @throws the key storage's error */
  deleteTokenWrappings(uid: string, tokenHashes: readonly string[]): Promise<void>;
}

function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * App passwords carried over from Nextcloud keep Nextcloud's hash, hex sha512(token . secret), whose
 * first 61 digits are stored behind this prefix (the column holds 64 characters); the old instance
 * secret sits in app config until the last of them has been used once and re-stored as SHA-256.
 */
const NC_TOKEN_PREFIX = 'nc:';
/** Where the import keeps Nextcloud's instance secret (its app passwords' hashes need it). */
export const NC_SECRET = { app: 'import_nextcloud', key: 'token_secret' } as const;

function ncTokenHash(token: string, secret: string): string {
  return NC_TOKEN_PREFIX + createHash('sha512').update(token + secret, 'utf8').digest('hex').slice(0, 64 - NC_TOKEN_PREFIX.length);
}

/**
 * Device-specific app passwords (Nextcloud's "app tokens"): random 72-character strings, shown
 * once at creation and stored only as SHA-256 (their entropy makes a slow hash unnecessary).
 */
export class AppPasswordService {
  readonly #db: Db;
  readonly #keys: TokenKeyWrappings | undefined;
  /**
   * @param deps.keys per-user keys: a new app password gets its own wrapping of the private key;
   *   revoking deletes the wrappings first (if that throws, nothing is revoked).
   */
  constructor(deps: { db: Db; keys?: TokenKeyWrappings }) {
    this.#db = deps.db;
    this.#keys = deps.keys;
  }

  async #hashes(uid: string, id?: number): Promise<string[]> {
    let q = this.#db.selectFrom('app_passwords').select('token_hash').where('uid', '=', uid);
    if (id !== undefined) q = q.where('id', '=', id);
    return (await q.execute()).map((r) => r.token_hash);
  }

  /**
   * Creates an app password for `uid` named `name` (the client's user agent, say).
   * @returns the token (show it once) and its info
   * @throws ValidationError for an empty/over-long name; the key storage's error when the key
   *   wrapping cannot be written (the app password is then removed again: one that could never
   *   unlock the user's files would fail later, far from the cause)
   */
  async create(uid: string, name: string): Promise<{ token: string; info: AppPasswordInfo }> {
    const n = (name ?? '').trim().slice(0, 255) || 'app password';
    if (typeof uid !== 'string' || uid === '') throw new ValidationError('Invalid user');
    let token = '';
    for (let i = 0; i < APP_PASSWORD_LENGTH; i++) token += ALPHABET[randomInt(ALPHABET.length)];
    const createdAt = Math.floor(Date.now() / 1000);
    const row = await this.#db.insertInto('app_passwords')
      .values({ uid, name: n, token_hash: sha256Hex(token), created_at: createdAt, last_used: null })
      .returning('id').executeTakeFirstOrThrow();
    const id = Number(row.id);
    try {
      await this.#keys?.addTokenWrapping(uid, token);
    } catch (err) {
      await this.#db.deleteFrom('app_passwords').where('id', '=', id).execute();
      throw err;
    }
    return { token, info: { id, uid, name: n, createdAt, lastUsed: null } };
  }

  /** The user's app passwords, oldest first. */
  async list(uid: string): Promise<AppPasswordInfo[]> {
    const rows = await this.#db.selectFrom('app_passwords').select(['id', 'uid', 'name', 'created_at', 'last_used'])
      .where('uid', '=', uid).orderBy('id').execute();
    return rows.map((r) => ({ id: Number(r.id), uid: r.uid, name: r.name, createdAt: num(r.created_at), lastUsed: r.last_used === null ? null : num(r.last_used) }));
  }

  /**
   * Revokes one app password of `uid`.
   * @throws NotFoundError when `uid` has no app password with this id
   */
  async revoke(uid: string, id: number): Promise<void> {
    const hashes = await this.#hashes(uid, id);
    if (hashes.length === 0) throw new NotFoundError('No such app password');
    await this.#keys?.deleteTokenWrappings(uid, hashes);
    const r = await this.#db.deleteFrom('app_passwords').where('uid', '=', uid).where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError('No such app password');
  }

  /**
   * Revokes the app password `token` of `uid`.
   * @throws NotFoundError when it does not exist
   */
  async revokeToken(uid: string, token: string): Promise<void> {
    const hash = sha256Hex(token);
    if (!(await this.#hashes(uid)).includes(hash)) throw new NotFoundError('No such app password');
    await this.#keys?.deleteTokenWrappings(uid, [hash]);
    const r = await this.#db.deleteFrom('app_passwords').where('uid', '=', uid).where('token_hash', '=', sha256Hex(token)).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError('No such app password');
  }

  /** Revokes every app password of `uid`; returns how many there were. */
  async revokeAll(uid: string): Promise<number> {
    const hashes = await this.#hashes(uid);
    if (hashes.length > 0) await this.#keys?.deleteTokenWrappings(uid, hashes);
    const r = await this.#db.deleteFrom('app_passwords').where('uid', '=', uid).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * Finds the app password `token` of `uid` (the lookup is by SHA-256, so its timing reveals nothing
   * about the token) and notes its use.
   * @returns its id, or undefined when `uid` has no such token
   */
  async find(uid: string, token: string): Promise<number | undefined> {
    if (!looksLikeAppPassword(token)) return undefined;
    const row = await this.#db.selectFrom('app_passwords').select(['id', 'last_used'])
      .where('uid', '=', uid).where('token_hash', '=', sha256Hex(token)).executeTakeFirst()
      ?? await this.#findImported(uid, token);
    if (!row) return undefined;
    await this.#touch(Number(row.id), row.last_used);
    return Number(row.id);
  }

  /**
   * Carries over Nextcloud app passwords (oc_authtoken rows of type 1) with their hashes, and the
   * Nextcloud instance secret those hashes need.
   */
  async importNextcloud(tokens: readonly { uid: string; name: string; tokenHash: string; createdAt: number }[], secret: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('app_config').values({ app: NC_SECRET.app, key: NC_SECRET.key, value: secret })
        .onConflict((oc) => oc.columns(['app', 'key']).doUpdateSet({ value: secret })).execute();
      for (const t of tokens) {
        const h = NC_TOKEN_PREFIX + t.tokenHash.toLowerCase().slice(0, 64 - NC_TOKEN_PREFIX.length);
        const exists = await trx.selectFrom('app_passwords').select('id').where('token_hash', '=', h).executeTakeFirst();
        if (!exists) await trx.insertInto('app_passwords').values({ uid: t.uid, name: t.name.slice(0, 255), token_hash: h, created_at: t.createdAt, last_used: null }).execute();
      }
    });
  }

  /** An imported Nextcloud app password matching `token`, re-stored as SHA-256 on its first use. */
  async #findImported(uid: string, token: string): Promise<{ id: number; last_used: number | string | bigint | null } | undefined> {
    const secret = await this.#db.selectFrom('app_config').select('value').where('app', '=', NC_SECRET.app).where('key', '=', NC_SECRET.key).executeTakeFirst();
    if (!secret) return undefined;
    const h = ncTokenHash(token, secret.value);
    const row = await this.#db.selectFrom('app_passwords').select(['id', 'last_used']).where('uid', '=', uid).where('token_hash', '=', h).executeTakeFirst();
    if (!row) return undefined;
    await this.#db.updateTable('app_passwords').set({ token_hash: sha256Hex(token) }).where('id', '=', row.id).where('token_hash', '=', h).execute();
    return row;
  }

  /** True when app password `id` of `uid` still exists (revocation check for cached credentials). */
  async stillValid(uid: string, id: number): Promise<boolean> {
    const row = await this.#db.selectFrom('app_passwords').select(['id', 'last_used']).where('uid', '=', uid).where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    await this.#touch(id, row.last_used);
    return true;
  }

  async #touch(id: number, lastUsed: number | string | bigint | null): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    if (lastUsed !== null && now - num(lastUsed) < LAST_USED_GRANULARITY) return;
    await this.#db.updateTable('app_passwords').set({ last_used: now }).where('id', '=', id).execute();
  }
}
