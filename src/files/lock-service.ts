import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { isPostgres, type Db } from '../db/database.ts';
import { QueryTemplate } from '../db/query-template.ts';
import { num } from '../db/schema.ts';
import { ConflictError, LockedError, PreconditionFailedError, ValidationError } from '../errors.ts';

/** An active WebDAV write lock. */
export interface Lock {
  /** `opaquelocktoken:<uuid>` */
  readonly token: string;
  /** uid whose tree holds the locked path. */
  readonly owner: string;
  /** Locked path (lock root), relative to the owner's root; '' is the root. */
  readonly path: string;
  readonly depth: 0 | 'infinity';
  readonly scope: 'exclusive' | 'shared';
  /** The client's `<D:owner>` inner XML, echoed back in lock discovery. */
  readonly ownerXml: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly createdAt: number;
}

export interface LockRequest {
  scope: 'exclusive' | 'shared';
  depth: 0 | 'infinity';
  ownerXml?: string;
  /** Requested timeout in seconds (already capped by `parseTimeout`). */
  timeoutSeconds?: number;
}

/** Default lock timeout: 30 minutes. */
export const DEFAULT_LOCK_TIMEOUT = 30 * 60;
/** Longest lock timeout granted (also for `Infinite`): one day. */
export const MAX_LOCK_TIMEOUT = 24 * 60 * 60;

const TOKEN_PREFIX = 'opaquelocktoken:';
const MAX_OWNER_XML = 8 * 1024;

/**
 * Parses a `Timeout` header (`Second-N, Infinite`, first acceptable value wins), capped at
 * MAX_LOCK_TIMEOUT; missing or unparsable → DEFAULT_LOCK_TIMEOUT.
 */
export function parseTimeout(header: string | undefined): number {
  if (!header) return DEFAULT_LOCK_TIMEOUT;
  for (const part of header.split(',')) {
    const t = part.trim();
    if (/^infinite$/i.test(t)) return MAX_LOCK_TIMEOUT;
    const m = /^second-(\d{1,12})$/i.exec(t);
    if (m) return Math.max(1, Math.min(MAX_LOCK_TIMEOUT, Number(m[1])));
  }
  return DEFAULT_LOCK_TIMEOUT;
}

/** True when `p` is `ancestor` itself or lies below it ('' is the root, above everything). */
export function isSameOrBelow(p: string, ancestor: string): boolean {
  return ancestor === '' || p === ancestor || p.startsWith(ancestor + '/');
}

/** True when `lock` covers `path`: its root, or a descendant under a depth-infinity lock. */
export function lockCovers(lock: Lock, path: string): boolean {
  return lock.path === path || (lock.depth === 'infinity' && isSameOrBelow(path, lock.path));
}

type Row = {
  token: string; owner: string; path: string; depth: number; scope: string; owner_xml: string;
  expires_at: number | string | bigint; created_at: number | string | bigint;
};

