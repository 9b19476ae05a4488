import { systemActor, type Actor } from '../actor.ts';
import type { Db } from '../db/database.ts';
import { ShareRepository } from './share-repository.ts';
import type { ShareKeyHandle, ShareKeys } from '../encryption/share-keys/share-keys.ts';
import type { Logger } from '../logger.ts';
import type { ContentEvents } from '../files/content-events.ts';
import { SHARE_TYPE_GROUP, SHARE_TYPE_LINK, SHARE_TYPE_USER, type Share, type ShareType } from './share-types.ts';

/** What a new share grants, before its row exists. */
export interface ShareGrantInput {
  readonly owner: string;
  readonly fileId: number;
  /** Who creates the share: the owner, a sharee resharing (opens an enclosing share key), or the server. */
  readonly actor: Actor;
  readonly shareType: number;
  readonly shareWith: string | null;
  readonly token: string | null;
}

/** Result of granting a share's keys (handed to `finish` once the row exists). */
export interface PreparedShareKey {
  readonly owner: string;
  readonly actor: Actor;
  readonly key: ShareKeyHandle;
}

/** The server sealing an owner's share keys to new recipients (with the owner's unlocked keys). */
const SEALING = systemActor('share-key-sync');

interface ShareRowLite { readonly shareType: number; readonly shareWith: string | null; readonly token: string | null }

/** Who is in which group (GroupMembers answers from the database). */
export interface GroupMembership {
  /** Members of `gid`, ordered by uid. */
  members(gid: string): Promise<string[]>;
  /** Groups `uid` belongs to. */
  groupsOf(uid: string): Promise<string[]>;
}

/**
 * Keeps per-user-mode share keys in step with shares (see docs/PER-USER-KEYS.md, "Sharing"):
 * creates K_N and grants it on share creation (one seal per recipient, one link wrap, a keyring of
 * the files already there, under-wraps with enclosing and nested shared nodes), revokes on
 * deletion and group removal, and catches up (new group members, shares made before per-user
 * mode) when an owner's keys are unlocked; as the files layer's ContentEvents, adds files that
 * arrive below a shared node to its keyring. Does nothing in master-key mode.
 */
export class ShareKeySync implements ContentEvents {
  readonly #keys: ShareKeys;
  readonly #shares: ShareRepository;
  readonly #groups: GroupMembership;
  readonly #log: Logger | undefined;

  constructor(o: { shareKeys: ShareKeys; db: Db; groups: GroupMembership; log?: Logger }) {
    this.#keys = o.shareKeys;
    this.#shares = new ShareRepository(o.db);
    this.#groups = o.groups;
    this.#log = o.log;
  }

  /**
   * Before the share row is written: K_N (created when N had none) and the new recipient's access
   * (seal, group members' seals, link wrap). Undefined in master-key mode.
   * @throws UserKeyLockedError (403) when the creator's keys are locked; ForbiddenError when a
   *   resharer can open no enclosing share key. Nothing is granted then.
   */
  async prepare(i: ShareGrantInput): Promise<PreparedShareKey | undefined> {
    if (!(await this.#keys.active())) return undefined;
    const key = await this.#keys.ensureKey(i.owner, i.fileId, i.actor);
    await this.#grant(i.owner, key, i);
    return { owner: i.owner, actor: i.actor, key };
  }

  /**
   * After the share row is written (writes below N now use K_N): fills K_N's keyring with the data
   * keys of the files already there and links K_N with enclosing and nested shared nodes.
   * Never throws (a failure is logged; affected files stay readable by the owner).
   */
  async finish(p: PreparedShareKey): Promise<{ added: number; skipped: number }> {
    try {
      const r = await this.#keys.fillKeyring(p.owner, p.key, p.actor);
      await this.#linkNested(p.owner, p.key, p.actor);
      if (r.skipped > 0) this.#log?.warn(`share key of file ${p.key.fileId} (${p.owner}): ${r.skipped} files could not be added to its keyring`);
      return r;
    } catch (err) {
      this.#log?.warn(`share key of file ${p.key.fileId} (${p.owner}): ${(err as Error).message}`);
      return { added: 0, skipped: -1 };
    }
  }

  /**
   * A share row written with its keys: prepare, `insert` (the row), finish. Should the insert fail,
   * what prepare granted is taken back (unless another share of the node grants it).
   * @throws prepare's errors (nothing written); the insert's errors (nothing left granted)
   */
  async around(i: ShareGrantInput, insert: () => Promise<number>): Promise<number> {
    const prepared = await this.prepare(i);
    const id = await insert().catch(async (err: unknown) => {
      if (prepared) await this.afterDelete([{ owner: i.owner, fileId: i.fileId, shareType: i.shareType as ShareType, token: i.token }]).catch(() => {});
      throw err;
    });
    if (prepared) await this.finish(prepared);
    return id;
  }

  async #grant(owner: string, key: ShareKeyHandle, s: ShareRowLite): Promise<void> {
    if (s.shareType === SHARE_TYPE_USER && s.shareWith) await this.#keys.sealToUser(owner, key, s.shareWith);
    else if (s.shareType === SHARE_TYPE_GROUP && s.shareWith) {
      for (const m of await this.#groups.members(s.shareWith)) if (m !== owner) await this.#keys.sealToUser(owner, key, m);
    } else if (s.shareType === SHARE_TYPE_LINK && s.token) await this.#keys.wrapForLink(owner, key, s.token);
  }

  async #linkNested(owner: string, key: ShareKeyHandle, actor: Actor): Promise<void> {
    for (const a of await this.#keys.topology.sharedAncestors(owner, key.fileId)) {
      if (a === key.fileId) continue;
      const id = await this.#keys.keyIdOf(owner, a);
      const k = id ? await this.#keys.unwrap(owner, id, actor).catch(() => undefined) : undefined;
      if (id && k) await this.#keys.wrapUnder(owner, key, { id, key: k, fileId: a });
    }
    for (const b of await this.#keys.topology.sharedBelow(owner, key.fileId)) {
      const id = await this.#keys.keyIdOf(owner, b);
      const k = id ? await this.#keys.unwrap(owner, id, actor).catch(() => undefined) : undefined;
      if (id && k) await this.#keys.wrapUnder(owner, { id, key: k, fileId: b }, key);
    }
  }

  async #rowsOf(fileId: number): Promise<ShareRowLite[]> {
    return this.#shares.recipientsOf(fileId);
  }

