import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { QueryTemplate } from '../db/query-template.ts';

/** A stored activity: one event in one user's stream. */
export interface ActivityRow {
  readonly id: number;
  /** The user whose stream it is in (Nextcloud's affecteduser). */
  readonly uid: string;
  /** Who did it (a user id; '' for a public link or the server). */
  readonly actor: string;
  readonly app: string;
  readonly type: string;
  readonly objectType: string;
  readonly objectId: number;
  /** The path as `uid` saw it when it happened. */
  readonly objectName: string;
  /** A share event's other party (user or group id; '' when it is `uid`: shared with you); a move's old path. */
  readonly other: string;
  readonly createdAt: number;
}

/** Which rows of one user's stream a page reads. */
export interface ActivityQuery {
  /** Rows after (asc) or before (desc) this id. */
  since?: number;
  limit: number;
  sort: 'asc' | 'desc';
  /** Only the user's own actions (true), only others' (false). */
  own?: boolean;
  object?: { type: string; id: number };
}

function toRow(r: Record<string, unknown>): ActivityRow {
  return {
    id: num(r.id as number), uid: r.uid as string, actor: r.actor as string, app: r.app as string, type: r.type as string,
    objectType: r.object_type as string, objectId: num(r.object_id as number), objectName: r.object_name as string,
    other: r.other as string, createdAt: num(r.created_at as number),
  };
}

/** Rows per insert statement (SQLite's bound-parameter limit stays far away). */
const BATCH = 200;

const COLUMNS = ['uid', 'actor', 'app', 'type', 'object_type', 'object_id', 'object_name', 'other', 'created_at'] as const;
/** Params: COLUMNS of each row in turn; compiled once per row count (the stream inserts after every write). */
const INSERT_ROWS = new QueryTemplate((db, p) => db.insertInto('activities').values(
  Array.from({ length: p.length / COLUMNS.length }, (_, r) => Object.fromEntries(COLUMNS.map((c, i) => [c, p[r * COLUMNS.length + i]])) as never),
));

/** The `activities` table. Every read names the user, so no query reaches another user's stream. */
export class ActivityRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  /** Inserts rows in one transaction. */
  async insert(rows: readonly Omit<ActivityRow, 'id'>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += BATCH) {
        await INSERT_ROWS.execute(trx, rows.slice(i, i + BATCH).flatMap((r) => [
          r.uid, r.actor, r.app, r.type, r.objectType, r.objectId, r.objectName, r.other, r.createdAt,
        ]));
      }
    });
  }

  /** A page of `uid`'s stream. */
  async page(uid: string, q: ActivityQuery): Promise<ActivityRow[]> {
    let s = this.#db.selectFrom('activities').selectAll().where('uid', '=', uid);
    if (q.since !== undefined) s = s.where('id', q.sort === 'asc' ? '>' : '<', q.since);
    if (q.own !== undefined) s = s.where('actor', q.own ? '=' : '<>', uid);
    if (q.object) s = s.where('object_type', '=', q.object.type).where('object_id', '=', q.object.id);
    return (await s.orderBy('id', q.sort).limit(q.limit).execute()).map(toRow);
  }

  /** The owner of activity `id`, or undefined when there is none. */
  async ownerOf(id: number): Promise<string | undefined> {
    return (await this.#db.selectFrom('activities').select('uid').where('id', '=', id).executeTakeFirst())?.uid;
  }

  /** Deletes rows created before `before` (seconds); how many. */
  async expire(before: number): Promise<number> {
    return Number((await this.#db.deleteFrom('activities').where('created_at', '<', before).executeTakeFirst()).numDeletedRows);
  }

  /** Deletes a user's stream (user deletion). */
  async deleteAllOf(uid: string): Promise<void> {
    await this.#db.deleteFrom('activities').where('uid', '=', uid).execute();
  }
}
