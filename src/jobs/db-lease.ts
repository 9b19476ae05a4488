import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';

const LEASE_APP = 'jobs';

/**
 * A lease on a named job held in `app_config` (app `jobs`, key `lease.<name>`, value
 * `<holder> <expiresAtMs>`), so that a job runs in one process at a time across every server
 * process sharing the database. Acquisition is a compare-and-swap on the row (insert-if-absent,
 * or update-where-value-unchanged when the previous lease expired), atomic on SQLite and PostgreSQL.
 */
export class DbLease {
  readonly #db: Db;
  readonly #key: string;
  /** Identifies this holder (process + random). */
  readonly holder: string;

  constructor(db: Db, name: string, holder = `${process.pid}-${randomBytes(6).toString('hex')}`) {
    this.#db = db;
    this.#key = `lease.${name}`;
    this.holder = holder;
  }

  /**
   * Takes (or renews) the lease for `ttlMs` when it is free, expired, or already ours.
   * @returns true when this holder now holds the lease.
   * @throws database errors.
   */
  async acquire(ttlMs: number, nowMs = Date.now()): Promise<boolean> {
    const value = `${this.holder} ${nowMs + ttlMs}`;
    const ins = await this.#db.insertInto('app_config').values({ app: LEASE_APP, key: this.#key, value })
      .onConflict((oc) => oc.columns(['app', 'key']).doNothing()).executeTakeFirst();
    if (Number(ins.numInsertedOrUpdatedRows ?? 0n) === 1) return true;
    const cur = await this.#db.selectFrom('app_config').select('value').where('app', '=', LEASE_APP).where('key', '=', this.#key).executeTakeFirst();
    if (!cur) return false; // released in between; next round
    const [holder, exp] = cur.value.split(' ');
    const expires = Number(exp);
    if (holder !== this.holder && Number.isFinite(expires) && expires > nowMs) return false;
    const up = await this.#db.updateTable('app_config').set({ value })
      .where('app', '=', LEASE_APP).where('key', '=', this.#key).where('value', '=', cur.value).executeTakeFirst();
    return Number(up.numUpdatedRows ?? 0n) === 1;
  }

  /** Gives the lease up if this holder has it. */
  async release(): Promise<void> {
    await this.#db.deleteFrom('app_config').where('app', '=', LEASE_APP).where('key', '=', this.#key)
      .where('value', 'like', `${this.holder} %`).execute();
  }
}
