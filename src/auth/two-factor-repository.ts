import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { QueryTemplate } from '../db/query-template.ts';

/** Params: uid. Every password login asks it (whether a second factor is due). */
const TOTP_OF = new QueryTemplate<{ secret_sealed: string; enabled: number | string; last_step: number | string }>((db, [uid]) => db
  .selectFrom('two_factor_totp').select(['secret_sealed', 'enabled', 'last_step']).where('uid', '=', uid as string));

/** A user's TOTP row. */
export interface TotpRow {
  readonly secretSealed: string;
  readonly enabled: boolean;
  readonly lastStep: number;
}

/**
 * Rows of two-factor authentication: one TOTP secret per user (pending or enabled) and backup
 * codes. The updates that decide whether a code counts are single conditional statements, so two
 * parallel requests with the same code cannot both succeed (in any number of server processes).
 */
export class TwoFactorRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  async getTotp(uid: string): Promise<TotpRow | undefined> {
    const r = (await TOTP_OF.execute(this.#db, [uid])).rows[0];
    return r && { secretSealed: r.secret_sealed, enabled: Number(r.enabled) === 1, lastStep: num(r.last_step) };
  }

  /** Stores a pending (not yet verified) secret, replacing an older pending one. @returns false when TOTP is already enabled */
  async putPendingTotp(uid: string, secretSealed: string, now: number): Promise<boolean> {
    const r = await this.#db.insertInto('two_factor_totp')
      .values({ uid, secret_sealed: secretSealed, enabled: 0, last_step: 0, created_at: now })
      .onConflict((oc) => oc.column('uid').doUpdateSet({ secret_sealed: secretSealed, last_step: 0, created_at: now }).where('two_factor_totp.enabled', '=', 0))
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Turns a pending secret on, with `step` as used. @returns false when there was no pending secret */
  async enableTotp(uid: string, step: number): Promise<boolean> {
    const r = await this.#db.updateTable('two_factor_totp').set({ enabled: 1, last_step: step })
      .where('uid', '=', uid).where('enabled', '=', 0).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Marks `step` used if it is newer than the last used one. @returns false for a replayed (or older) step */
  async useStep(uid: string, step: number): Promise<boolean> {
    const r = await this.#db.updateTable('two_factor_totp').set({ last_step: step })
      .where('uid', '=', uid).where('enabled', '=', 1).where('last_step', '<', step).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** @returns whether a row was deleted */
  async deleteTotp(uid: string): Promise<boolean> {
    const r = await this.#db.deleteFrom('two_factor_totp').where('uid', '=', uid).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Replaces all backup codes of `uid` by these hashes. */
  async replaceBackupCodes(uid: string, hashes: readonly string[], now: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('two_factor_backup_codes').where('uid', '=', uid).execute();
      if (hashes.length) await trx.insertInto('two_factor_backup_codes').values(hashes.map((h) => ({ uid, code_hash: h, used_at: null, created_at: now }))).execute();
    });
  }

  /** Uses the unused backup code with this hash. @returns false when there is none */
  async useBackupCode(uid: string, hash: string, now: number): Promise<boolean> {
    const r = await this.#db.updateTable('two_factor_backup_codes').set({ used_at: now })
      .where('uid', '=', uid).where('code_hash', '=', hash).where('used_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async countBackupCodes(uid: string): Promise<{ total: number; remaining: number }> {
    const rows = await this.#db.selectFrom('two_factor_backup_codes').select('used_at').where('uid', '=', uid).execute();
    return { total: rows.length, remaining: rows.filter((r) => r.used_at === null).length };
  }

  /** @returns whether any code was deleted */
  async deleteBackupCodes(uid: string): Promise<boolean> {
    const r = await this.#db.deleteFrom('two_factor_backup_codes').where('uid', '=', uid).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