  async #entitled(owner: string, rows: ShareRowLite[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const r of rows) {
      if (r.shareType === SHARE_TYPE_USER && r.shareWith) out.add(r.shareWith);
      if (r.shareType === SHARE_TYPE_GROUP && r.shareWith) for (const m of await this.#groups.members(r.shareWith)) out.add(m);
    }
    out.delete(owner);
    return out;
  }

  /**
   * After share rows were deleted: removes the seals of users no remaining share of the node
   * entitles, the wraps of deleted links, and — when no share of the node remains — its keyring
   * and every grant (K_N itself stays for the blobs written under it). Works without any key.
   */
  async afterDelete(deleted: readonly Pick<Share, 'owner' | 'fileId' | 'shareType' | 'token'>[]): Promise<void> {
    const byNode = new Map<number, Pick<Share, 'owner' | 'fileId' | 'shareType' | 'token'>[]>();
    for (const s of deleted) byNode.set(s.fileId, [...(byNode.get(s.fileId) ?? []), s]);
    for (const [fileId, gone] of byNode) {
      const owner = gone[0]!.owner;
      const id = await this.#keys.keyIdOf(owner, fileId).catch(() => undefined);
      if (!id) continue;
      const rows = await this.#rowsOf(fileId);
      if (rows.length === 0) { await this.#keys.dropSharing(owner, id); continue; }
      for (const s of gone) if (s.shareType === SHARE_TYPE_LINK && s.token) await this.#keys.revokeLink(owner, id, s.token);
      const entitled = await this.#entitled(owner, rows);
      for (const uid of await this.#keys.sealedUsers(owner, id)) if (!entitled.has(uid)) await this.#keys.revokeUser(owner, id, uid);
    }
  }

  /** A user left a group: their seals of nodes shared with that group go unless another share entitles them. */
  async afterMemberRemoved(gid: string, uid: string): Promise<void> {
    for (const r of await this.#shares.nodesSharedWithGroup(gid)) {
      const fileId = r.fileId;
      const id = await this.#keys.keyIdOf(r.owner, fileId);
      if (!id) continue;
      if (!(await this.#entitled(r.owner, await this.#rowsOf(fileId))).has(uid)) await this.#keys.revokeUser(r.owner, id, uid);
    }
  }

  /**
   * A user joined a group: seals the keys of nodes shared with it whose owner's keys are unlocked
   * in this process now; the others are sealed at the owner's next login.
   */
  async afterMemberAdded(gid: string, uid: string): Promise<void> {
    if (!(await this.#keys.active())) return;
    await this.#sealFromUnlockedOwners(await this.#shares.nodesSharedWithGroup(gid), uid);
  }

  /**
   * Seals to `uid` the keys of the shared nodes in `rows` whose owner's keys are unlocked in this
   * process now (the others are sealed at the owner's next login).
   */
  async #sealFromUnlockedOwners(rows: readonly { owner: string; fileId: number }[], uid: string): Promise<void> {
    for (const r of rows) {
      if (r.owner === uid) continue;
      const fileId = r.fileId;
      const id = await this.#keys.keyIdOf(r.owner, fileId);
      // the server opens the key for the owner (whose root key must be unlocked in this process)
      const key = id ? await this.#keys.unwrap(r.owner, id, SEALING).catch(() => undefined) : undefined;
      if (id && key) await this.#keys.sealToUser(r.owner, { id, key, fileId }, uid);
    }
  }

  /**
   * `uid`'s keys were just unlocked (login): as owner, creates missing share keys (shares made
   * before per-user mode) and seals every shared node's key to recipients that lack a seal (group
   * members added since, users who had no key pair); as recipient, gets sealed by owners unlocked
   * now. Never throws.
   */
  async onUnlocked(actor: Actor & { kind: 'user' }): Promise<void> {
    const uid = actor.uid;
    try {
      if (!(await this.#keys.active())) return;
      for (const fileId of await this.#shares.sharedFileIdsOf(uid)) {
        const existed = await this.#keys.keyIdOf(uid, fileId);
        const key = await this.#keys.ensureKey(uid, fileId, actor).catch(() => undefined);
        if (!key) continue;
        const rows = await this.#rowsOf(fileId);
        for (const m of await this.#entitled(uid, rows)) await this.#keys.sealToUser(uid, key, m);
        for (const s of rows) if (s.shareType === SHARE_TYPE_LINK && s.token && !existed) await this.#keys.wrapForLink(uid, key, s.token);
        if (!existed) await this.finish({ owner: uid, actor, key });
      }
      const groups = await this.#groups.groupsOf(uid);
      await this.#sealFromUnlockedOwners(await this.#shares.nodesSharedWith(uid, groups), uid);
    } catch (err) {
      this.#log?.warn(`share keys of ${uid}: ${(err as Error).message}`);
    }
  }

  /**
   * A write of `fileId` committed blob `blobId`: when the file's nearest shared ancestor has a share
   * key that does not wrap the blob's data key, adds it to that key's keyring. That happens when the
   * node was shared while the write was under way: the writer chose its key (the owner's root key)
   * before the share existed and committed after the share's keyring was filled. The writer looks
   * after its commit and the share is filled after its row commits, so one of the two always sees
   * the other. `keyId` is what the blob store's put used (no header is read back). One query per
   * encrypted write below a shared node; never throws.
   */
  async afterWrite(actor: Actor, owner: string, fileId: number, blobId: string, keyId: string | undefined): Promise<void> {
    if (keyId === undefined) return;
    try {
      const near = await this.#nearestKeyed(owner, fileId);
      if (!near || keyId === near.id) return;
      await this.#fill(owner, near, actor, [{ fileId, blobId }]);
    } catch (err) {
      this.#log?.warn(`share keys after a write of file ${fileId} (${owner}): ${(err as Error).message}`);
    }
  }

  /**
   * Files were moved (or copied) to `fileId` in `owner`'s tree by `actor`: when that places them
   * below a shared node, adds their data keys to the nearest shared ancestor's keyring and wraps
   * shared nodes that came along under it. Never throws.
   */
  async afterArrival(actor: Actor, owner: string, fileId: number): Promise<void> {
    try {
      const near = await this.#nearestKeyed(owner, fileId);
      if (!near) return;
      const key = await this.#fill(owner, near, actor, await this.#keys.topology.encryptedFilesBelow(owner, fileId));
      if (near.nodeId !== fileId) await this.#linkNestedBelow(owner, key, fileId, actor);
    } catch (err) {
      this.#log?.warn(`share keys after a move to file ${fileId} (${owner}): ${(err as Error).message}`);
    }
  }

  /** Shared nodes at or above `fileId`, nearest first; [] in master-key mode (nothing to track). */
  async sharedAncestors(owner: string, fileId: number): Promise<number[]> {
    return (await this.#keys.active()) ? this.#keys.topology.sharedAncestors(owner, fileId) : [];
  }

  /** In per-user-key mode: the nearest node at or above `fileId` with a share key (see ShareKeys.nearestKeyed). */
  async #nearestKeyed(owner: string, fileId: number): Promise<{ nodeId: number; id: string } | undefined> {
    return (await this.#keys.active()) ? this.#keys.nearestKeyed(owner, fileId) : undefined;
  }

  /** Adds the data keys of `files` (below `near`) to the keyring of `near`'s key; returns that key. */
  async #fill(owner: string, near: { nodeId: number; id: string }, actor: Actor, files: readonly { fileId: number; blobId: string }[]): Promise<ShareKeyHandle> {
    const key = { id: near.id, key: await this.#keys.unwrap(owner, near.id, actor), fileId: near.nodeId };
    await this.#keys.fillKeyring(owner, key, actor, { files });
    return key;
  }

  async #linkNestedBelow(owner: string, key: ShareKeyHandle, fileId: number, actor: Actor): Promise<void> {
    const below = [fileId, ...await this.#keys.topology.sharedBelow(owner, fileId)];
    for (const b of below) {
      const id = await this.#keys.keyIdOf(owner, b);
      if (!id || b === key.fileId) continue;
      if (!(await this.#rowsOf(b)).length) continue;
      const k = await this.#keys.unwrap(owner, id, actor).catch(() => undefined);
      if (k) await this.#keys.wrapUnder(owner, { id, key: k, fileId: b }, key);
    }
  }
}
