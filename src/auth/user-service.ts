import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { AlreadyExistsError, AuthenticationError, NotFoundError, ValidationError } from '../errors.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { CreateUserInput, UserRecord } from './types.ts';
import { TwoFactorRepository } from './two-factor-repository.ts';
import { QueryTemplate } from '../db/query-template.ts';

// Every authenticated request reads its user (templates: building a query costs more than running it).
/** Params: uid. */
const USER_BY_UID = new QueryTemplate<UserRow>((db, [uid]) => db.selectFrom('users').selectAll().where('uid', '=', uid as string));
/** Params: lower-cased uid. */
const USER_BY_LOWER_UID = new QueryTemplate<UserRow>((db, [lower]) => db.selectFrom('users').selectAll()
  .where((eb) => eb(eb.fn('lower', ['uid']), '=', lower as string)));

/** Nextcloud's user id rule: letters, digits, space, `_ . @ - '`; 1 to 64 characters. */
const UID_RE = /^[a-zA-Z0-9 _.@\-']{1,64}$/;
const MAX_PASSWORD_BYTES = 1024;
const PREF_PART_RE = /^[a-zA-Z0-9_.\-]{1,64}$/;

export interface UserServiceDeps {
  db: Db;
  hasher: PasswordHasher;
}

/**
 * Checks a user id against Nextcloud's rule.
 * @throws ValidationError when it does not match (also for '.', '..' and leading/trailing spaces).
 */
export function assertValidUid(uid: string): void {
  if (typeof uid !== 'string' || !UID_RE.test(uid)) {
    throw new ValidationError('Only the following characters are allowed in a user name: "a-z", "A-Z", "0-9", spaces and "_.@-\'" (1 to 64 characters)');
  }
  if (uid === '.' || uid === '..' || uid.trim() !== uid) {
    throw new ValidationError('Invalid user name');
  }
}

function assertValidPassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) throw new ValidationError('The password must not be empty');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw new ValidationError('The password is too long');
}

function assertPrefPart(what: string, v: string): void {
  if (typeof v !== 'string' || !PREF_PART_RE.test(v)) throw new ValidationError(`Invalid ${what}: ${JSON.stringify(v)}`);
}

type UserRow = {
  uid: string; display_name: string; email: string | null; password_hash: string;
  quota: number | string | bigint | null; enabled: number; is_admin: number;
  created_at: number | string | bigint; last_login: number | string | bigint | null;
};

function toRecord(r: UserRow): UserRecord {
  return {
    uid: r.uid,
    displayName: r.display_name,
    email: r.email,
    quota: r.quota === null ? null : num(r.quota),
    enabled: Number(r.enabled) === 1,
    isAdmin: Number(r.is_admin) === 1,
    createdAt: num(r.created_at),
    lastLogin: r.last_login === null ? null : num(r.last_login),
  };
}

/**
 * Users, their passwords (argon2id) and preferences. Deleting a user is `UserDeletionService`'s
 * job (it removes everything of theirs, then the row through `deleteRecord`).
 */
export class UserService {
  readonly #db: Db;
  readonly #hasher: PasswordHasher;

  constructor(deps: UserServiceDeps) {
    this.#db = deps.db;
    this.#hasher = deps.hasher;
  }

