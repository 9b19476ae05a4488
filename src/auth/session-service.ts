import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { NotFoundError, ValidationError } from '../errors.ts';

/** A web session as listed to its user (never the cookie value). */
export interface SessionInfo {
  readonly id: number;
  readonly uid: string;
  readonly createdAt: number;
  readonly lastActive: number;
  readonly expiresAt: number;
  readonly userAgent: string;
  readonly ip: string;
}

export interface SessionServiceOptions {
  db: Db;
  /** The instance secret: CSRF tokens are HMAC(secret, cookie value). */
  secret: string;
  /** Idle timeout in seconds (default 24 h). */
  idleSeconds?: number;
  /** Absolute lifetime in seconds (default 14 days). */
  maxAgeSeconds?: number;
  now?: () => number;
  /**
   * Called after a session starts, with its cookie value (per-user-key mode stores a wrapping of
   * the user's private key under it, so that any server process can unlock the key for it). When
   * it throws, the session is removed again and create throws: a session whose key wrapping was
   * lost would find the user's files locked on the next process or after a restart.
   */
  onCreated?: (uid: string, token: string) => Promise<void>;
  /**
   * Called with the SHA-256 hashes of sessions that ended (logout, revocation, expiry, cleanup),
   * after their rows are gone (their key wrappings are then deleted). Its failure is not the caller's.
   */
  onEnded?: (uid: string, tokenHashes: readonly string[]) => Promise<void>;
}

const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Equal-time comparison of two strings (false for different lengths). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Browser sessions of the web UI. A session id is 32 random bytes (base64url) handed to the
 * browser as a cookie and stored only as SHA-256; its CSRF token ("requesttoken") is derived as
 * HMAC-SHA256(secret, id), so nothing else needs storing. Sessions end after `idleSeconds` without
 * use or `maxAgeSeconds` after login, on logout, on revocation and when the user is deleted.
 */
export class SessionService {
  readonly #db: Db;
  readonly #secret: string;
  readonly #idle: number;
  readonly #maxAge: number;
  readonly #now: () => number;
  readonly #onCreated: SessionServiceOptions['onCreated'];
  readonly #onEnded: SessionServiceOptions['onEnded'];

