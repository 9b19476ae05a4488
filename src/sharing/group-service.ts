import type { Db } from '../db/database.ts';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../errors.ts';
import { GroupMembers } from './group-members.ts';

/** What is told of membership changes (sharing/share-key-sync.ts seals or revokes share keys). Never throws. */
export interface MembershipListener {
  afterMemberAdded(gid: string, uid: string): Promise<void>;
  afterMemberRemoved(gid: string, uid: string): Promise<void>;
}

/** Nextcloud's group id rule (as for user ids, plus a little more): 1–64 printable characters, no '/'. */
const GID_RE = /^[^/\\\u0000-\u001f]{1,64}$/;

/** A group with its members. */
export interface GroupRecord {
  readonly gid: string;
  readonly displayName: string;
  readonly members: string[];
}

/**
 * Groups and memberships (`group:add`, `group:adduser`, …). Group shares look members up here at
 * resolution time, so membership changes take effect at once.
 */
export class GroupService {
  readonly #db: Db;
  readonly #members: GroupMembers;
  readonly #listener: MembershipListener | undefined;

  /** @param deps.onMembership told after a member was added or removed (per-user mode seals or revokes share keys) */
  constructor(deps: { db: Db; members?: GroupMembers; onMembership?: MembershipListener }) {
    this.#db = deps.db;
    this.#members = deps.members ?? new GroupMembers(deps.db);
    this.#listener = deps.onMembership;
  }

  async #changed(gid: string, uid: string, added: boolean): Promise<void> {
    const l = this.#listener;
    if (!l) return;
    await (added ? l.afterMemberAdded(gid, uid) : l.afterMemberRemoved(gid, uid)).catch(() => {});
  }

  /**
   * Creates a group.
   * @throws ValidationError for a bad name; AlreadyExistsError
   */
  async create(gid: string, displayName = gid): Promise<void> {
    if (typeof gid !== 'string' || !GID_RE.test(gid) || gid.trim() !== gid) throw new ValidationError(`Invalid group name "${gid}"`);
    if (await this.exists(gid)) throw new AlreadyExistsError(`Group "${gid}" already exists.`);
    try {
      await this.#db.insertInto('groups').values({ gid, display_name: displayName, created_at: Math.floor(Date.now() / 1000) }).execute();
    } catch (err) {
      if (await this.exists(gid)) throw new AlreadyExistsError(`Group "${gid}" already exists.`);
      throw err;
    }
  }

  /** True when the group exists. */
  async exists(gid: string): Promise<boolean> {
    return (await this.#db.selectFrom('groups').select('gid').where('gid', '=', gid).executeTakeFirst()) !== undefined;
  }

  /** @throws NotFoundError */
  async get(gid: string): Promise<GroupRecord> {
    const row = await this.#db.selectFrom('groups').selectAll().where('gid', '=', gid).executeTakeFirst();
    if (!row) throw new NotFoundError(`Group "${gid}" does not exist.`);
    return { gid: row.gid, displayName: row.display_name, members: await this.members(gid) };
  }

  /** Every group with its members, ordered by gid. */
  async list(): Promise<GroupRecord[]> {
    const groups = await this.#db.selectFrom('groups').selectAll().orderBy('gid').execute();
    const members = await this.#db.selectFrom('group_members').selectAll().orderBy('uid').execute();
    const by = new Map<string, string[]>();
    for (const m of members) (by.get(m.gid) ?? by.set(m.gid, []).get(m.gid)!).push(m.uid);
    return groups.map((g) => ({ gid: g.gid, displayName: g.display_name, members: by.get(g.gid) ?? [] }));
  }

  /** Members of a group, ordered by uid (empty for an unknown group). */
  members(gid: string): Promise<string[]> { return this.#members.members(gid); }

  /** Groups a user belongs to. */
  groupsOf(uid: string): Promise<string[]> { return this.#members.groupsOf(uid); }

  /** Nextcloud's view of a user's groups: `admin` for an admin (a user flag in Coffer, a group in Nextcloud), then the others. */
  async groupsShown(user: { readonly uid: string; readonly isAdmin: boolean }): Promise<string[]> {
    const gs = (await this.#members.groupsOf(user.uid)).filter((g) => g !== 'admin');
    return user.isAdmin ? ['admin', ...gs] : gs;
  }

  /** True when `uid` is a member of `gid`. */
  async isMember(gid: string, uid: string): Promise<boolean> {
    return (await this.#db.selectFrom('group_members').select('uid').where('gid', '=', gid).where('uid', '=', uid).executeTakeFirst()) !== undefined;
  }

  /**
   * Adds a user to a group (no-op when already a member).
   * @throws NotFoundError for an unknown group or user
   */
  async addUser(gid: string, uid: string): Promise<void> {
    if (!(await this.exists(gid))) throw new NotFoundError(`Group "${gid}" does not exist.`);
    const user = await this.#db.selectFrom('users').select('uid').where('uid', '=', uid).executeTakeFirst();
    if (!user) throw new NotFoundError(`User "${uid}" does not exist.`);
    if (await this.isMember(gid, uid)) return;
    await this.#db.insertInto('group_members').values({ gid, uid }).execute();
    await this.#changed(gid, uid, true);
  }

  /**
   * Removes a user from a group.
   * @throws NotFoundError for an unknown group, or a user who is not a member
   */
  async removeUser(gid: string, uid: string): Promise<void> {
    if (!(await this.exists(gid))) throw new NotFoundError(`Group "${gid}" does not exist.`);
    const r = await this.#db.deleteFrom('group_members').where('gid', '=', gid).where('uid', '=', uid).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`User "${uid}" is not a member of group "${gid}".`);
    await this.#changed(gid, uid, false);
  }

  /**
   * Deletes a group with its memberships (group shares to it end with it: the caller deletes them).
   * @throws NotFoundError
   */
  async delete(gid: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('groups').where('gid', '=', gid).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`Group "${gid}" does not exist.`);
      await trx.deleteFrom('group_members').where('gid', '=', gid).execute();
    });
  }

  /**
   * Removes a user from every group (user deletion), one group at a time so that the membership
   * hook drops what each membership granted (per-user-key seals of group shares).
   */
  async removeUserEverywhere(uid: string): Promise<void> {
    for (const gid of await this.groupsOf(uid)) {
      await this.#db.deleteFrom('group_members').where('gid', '=', gid).where('uid', '=', uid).execute();
      await this.#changed(gid, uid, false);
    }
  }
}
