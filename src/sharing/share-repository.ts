import type { Insertable } from 'kysely';
import type { Db } from '../db/database.ts';
import { num, type SharesTable } from '../db/schema.ts';
import { pathAtOrBelow } from '../files/node-repository.ts';
import type { FileNode } from '../files/types.ts';
import { heldOn, withEffectivePermissions, type ReceivedOnPaths } from './effective-permissions.ts';
import { SHARE_TYPE_GROUP, SHARE_TYPE_USER, type Share } from './share-types.ts';
import {
  baseQuery, MOUNTS_NAMED, MOUNTS_NAMED_AND_UNMOUNTED, OWNER_SCAN_LIMIT, OWNER_SHARE_TYPES, receivedBy, SHARE_COLS, SHARES_OF_OWNER, splitRow, toShare,
} from './share-queries.ts';

/** A share with the node it points at (shares of deleted nodes never come back from here). */
export interface ShareWithNode {
  readonly share: Share;
  readonly node: FileNode;
}

/** A received share as mounted in one recipient's root. */
export interface MountRow extends ShareWithNode {
  readonly mountPoint: string;
}

/**
 * The queries on `shares` and `share_mounts`, joined with `nodes` (read only) so dangling shares drop out.
 * Every share read here carries its effective permissions (effective-permissions.ts): a reshare's
 * stored permissions capped by what its initiator holds now; a reshare left with nothing (no read)
 * drops out like an expired share, and comes back if its initiator regains the rights.
 */
