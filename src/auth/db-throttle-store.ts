import { sql } from 'kysely';
import { isPostgres, transact, type Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import type { Reservation, Tally, ThrottleStore } from './throttle-store.ts';
import { QueryTemplate } from '../db/query-template.ts';

// Every authenticated request asks both (templates: building a query costs more than running it).
/** Params: key, since. */
const PEEK = new QueryTemplate<{ ts: number | string }>((db, [key, since]) => db
  .selectFrom('bruteforce_attempts').select('ts').where('key', '=', key as string).where('ts', '>=', since as number).orderBy('ts').orderBy('id'));
/** Params: key. */
const MARKED = new QueryTemplate<{ expires_at: number | string }>((db, [key]) => db
  .selectFrom('bruteforce_marks').select('expires_at').where('key', '=', key as string));

/**
 * ThrottleStore in the instance's database (SQLite or PostgreSQL): the default without Redis, so
 * that `./occ security:bruteforce:*` and every server process see one count. `reserve` counts and
 * inserts in one transaction that holds a per-key lock: on SQLite the process's one connection
 * serialises transactions; on PostgreSQL a transaction-scoped advisory lock on the key's hash
 * does (READ COMMITTED alone would let two transactions both see "one below the limit").
 * Only attempts that need a password check and marks of known clients are written; valid app
 * passwords and sessions never reach it.
 */
export class DbThrottleStore implements ThrottleStore {
  readonly #db: Db;
  readonly #pg: boolean;
  readonly #maxPerKey: number;
  #writes = 0;

  constructor(db: Db, opts: { maxPerKey?: number } = {}) {
    this.#db = db;
    this.#pg = isPostgres(db);
    this.#maxPerKey = opts.maxPerKey ?? 1000;
  }

  async reserve(key: string, tag: string, ts: number, windowMs: number, max: number): Promise<Reservation> {
    const since = ts - windowMs;
    const r = await transact(this.#db, async (trx) => {
      if (this.#pg) await sql`SELECT pg_advisory_xact_lock(hashtextextended(${'coffer-throttle:' + key}, 0))`.execute(trx);
      await trx.deleteFrom('bruteforce_attempts').where('key', '=', key).where('ts', '<', since).execute();
      const rows = await trx.selectFrom('bruteforce_attempts').select(['id', 'ts']).where('key', '=', key)
        .orderBy('ts').orderBy('id').execute();
      const count = rows.length;
      if (max > 0 && count >= max) return { admitted: false, count, freeAt: num(rows[count - max].ts) + windowMs };
      if (count + 1 > this.#maxPerKey) {
        const drop = rows.slice(0, count + 1 - this.#maxPerKey).map((x) => x.id);
        await trx.deleteFrom('bruteforce_attempts').where('id', 'in', drop).execute();
      }
      const ins = await trx.insertInto('bruteforce_attempts').values({ key, tag, ts }).returning('id').executeTakeFirstOrThrow();
      return { admitted: true, count, id: String(ins.id) };
    });
    this.#maybeSweep(ts, windowMs);
    return r;
  }

  async peek(key: string, since: number, windowMs: number, max: number): Promise<Tally> {
    const { rows } = await PEEK.execute(this.#db, [key, since]);
    const count = rows.length;
    return max > 0 && count >= max ? { count, freeAt: num(rows[count - max].ts) + windowMs } : { count };
  }

  async release(key: string, id: string): Promise<void> {
    await this.#db.deleteFrom('bruteforce_attempts').where('key', '=', key).where('id', '=', Number(id)).execute();
  }

  async removeTag(key: string, tag: string): Promise<void> {
    await this.#db.deleteFrom('bruteforce_attempts').where('key', '=', key).where('tag', '=', tag).execute();
  }

  async clear(key: string): Promise<void> {
    await this.#db.deleteFrom('bruteforce_attempts').where('key', '=', key).execute();
  }

  async mark(key: string, now: number, ttlMs: number): Promise<void> {
    const expires = now + ttlMs;
    await this.#db.insertInto('bruteforce_marks').values({ key, expires_at: expires })
      .onConflict((oc) => oc.column('key').doUpdateSet({ expires_at: expires })).execute();
  }

  async marked(key: string, now: number): Promise<boolean> {
    const row = (await MARKED.execute(this.#db, [key])).rows[0];
    return row !== undefined && num(row.expires_at) > now;
  }

  /** Every ~100 writes: drop attempts past the window and expired marks of all keys (bounded table). */
  #maybeSweep(now: number, windowMs: number): void {
    if (++this.#writes % 100 !== 0) return;
    void (async () => {
      await this.#db.deleteFrom('bruteforce_attempts').where('ts', '<', now - windowMs).execute();
      await this.#db.deleteFrom('bruteforce_marks').where('expires_at', '<', now).execute();
    })().catch(() => { /* the next sweep retries; counting never depends on it */ });
  }
}