function toLock(r: Row): Lock {
  return {
    token: r.token, owner: r.owner, path: r.path,
    depth: r.depth === 0 ? 0 : 'infinity',
    scope: r.scope === 'shared' ? 'shared' : 'exclusive',
    ownerXml: r.owner_xml,
    expiresAt: num(r.expires_at), createdAt: num(r.created_at),
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Run before every write request (lock enforcement): compiled once. */
const ACTIVE_LOCKS = new QueryTemplate((db, p) => db.selectFrom('locks').selectAll().where('owner', '=', p[0] as string).where('expires_at', '>', p[1] as number));

/**
 * WebDAV write locks, stored in the `locks` table so that several server processes share them.
 * Locks belong to a path in a user's tree and are enforced by token (whoever presents the token
 * may write), never by user. Expired locks are ignored everywhere and purged lazily.
 */
export class LockService {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Active locks in `uid`'s tree (lock counts per user are small, so paths are matched in JS). */
  async active(uid: string, now = nowSeconds()): Promise<Lock[]> {
    const { rows } = await ACTIVE_LOCKS.execute(this.#db, [uid, now]);
    return rows.map((r) => toLock(r as Row));
  }

  /** Active locks that cover `path` (on it, or depth-infinity on an ancestor). */
  async covering(uid: string, path: string, now = nowSeconds()): Promise<Lock[]> {
    return (await this.active(uid, now)).filter((l) => lockCovers(l, path));
  }

  /**
   * Active locks that a change of `path` at `depth` touches: the covering locks and, for depth
   * infinity, every lock rooted below `path`.
   */
  async affecting(uid: string, path: string, depth: 0 | 'infinity', now = nowSeconds()): Promise<Lock[]> {
    return (await this.active(uid, now)).filter((l) => lockCovers(l, path) || (depth === 'infinity' && isSameOrBelow(l.path, path)));
  }

  /** The active lock with this token, if any. */
  async byToken(token: string, now = nowSeconds()): Promise<Lock | undefined> {
    const r = await this.#db.selectFrom('locks').selectAll().where('token', '=', token).where('expires_at', '>', now).executeTakeFirst();
    return r ? toLock(r as Row) : undefined;
  }

  /**
   * Creates a lock on `path`. Exclusive conflicts with any lock, shared with exclusive ones; a
   * depth-infinity lock also conflicts with locks below `path`.
   * @throws LockedError on a conflict; ValidationError for an oversized owner.
   */
  async lock(uid: string, path: string, req: LockRequest, now = nowSeconds()): Promise<Lock> {
    const ownerXml = req.ownerXml ?? '';
    if (ownerXml.length > MAX_OWNER_XML) throw new ValidationError('Lock owner too long');
    const timeout = Math.max(1, Math.min(MAX_LOCK_TIMEOUT, req.timeoutSeconds ?? DEFAULT_LOCK_TIMEOUT));
    const lock: Lock = {
      token: TOKEN_PREFIX + randomUUID(), owner: uid, path, depth: req.depth, scope: req.scope,
      ownerXml, expiresAt: now + timeout, createdAt: now,
    };
    await this.#db.transaction().execute(async (trx) => {
      await this.#serialize(trx, uid);
      await trx.deleteFrom('locks').where('owner', '=', uid).where('expires_at', '<=', now).execute();
      const rows = await trx.selectFrom('locks').selectAll().where('owner', '=', uid).execute();
      for (const other of rows.map((r) => toLock(r as Row))) {
        const overlaps = lockCovers(other, path) || (req.depth === 'infinity' && isSameOrBelow(other.path, path));
        if (overlaps && (req.scope === 'exclusive' || other.scope === 'exclusive')) {
          throw new LockedError('The resource is locked');
        }
      }
      await trx.insertInto('locks').values({
        token: lock.token, owner: uid, path, depth: req.depth === 0 ? 0 : -1, scope: req.scope,
        owner_xml: ownerXml, expires_at: lock.expiresAt, created_at: now,
      }).execute();
    });
    return lock;
  }

  /** Serializes lock creation per user (PostgreSQL advisory lock; SQLite transactions begin immediate, which serializes writers of every process). */
  async #serialize(trx: Db, uid: string): Promise<void> {
    if (isPostgres(trx)) {
      await sql`select pg_advisory_xact_lock(hashtext(${'coffer-locks:' + uid}))`.execute(trx);
    }
  }

  /**
   * Extends the lock with `token`, which must cover `path` (refresh works through a member's URL
   * of a depth-infinity lock).
   * @throws PreconditionFailedError when no active lock with that token covers the path.
   */
  async refresh(uid: string, path: string, token: string, timeoutSeconds = DEFAULT_LOCK_TIMEOUT, now = nowSeconds()): Promise<Lock> {
    const lock = await this.byToken(token, now);
    if (!lock || lock.owner !== uid || !lockCovers(lock, path)) throw new PreconditionFailedError('No matching lock to refresh');
    const expiresAt = now + Math.max(1, Math.min(MAX_LOCK_TIMEOUT, timeoutSeconds));
    await this.#db.updateTable('locks').set({ expires_at: expiresAt }).where('token', '=', token).execute();
    return { ...lock, expiresAt };
  }

  /**
   * Removes the lock with `token`, which must cover `path`.
   * @throws ConflictError when no such lock covers the path (409 lock-token-matches-request-uri).
   */
  async unlock(uid: string, path: string, token: string, now = nowSeconds()): Promise<void> {
    const lock = await this.byToken(token, now);
    if (!lock || lock.owner !== uid || !lockCovers(lock, path)) throw new ConflictError('Lock token does not match the request URI');
    await this.#db.deleteFrom('locks').where('token', '=', token).execute();
  }

  /** Removes every lock rooted at `path` or below it (after DELETE, or on a MOVE's source). */
  async removeUnder(uid: string, path: string): Promise<void> {
    if (path === '') {
      await this.#db.deleteFrom('locks').where('owner', '=', uid).execute();
      return;
    }
    const like = path.replace(/[\\%_]/g, (c) => '\\' + c) + '/%';
    await this.#db.deleteFrom('locks').where('owner', '=', uid)
      .where((eb) => eb.or([eb('path', '=', path), eb('path', 'like', sql<string>`${like} escape '\\'`)]))
      .execute();
  }

  /** Deletes expired locks; returns how many. */
  async purgeExpired(now = nowSeconds()): Promise<number> {
    const r = await this.#db.deleteFrom('locks').where('expires_at', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }
}
