import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { GroupService } from './group-service.ts';

/** A user one may share with, as a sharee search shows it. */
export interface ShareeUser {
  readonly uid: string;
  readonly displayName: string;
}

/** A group one may share with. */
export interface ShareeGroup {
  readonly gid: string;
  readonly displayName: string;
}

/** What to look for. */
export interface ShareeQuery {
  /** Substring (case-insensitive) of a user id or display name, or of a group id or name; '' = all. */
  readonly search: string;
  /** At most this many users and this many groups. */
  readonly limit: number;
  readonly users?: boolean;
  readonly groups?: boolean;
}

/**
 * Sharee search for the OCS Sharee API and the web UI alike: enabled users other than the caller,
 * and groups, matched on what the answer shows (ids and display names). Email addresses are never
 * matched: the answer does not show them, so matching on them would let anyone probe another
 * user's address one substring at a time.
 */
export class ShareeSearch {
  readonly #db: Db;
  readonly #groups: GroupService;

  constructor(deps: { db: Db; groups: GroupService }) {
    this.#db = deps.db;
    this.#groups = deps.groups;
  }

  /** Matching users (ordered by uid) and groups (ordered by gid), each list cut at `q.limit`. */
  async find(uid: string, q: ShareeQuery): Promise<{ users: ShareeUser[]; groups: ShareeGroup[] }> {
    const s = q.search.trim().toLowerCase();
    const limit = Math.max(0, Math.floor(q.limit));
    let users: ShareeUser[] = [];
    if (q.users !== false && limit > 0) {
      let query = this.#db.selectFrom('users').select(['uid', 'display_name'])
        .where('enabled', '=', 1).where('uid', '<>', uid).orderBy('uid').limit(limit);
      if (s !== '') {
        const like = `%${s.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
        query = query.where(sql<boolean>`(lower(uid) like ${like} escape '\\' or lower(display_name) like ${like} escape '\\')`);
      }
      users = (await query.execute()).map((r) => ({ uid: r.uid, displayName: r.display_name }));
    }
    let groups: ShareeGroup[] = [];
    if (q.groups !== false && limit > 0) {
      groups = (await this.#groups.list())
        .filter((g) => s === '' || g.gid.toLowerCase().includes(s) || g.displayName.toLowerCase().includes(s))
        .slice(0, limit).map((g) => ({ gid: g.gid, displayName: g.displayName }));
    }
    return { users, groups };
  }
}