export class ShareRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  #base(now: number) {
    return baseQuery(this.#db, now);
  }

  /** Live shares received by `uid` on `owner`'s nodes at any of `paths` (stored permissions). */
  #receivedOn(now: number): ReceivedOnPaths {
    return async (uid, owner, paths) => (await this.#base(now)
      .where(receivedBy(uid))
      .where('s.initiator', '<>', uid)
      .where('n.owner', '=', owner)
      .where('n.path', 'in', paths)
      .execute()).map(splitRow);
  }

  /** What `uid` holds now on `owner`'s node at `path` (effective-permissions.ts heldOn). */
  holds(uid: string, owner: string, path: string, now: number): Promise<number> {
    return heldOn(this.#receivedOn(now), uid, owner, path);
  }

  /** `rows` with their effective permissions, without the reshares left with nothing. */
  effective<T extends ShareWithNode>(rows: readonly T[], now: number): Promise<T[]> {
    return withEffectivePermissions(this.#receivedOn(now), rows);
  }

  async #one(row: Record<string, unknown> | undefined, now: number): Promise<ShareWithNode | undefined> {
    return row ? (await this.effective([splitRow(row)], now))[0] : undefined;
  }

  /** One live share by id (undefined when unknown, expired, inactive, or its node is gone). */
  async byId(id: number, now: number): Promise<ShareWithNode | undefined> {
    return this.#one(await this.#base(now).where('s.id', '=', id).executeTakeFirst(), now);
  }

  /** A share row by id, even when expired or dangling (for deletion). */
  async rawById(id: number): Promise<Share | undefined> {
    const r = await this.#db.selectFrom('shares as s').select([...SHARE_COLS]).where('s.id', '=', id).executeTakeFirst();
    return r ? toShare(r) : undefined;
  }

  /** The password hash of a share (links). */
  async passwordHash(id: number): Promise<string | null> {
    const r = await this.#db.selectFrom('shares').select('password_hash').where('id', '=', id).executeTakeFirst();
    return r?.password_hash ?? null;
  }

  /** A live link share by token. */
  async byToken(token: string, now: number): Promise<ShareWithNode | undefined> {
    return this.#one(await this.#base(now).where('s.token', '=', token).executeTakeFirst(), now);
  }

  /** Live shares matching a filter, ordered by id. */
  async find(now: number, f: { initiator?: string; owner?: string; fileIds?: number[]; initiatorOrOwner?: string }): Promise<ShareWithNode[]> {
    if (f.owner !== undefined && f.initiator === undefined && f.initiatorOrOwner === undefined && f.fileIds === undefined) {
      return this.effective((await SHARES_OF_OWNER.execute(this.#db, [now, f.owner])).rows.map(splitRow), now);
    }
    let q = this.#base(now);
    if (f.initiator !== undefined) q = q.where('s.initiator', '=', f.initiator);
    if (f.owner !== undefined) q = q.where('s.owner', '=', f.owner);
    if (f.initiatorOrOwner !== undefined) {
      const u = f.initiatorOrOwner;
      q = q.where((eb) => eb.or([eb('s.initiator', '=', u), eb('s.owner', '=', u)]));
    }
    if (f.fileIds !== undefined) {
      if (f.fileIds.length === 0) return [];
      q = q.where('s.file_id', 'in', f.fileIds);
    }
    return this.effective((await q.orderBy('s.id').execute()).map(splitRow), now);
  }

  /** Live shares received by `uid` (user shares to them, group shares to their groups), not their own. */
  async received(uid: string, now: number): Promise<ShareWithNode[]> {
    return this.effective(await this.receivedAsStored(uid, now), now);
  }

  /**
   * `received` with stored permissions, inactive reshares included (mount rows are made for
   * every share that reaches the user, so that counting unmounted shares settles).
   */
  async receivedAsStored(uid: string, now: number): Promise<ShareWithNode[]> {
    const rows = await this.#base(now)
      .where(receivedBy(uid))
      .where('s.initiator', '<>', uid)
      .orderBy('s.id')
      .execute();
    return rows.map(splitRow);
  }

  /**
   * mountsNamed, and how many live shares `uid` received that have no mount row yet (new shares,
   * new group members), in one query.
   */
  async mountsNamedAndUnmounted(uid: string, mountPoint: string, now: number): Promise<{ rows: MountRow[]; unmounted: number }> {
    const { rows } = await MOUNTS_NAMED_AND_UNMOUNTED.execute(this.#db, [uid, mountPoint, now]);
    const unmounted = num(rows[0]!.unmounted_count as number | string);
    const mounts = rows.filter((r) => r.id !== null && r.id !== undefined)
      .map((r) => ({ ...splitRow(r), mountPoint: r.m_target as string }));
    return { rows: await this.effective(mounts, now), unmounted };
  }

  /** Mount rows of `uid` (all, hidden included): share id → target and hidden flag. */
  async mountRows(uid: string): Promise<Map<number, { fileTarget: string; hidden: boolean }>> {
    const rows = await this.#db.selectFrom('share_mounts').selectAll().where('uid', '=', uid).execute();
    return new Map(rows.map((r) => [num(r.share_id), { fileTarget: r.file_target, hidden: num(r.hidden) === 1 }]));
  }

  /** Visible mounts of `uid` named `mountPoint` whose share still reaches them (one name may carry several shares of one node). */
  async mountsNamed(uid: string, mountPoint: string, now: number): Promise<MountRow[]> {
    const { rows } = await MOUNTS_NAMED.execute(this.#db, [uid, mountPoint, now]);
    return this.effective(rows.map((r) => ({ ...splitRow(r), mountPoint: r.m_target as string })), now);
  }

  /** Inserts a mount row unless one exists for (share, uid). */
  async insertMount(shareId: number, uid: string, fileTarget: string): Promise<void> {
    await this.#db.insertInto('share_mounts').values({ share_id: shareId, uid, file_target: fileTarget, hidden: 0 })
      .onConflict((oc) => oc.columns(['share_id', 'uid']).doNothing()).execute();
  }

  /** Sets the mount of share `shareId` for `uid` (an import: the member's own name, or hidden). */
  async upsertMount(shareId: number, uid: string, fileTarget: string, hidden: boolean): Promise<void> {
    await this.#db.insertInto('share_mounts').values({ share_id: shareId, uid, file_target: fileTarget, hidden: hidden ? 1 : 0 })
      .onConflict((oc) => oc.columns(['share_id', 'uid']).doUpdateSet({ file_target: fileTarget, hidden: hidden ? 1 : 0 })).execute();
  }

  /** Renames every visible mount of `uid` called `from`. */
  async renameMount(uid: string, from: string, to: string): Promise<number> {
    const r = await this.#db.updateTable('share_mounts').set({ file_target: to })
      .where('uid', '=', uid).where('file_target', '=', from).where('hidden', '=', 0).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Hides a mount of `uid` (group share removed from their own tree only). */
  async hideMount(shareId: number, uid: string): Promise<void> {
    await this.#db.updateTable('share_mounts').set({ hidden: 1 }).where('share_id', '=', shareId).where('uid', '=', uid).execute();
  }

  /** Share types per file id, for the given owner's nodes (live shares only). */
  async shareTypesOf(owner: string, fileIds: number[], now: number): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    if (fileIds.length === 0) return out;
    const add = (fileId: unknown, type: unknown) => {
      const id = num(fileId as number);
      const list = out.get(id) ?? [];
      if (!list.includes(num(type as number))) list.push(num(type as number));
      out.set(id, list.sort((a, b) => a - b));
    };
    // A big listing (PROPFIND of a large folder): one small query over the owner's live shares
    // beats batches of IN lists with hundreds of ids, unless the owner has very many shares.
    if (fileIds.length > 50) {
      const { rows } = await OWNER_SHARE_TYPES.execute(this.#db, [owner, now, OWNER_SCAN_LIMIT + 1]);
      if (rows.length <= OWNER_SCAN_LIMIT) {
        const wanted = new Set(fileIds);
        for (const r of rows) if (wanted.has(num(r.file_id))) add(r.file_id, r.share_type);
        return out;
      }
    }
    for (let i = 0; i < fileIds.length; i += 500) {
      const rows = await this.#db.selectFrom('shares').select(['file_id', 'share_type'])
        .where('owner', '=', owner).where('file_id', 'in', fileIds.slice(i, i + 500))
        .where((eb) => eb.or([eb('expiration', 'is', null), eb('expiration', '>', now)]))
        .distinct().execute();
      for (const r of rows) add(r.file_id, r.share_type);
    }
    return out;
  }

  /** Shares of nodes in `owner`'s subtree at `path` initiated by one of `initiators` (reshares to drop). */
  async resharesUnder(owner: string, path: string, initiators: string[]): Promise<number[]> {
    if (initiators.length === 0) return [];
    const rows = await this.#db.selectFrom('shares as s').innerJoin('nodes as n', 'n.fileid', 's.file_id')
      .select('s.id')
      .where('s.owner', '=', owner).where('s.initiator', 'in', initiators).where(pathAtOrBelow('n.path', path))
      .execute();
    return rows.map((r) => num(r.id));
  }

  /** Deletes shares (and their mounts). */
  async delete(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('share_mounts').where('share_id', 'in', ids).execute();
      await trx.deleteFrom('shares').where('id', 'in', ids).execute();
    });
  }

  /** Ids of every share a user owns, initiated or receives directly (user deletion). */
  async idsInvolving(uid: string): Promise<number[]> {
    const rows = await this.#db.selectFrom('shares').select('id')
      .where((eb) => eb.or([eb('owner', '=', uid), eb('initiator', '=', uid),
        eb.and([eb('share_type', '=', SHARE_TYPE_USER), eb('share_with', '=', uid)])]))
      .execute();
    return rows.map((r) => num(r.id));
  }

  /** Ids of the group shares to `gid`. */
  async idsOfGroup(gid: string): Promise<number[]> {
    const rows = await this.#db.selectFrom('shares').select('id').where('share_type', '=', SHARE_TYPE_GROUP).where('share_with', '=', gid).execute();
    return rows.map((r) => num(r.id));
  }

  /**
   * The id of the share of `fileId` of `shareType` by `initiator` with this token (links) or
   * recipient (others), if there is one: what makes an import of shares idempotent.
   */
  async existsAlike(s: { fileId: number; shareType: number; initiator: string; token: string | null; shareWith: string | null }): Promise<number | undefined> {
    let q = this.#db.selectFrom('shares').select('id').where('file_id', '=', s.fileId).where('share_type', '=', s.shareType).where('initiator', '=', s.initiator);
    q = s.token !== null ? q.where('token', '=', s.token) : q.where('share_with', '=', s.shareWith);
    const r = await q.executeTakeFirst();
    return r === undefined ? undefined : num(r.id);
  }

  /** Inserts a share row; returns its id. */
  async insert(row: Insertable<SharesTable>): Promise<number> {
    const r = await this.#db.insertInto('shares').values(row).returning('id').executeTakeFirstOrThrow();
    return num(r.id);
  }

  /** Sets columns of share `id` (permissions, password_hash, expiration, note, label). */
  async update(id: number, patch: Record<string, string | number | null>): Promise<void> {
    await this.#db.updateTable('shares').set(patch).where('id', '=', id).execute();
  }

  /** Deletes every mount row of `uid` (user deletion). */
  async deleteMountsOf(uid: string): Promise<void> {
    await this.#db.deleteFrom('share_mounts').where('uid', '=', uid).execute();
  }

  /** Who each share of node `fileId` goes to, expired or not (share keys follow share rows). */
  async recipientsOf(fileId: number): Promise<{ shareType: number; shareWith: string | null; token: string | null }[]> {
    const rows = await this.#db.selectFrom('shares').select(['share_type', 'share_with', 'token']).where('file_id', '=', fileId).execute();
    return rows.map((r) => ({ shareType: num(r.share_type), shareWith: r.share_with, token: r.token }));
  }

  /** Nodes shared with group `gid`, expired or not. */
  async nodesSharedWithGroup(gid: string): Promise<{ owner: string; fileId: number }[]> {
    const rows = await this.#db.selectFrom('shares').select(['owner', 'file_id']).where('share_type', '=', SHARE_TYPE_GROUP).where('share_with', '=', gid).execute();
    return rows.map((r) => ({ owner: r.owner, fileId: num(r.file_id) }));
  }

  /** Nodes shared directly with `uid` or with one of `groups`, expired or not. */
  async nodesSharedWith(uid: string, groups: string[]): Promise<{ owner: string; fileId: number }[]> {
    const rows = await this.#db.selectFrom('shares').select(['owner', 'file_id'])
      .where((eb) => eb.or([
        eb.and([eb('share_type', '=', SHARE_TYPE_USER), eb('share_with', '=', uid)]),
        ...(groups.length ? [eb.and([eb('share_type', '=', SHARE_TYPE_GROUP), eb('share_with', 'in', groups)])] : []),
      ])).execute();
    return rows.map((r) => ({ owner: r.owner, fileId: num(r.file_id) }));
  }

  /** Ids of the nodes `owner` has shared, expired or not. */
  async sharedFileIdsOf(owner: string): Promise<number[]> {
    const rows = await this.#db.selectFrom('shares').select('file_id').distinct().where('owner', '=', owner).execute();
    return rows.map((r) => num(r.file_id));
  }
}