  /**
   * Creates a user.
   * @throws ValidationError for a bad uid, empty password, bad email or negative quota.
   * @throws AlreadyExistsError when the uid exists (compared case-insensitively, as Nextcloud does).
   */
  async create(input: CreateUserInput): Promise<UserRecord> {
    assertValidUid(input.uid);
    assertValidPassword(input.password);
    if (input.email != null && input.email !== '') assertEmail(input.email);
    if (input.quota != null) assertQuota(input.quota);
    if (await this.#findRow(input.uid, true)) throw new AlreadyExistsError(`The user "${input.uid}" already exists`);
    const passwordHash = await this.#hasher.hash(input.password);
    const row = {
      uid: input.uid,
      display_name: (input.displayName ?? '').trim() || input.uid,
      email: input.email ? input.email : null,
      password_hash: passwordHash,
      quota: input.quota ?? null,
      enabled: 1,
      is_admin: input.isAdmin ? 1 : 0,
      created_at: Math.floor(Date.now() / 1000),
      last_login: null,
    };
    try {
      await this.#db.insertInto('users').values(row).execute();
    } catch (err) {
      if (await this.#findRow(input.uid, true)) throw new AlreadyExistsError(`The user "${input.uid}" already exists`);
      throw err;
    }
    return toRecord(row);
  }

  /**
   * Creates a user carried over from another server with the password hash it had there (verified
   * by PasswordHasher, which re-hashes it at the next successful login).
   * @throws ValidationError for a bad uid; AlreadyExistsError when the uid exists
   */
  async createImported(input: { uid: string; displayName: string; email: string | null; passwordHash: string; quota: number | null; enabled: boolean; isAdmin: boolean }): Promise<void> {
    assertValidUid(input.uid);
    if (await this.#findRow(input.uid, true)) throw new AlreadyExistsError(`The user "${input.uid}" already exists`);
    await this.#db.insertInto('users').values({
      uid: input.uid, display_name: input.displayName.trim() || input.uid, email: input.email, password_hash: input.passwordHash,
      quota: input.quota, enabled: input.enabled ? 1 : 0, is_admin: input.isAdmin ? 1 : 0, created_at: Math.floor(Date.now() / 1000), last_login: null,
    }).execute();
  }

  /**
   * The user with exactly this uid.
   * @throws NotFoundError
   */
  async get(uid: string): Promise<UserRecord> {
    const r = await this.#findRow(uid, false);
    if (!r) throw new NotFoundError(`User "${uid}" does not exist`);
    return toRecord(r);
  }

  /** True when the user exists. */
  async exists(uid: string): Promise<boolean> {
    return (await this.#findRow(uid, false)) !== undefined;
  }

  /** All users ordered by uid; optional substring filter on uid/display name/email, limit and offset. */
  async list(opts: { search?: string; limit?: number; offset?: number } = {}): Promise<UserRecord[]> {
    let q = this.#db.selectFrom('users').selectAll().orderBy('uid');
    if (opts.search) {
      const s = `%${opts.search.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      q = q.where(sql<boolean>`(lower(uid) like ${s} escape '\\' or lower(display_name) like ${s} escape '\\' or lower(coalesce(email, '')) like ${s} escape '\\')`);
    }
    if (opts.limit !== undefined) q = q.limit(opts.limit);
    if (opts.offset) q = q.offset(opts.offset);
    return (await q.execute()).map(toRecord);
  }

  /** Number of users. */
  async count(): Promise<number> {
    const r = await this.#db.selectFrom('users').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return num(r.n);
  }

  /**
   * Deletes the users row, inside `trx`. Only `UserDeletionService` calls this: deleting a user
   * means deleting everything of theirs, which is its job.
   * @throws NotFoundError
   */
  async deleteRecord(trx: Db, uid: string): Promise<void> {
    const r = await trx.deleteFrom('users').where('uid', '=', uid).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`User "${uid}" does not exist`);
    // A new account of the same name must not inherit (or be locked out by) the old second factor.
    const twoFactor = new TwoFactorRepository(trx);
    await twoFactor.deleteTotp(uid);
    await twoFactor.deleteBackupCodes(uid);
  }

  /**
   * Sets a new login password (app passwords stay valid, as in Nextcloud).
   * @throws ValidationError for an empty or over-long password; NotFoundError
   */
  async setPassword(uid: string, password: string): Promise<void> {
    assertValidPassword(password);
    const h = await this.#hasher.hash(password);
    await this.#update(uid, { password_hash: h });
  }

  /**
   * Checks a login password in constant time; unknown users cost the same time as known ones.
   * `uid` may differ in case from the stored uid; the record returned has the stored one.
   * Updates `last_login` and transparently re-hashes with current parameters.
   * @throws AuthenticationError for an unknown user, a wrong password or a disabled account.
   */
  async verifyPassword(uid: string, password: string): Promise<UserRecord> {
    return (await this.verifyPasswordWithHash(uid, password)).user;
  }

  /**
   * The user id a login name refers to: the exact uid, else the one that matches ignoring case
   * (uids are unique case-insensitively, and Nextcloud logins ignore case too).
   * @returns undefined when there is no such user
   */
  async resolveLoginName(loginName: string): Promise<string | undefined> {
    return ((await this.#findRow(loginName, false)) ?? (await this.#findRow(loginName, true)))?.uid;
  }

  /**
   * As `verifyPassword`, also returning the PHC string the password matched (as stored afterwards),
   * so a cache can tell later whether the password has changed since.
   * @throws AuthenticationError
   */
  async verifyPasswordWithHash(uid: string, password: string): Promise<{ user: UserRecord; passwordHash: string }> {
    const r = typeof uid === 'string' && typeof password === 'string' && Buffer.byteLength(password) <= MAX_PASSWORD_BYTES
      ? (await this.#findRow(uid, false)) ?? (await this.#findRow(uid, true)) : undefined;
    if (!r) {
      await this.#hasher.verifyDummy(typeof password === 'string' ? password.slice(0, MAX_PASSWORD_BYTES) : '');
      throw new AuthenticationError();
    }
    const ok = await this.#hasher.verify(r.password_hash, password);
    if (!ok || Number(r.enabled) !== 1) throw new AuthenticationError();
    const now = Math.floor(Date.now() / 1000);
    let passwordHash = r.password_hash;
    if (this.#hasher.needsRehash(r.password_hash)) {
      const rehashed = await this.#hasher.hash(password);
      // only if nobody changed the password meanwhile
      const u = await this.#db.updateTable('users').set({ password_hash: rehashed })
        .where('uid', '=', r.uid).where('password_hash', '=', r.password_hash).executeTakeFirst();
      if (Number(u.numUpdatedRows) === 1) passwordHash = rehashed;
    }
    await this.#db.updateTable('users').set({ last_login: now }).where('uid', '=', r.uid).execute();
    return { user: toRecord({ ...r, last_login: now }), passwordHash };
  }

  /**
   * The stored argon2 PHC string (for the authenticator's cache key; never leaves the server).
   * @throws NotFoundError
   */
  async passwordHash(uid: string): Promise<string> {
    const r = await this.#findRow(uid, false);
    if (!r) throw new NotFoundError(`User "${uid}" does not exist`);
    return r.password_hash;
  }

  /**
   * The user and their stored PHC string in one query (the authenticator's cache check; the hash
   * never leaves the server).
   * @throws NotFoundError
   */
  async getWithHash(uid: string): Promise<{ user: UserRecord; passwordHash: string }> {
    const r = await this.#findRow(uid, false);
    if (!r) throw new NotFoundError(`User "${uid}" does not exist`);
    return { user: toRecord(r), passwordHash: r.password_hash };
  }

  /** @throws ValidationError for an empty name; NotFoundError */
  async setDisplayName(uid: string, displayName: string): Promise<void> {
    const d = (displayName ?? '').trim();
    if (d.length === 0 || d.length > 255) throw new ValidationError('Invalid display name');
    await this.#update(uid, { display_name: d });
  }

  /** Sets or clears (null or '') the email. @throws ValidationError; NotFoundError */
  async setEmail(uid: string, email: string | null): Promise<void> {
    if (email) assertEmail(email);
    await this.#update(uid, { email: email ? email : null });
  }

  /** Bytes, or null for unlimited. @throws ValidationError for a negative value; NotFoundError */
  async setQuota(uid: string, bytes: number | null): Promise<void> {
    if (bytes !== null) assertQuota(bytes);
    await this.#update(uid, { quota: bytes });
  }

  /** @throws NotFoundError */
  async setEnabled(uid: string, enabled: boolean): Promise<void> {
    await this.#update(uid, { enabled: enabled ? 1 : 0 });
  }

  /** @throws NotFoundError */
  async setAdmin(uid: string, isAdmin: boolean): Promise<void> {
    await this.#update(uid, { is_admin: isAdmin ? 1 : 0 });
  }

  /** A preference value, or undefined when unset. @throws ValidationError for bad app/key names */
  async getPreference(uid: string, app: string, key: string): Promise<string | undefined> {
    assertPrefPart('app', app);
    assertPrefPart('key', key);
    const r = await this.#db.selectFrom('user_preferences').select('value')
      .where('uid', '=', uid).where('app', '=', app).where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  /** @throws ValidationError for bad app/key names; NotFoundError for an unknown user */
  async setPreference(uid: string, app: string, key: string, value: string): Promise<void> {
    assertPrefPart('app', app);
    assertPrefPart('key', key);
    if (!(await this.exists(uid))) throw new NotFoundError(`User "${uid}" does not exist`);
    await this.#db.insertInto('user_preferences').values({ uid, app, key, value: String(value) })
      .onConflict((oc) => oc.columns(['uid', 'app', 'key']).doUpdateSet({ value: String(value) }))
      .execute();
  }

  /**
   * Deletes one preference.
   * @throws NotFoundError when it was not set; ValidationError for bad names
   */
  async deletePreference(uid: string, app: string, key: string): Promise<void> {
    assertPrefPart('app', app);
    assertPrefPart('key', key);
    const r = await this.#db.deleteFrom('user_preferences')
      .where('uid', '=', uid).where('app', '=', app).where('key', '=', key).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`The setting ${app}/${key} is not set for "${uid}"`);
  }

  /** One preference of every user who has it set, `{uid: value}` by uid (Nextcloud's getUserValueForUsers). @throws ValidationError for bad names */
  async preferenceOfAll(app: string, key: string): Promise<Record<string, string>> {
    assertPrefPart('app', app);
    assertPrefPart('key', key);
    const rows = await this.#db.selectFrom('user_preferences').select(['uid', 'value']).where('app', '=', app).where('key', '=', key).orderBy('uid').execute();
    return Object.fromEntries(rows.map((r) => [r.uid, r.value]));
  }

  /** Preferences as `{app: {key: value}}`, optionally of one app. */
  async listPreferences(uid: string, app?: string): Promise<Record<string, Record<string, string>>> {
    let q = this.#db.selectFrom('user_preferences').select(['app', 'key', 'value']).where('uid', '=', uid).orderBy('app').orderBy('key');
    if (app !== undefined) q = q.where('app', '=', app);
    const out: Record<string, Record<string, string>> = {};
    for (const r of await q.execute()) (out[r.app] ??= {})[r.key] = r.value;
    return out;
  }

  async #findRow(uid: string, caseInsensitive: boolean): Promise<UserRow | undefined> {
    if (typeof uid !== 'string' || uid.length === 0 || uid.length > 64) return undefined;
    return caseInsensitive
      ? (await USER_BY_LOWER_UID.execute(this.#db, [uid.toLowerCase()])).rows[0]
      : (await USER_BY_UID.execute(this.#db, [uid])).rows[0];
  }

  async #update(uid: string, patch: Record<string, string | number | null>): Promise<void> {
    const r = await this.#db.updateTable('users').set(patch).where('uid', '=', uid).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new NotFoundError(`User "${uid}" does not exist`);
  }
}

function assertEmail(email: string): void {
  if (typeof email !== 'string' || email.length > 255 || !/^[^\s@]+@[^\s@]+$/.test(email)) throw new ValidationError('Invalid email address');
}

function assertQuota(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ValidationError('Invalid quota');
}