  constructor(o: SessionServiceOptions) {
    this.#onCreated = o.onCreated;
    this.#onEnded = o.onEnded;
    this.#db = o.db;
    this.#secret = o.secret;
    this.#idle = o.idleSeconds ?? 24 * 3600;
    this.#maxAge = o.maxAgeSeconds ?? 14 * 24 * 3600;
    this.#now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Idle timeout in seconds. */
  get idleSeconds(): number { return this.#idle; }

  /**
   * Starts a session for `uid`.
   * @returns the cookie value (give it to the browser, never log it), its CSRF token and info
   * @throws ValidationError for an empty uid; what onCreated throws (no session is left then)
   */
  async create(uid: string, meta: { userAgent?: string; ip?: string } = {}): Promise<{ token: string; csrfToken: string; info: SessionInfo }> {
    if (!uid) throw new ValidationError('Invalid user');
    const token = randomBytes(32).toString('base64url');
    const now = this.#now();
    const row = {
      token_hash: sha256Hex(token), uid, created_at: now, last_active: now, expires_at: now + this.#maxAge,
      user_agent: (meta.userAgent ?? '').slice(0, 255), ip: (meta.ip ?? '').slice(0, 64),
    };
    const r = await this.#db.insertInto('web_sessions').values(row).returning('id').executeTakeFirstOrThrow();
    try {
      await this.#onCreated?.(uid, token);
    } catch (err) {
      await this.#db.deleteFrom('web_sessions').where('id', '=', r.id).execute();
      throw err;
    }
    return {
      token, csrfToken: this.csrfToken(token),
      info: { id: Number(r.id), uid, createdAt: now, lastActive: now, expiresAt: row.expires_at, userAgent: row.user_agent, ip: row.ip },
    };
  }

  /** The CSRF token belonging to a session cookie value. */
  csrfToken(token: string): string {
    return createHmac('sha256', this.#secret).update('coffer-csrf\0').update(token, 'utf8').digest('base64url');
  }

  /** Whether `candidate` is the CSRF token of the session `token` (constant time). */
  checkCsrf(token: string, candidate: string | undefined): boolean {
    return typeof candidate === 'string' && safeEqual(this.csrfToken(token), candidate);
  }

  /**
   * The live session of a cookie value, or undefined (unknown, idle too long, expired). Refreshes
   * its last-activity time at most once a minute.
   */
  async lookup(token: string): Promise<SessionInfo | undefined> {
    if (typeof token !== 'string' || token.length < 32 || token.length > 64) return undefined;
    const r = await this.#db.selectFrom('web_sessions').selectAll().where('token_hash', '=', sha256Hex(token)).executeTakeFirst();
    if (!r) return undefined;
    const now = this.#now();
    const info = toInfo(r);
    if (info.expiresAt <= now || info.lastActive + this.#idle <= now) {
      await this.#db.deleteFrom('web_sessions').where('id', '=', info.id).execute();
      await this.#ended([{ uid: info.uid, token_hash: String(r.token_hash) }]);
      return undefined;
    }
    if (now - info.lastActive >= 60) {
      await this.#db.updateTable('web_sessions').set({ last_active: now }).where('id', '=', info.id).execute();
      return { ...info, lastActive: now };
    }
    return info;
  }

  /** Ends the session of a cookie value (logout); no error when it is unknown. */
  async destroy(token: string): Promise<void> {
    const hash = sha256Hex(token);
    const rows = await this.#db.deleteFrom('web_sessions').where('token_hash', '=', hash).returning(['uid', 'token_hash']).execute();
    await this.#ended(rows);
  }

  /** Runs onEnded per user for deleted rows; never throws (the sessions are gone either way). */
  async #ended(rows: readonly { uid: string; token_hash: string }[]): Promise<void> {
    if (!this.#onEnded || rows.length === 0) return;
    const byUser = new Map<string, string[]>();
    for (const r of rows) byUser.set(r.uid, [...(byUser.get(r.uid) ?? []), r.token_hash]);
    for (const [uid, hashes] of byUser) await this.#onEnded(uid, hashes).catch(() => {});
  }

  /** The user's live sessions, newest activity first. */
  async list(uid: string): Promise<SessionInfo[]> {
    const now = this.#now();
    const rows = await this.#db.selectFrom('web_sessions').selectAll().where('uid', '=', uid).execute();
    return rows.map(toInfo).filter((s) => s.expiresAt > now && s.lastActive + this.#idle > now)
      .sort((a, b) => b.lastActive - a.lastActive || b.id - a.id);
  }

  /**
   * Revokes one of the user's sessions by id.
   * @throws NotFoundError when the user has no such session
   */
  async revoke(uid: string, id: number): Promise<void> {
    const rows = await this.#db.deleteFrom('web_sessions').where('uid', '=', uid).where('id', '=', id).returning(['uid', 'token_hash']).execute();
    if (rows.length === 0) throw new NotFoundError('No such session');
    await this.#ended(rows);
  }

  /** Revokes every session of the user except (optionally) one; returns how many ended. */
  async revokeAll(uid: string, exceptId?: number): Promise<number> {
    let q = this.#db.deleteFrom('web_sessions').where('uid', '=', uid);
    if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
    const rows = await q.returning(['uid', 'token_hash']).execute();
    await this.#ended(rows);
    return rows.length;
  }

  /** Deletes expired and idle sessions; returns how many. */
  async cleanup(): Promise<number> {
    const now = this.#now();
    const rows = await this.#db.deleteFrom('web_sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_active', '<=', now - this.#idle)]))
      .returning(['uid', 'token_hash']).execute();
    await this.#ended(rows);
    return rows.length;
  }
}

function toInfo(r: Record<string, unknown>): SessionInfo {
  return {
    id: Number(r.id), uid: String(r.uid), createdAt: num(r.created_at as number), lastActive: num(r.last_active as number),
    expiresAt: num(r.expires_at as number), userAgent: String(r.user_agent ?? ''), ip: String(r.ip ?? ''),
  };
}
