import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';

/** A stored notification. */
export interface NotificationRow {
  readonly id: number;
  readonly uid: string;
  readonly app: string;
  readonly objectType: string;
  readonly objectId: string;
  /** Who caused it (a user id; '' for the server). */
  readonly actor: string;
  readonly subject: string;
  readonly message: string;
  readonly link: string;
  /** Seconds since the epoch. */
  readonly createdAt: number;
}

function toRow(r: Record<string, unknown>): NotificationRow {
  return {
    id: num(r.id as number), uid: r.uid as string, app: r.app as string, objectType: r.object_type as string,
    objectId: r.object_id as string, actor: r.actor as string, subject: r.subject as string, message: r.message as string,
    link: r.link as string, createdAt: num(r.created_at as number),
  };
}

/** The `notifications` table. Every read and delete names the user, so no query reaches another user's rows. */
export class NotificationRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  /** Inserts rows; their ids, in order. */
  async insert(rows: readonly Omit<NotificationRow, 'id'>[]): Promise<number[]> {
    const ids: number[] = [];
    await this.#db.transaction().execute(async (trx) => {
      for (const r of rows) {
        const made = await trx.insertInto('notifications').values({
          uid: r.uid, app: r.app, object_type: r.objectType, object_id: r.objectId, actor: r.actor, subject: r.subject,
          message: r.message, link: r.link, created_at: r.createdAt,
        }).returning('id').executeTakeFirstOrThrow();
        ids.push(num(made.id));
      }
    });
    return ids;
  }

  /** The newest `limit` notifications of `uid`, newest first. */
  async list(uid: string, limit: number): Promise<NotificationRow[]> {
    return (await this.#db.selectFrom('notifications').selectAll().where('uid', '=', uid).orderBy('id', 'desc').limit(limit).execute()).map(toRow);
  }

  /** One notification of `uid`, or undefined (also when it is another user's). */
  async get(uid: string, id: number): Promise<NotificationRow | undefined> {
    const r = await this.#db.selectFrom('notifications').selectAll().where('uid', '=', uid).where('id', '=', id).executeTakeFirst();
    return r && toRow(r);
  }

  /** Deletes one notification of `uid`; whether it existed. */
  async delete(uid: string, id: number): Promise<boolean> {
    const r = await this.#db.deleteFrom('notifications').where('uid', '=', uid).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Deletes the notifications about these objects of `app`; the users who had any. */
  async deleteAbout(app: string, objectType: string, objectIds: readonly string[]): Promise<string[]> {
    if (objectIds.length === 0) return [];
    const where = this.#db.selectFrom('notifications').select('uid').distinct()
      .where('app', '=', app).where('object_type', '=', objectType).where('object_id', 'in', objectIds);
    const uids = (await where.execute()).map((r) => r.uid);
    if (uids.length > 0) {
      await this.#db.deleteFrom('notifications').where('app', '=', app).where('object_type', '=', objectType).where('object_id', 'in', objectIds).execute();
    }
    return uids;
  }

  /** Deletes every notification of `uid`; how many. */
  async deleteAll(uid: string): Promise<number> {
    const r = await this.#db.deleteFrom('notifications').where('uid', '=', uid).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
