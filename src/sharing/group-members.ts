import type { Db } from '../db/database.ts';
import type { GroupMembership } from './share-key-sync.ts';

/**
 * Who is in which group, read from `group_members`. Apart from GroupService so that share-key
 * bookkeeping can read memberships while being what GroupService tells of membership changes.
 */
export class GroupMembers implements GroupMembership {
  readonly #db: Db;

  constructor(db: Db) { this.#db = db; }

  /** Members of a group, ordered by uid (empty for an unknown group). */
  async members(gid: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('group_members').select('uid').where('gid', '=', gid).orderBy('uid').execute();
    return rows.map((r) => r.uid);
  }

  /** Groups a user belongs to. */
  async groupsOf(uid: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('group_members').select('gid').where('uid', '=', uid).orderBy('gid').execute();
    return rows.map((r) => r.gid);
  }
}
