import type { Logger } from '../logger.ts';
import type { TreeChange, TreeChangeSink } from '../files/tree-changes.ts';
import { isSameOrInside } from '../files/paths.ts';
import type { GroupService } from '../sharing/group-service.ts';
import type { ShareRepository } from '../sharing/share-repository.ts';
import { SHARE_TYPE_GROUP, SHARE_TYPE_USER } from '../sharing/share-types.ts';
import type { ChangeBus } from './change-bus.ts';

/** How long changes of one owner are gathered before their audience is looked up, ms. */
const GATHER_MS = 30;
/** File ids carried per event (beyond, "some file changed"). */
const MAX_IDS = 64;

/** A user who sees a path, and the path in their view. */
export interface Viewer { readonly uid: string; readonly path: string }

interface Gathered { paths: Set<string>; fileIds: Set<number>; unknownId: boolean }

/**
 * Who sees a change: the owner of the tree, and every user to whom a share at or above the
 * changed path reaches (user shares, and the members of group shares). Changes of one owner are
 * gathered for a few ms so that a bulk upload of 100 files costs one share lookup, not 100. The
 * result goes on the change bus as one `file` event.
 */
export class ChangeAudience implements TreeChangeSink {
  readonly #shares: ShareRepository;
  readonly #groups: GroupService;
  readonly #bus: ChangeBus;
  readonly #log: Logger;
  readonly #pending = new Map<string, Gathered>();

  constructor(deps: { shares: ShareRepository; groups: GroupService; bus: ChangeBus; log: Logger }) {
    this.#shares = deps.shares;
    this.#groups = deps.groups;
    this.#bus = deps.bus;
    this.#log = deps.log;
  }

  changed(change: TreeChange): void {
    let g = this.#pending.get(change.owner);
    if (!g) {
      g = { paths: new Set(), fileIds: new Set(), unknownId: false };
      this.#pending.set(change.owner, g);
      setTimeout(() => { void this.#flush(change.owner); }, GATHER_MS).unref();
    }
    g.paths.add(change.path);
    if (change.fileId === undefined) g.unknownId = true;
    else g.fileIds.add(change.fileId);
  }

  async #flush(owner: string): Promise<void> {
    const g = this.#pending.get(owner);
    this.#pending.delete(owner);
    if (!g) return;
    try {
      const uids = await this.audience(owner, [...g.paths]);
      const ids = g.unknownId || g.fileIds.size > MAX_IDS ? undefined : [...g.fileIds];
      this.#bus.publish(ids ? { kind: 'file', uids, fileIds: ids } : { kind: 'file', uids });
    } catch (err) {
      this.#log.warn({ err }, 'push: could not work out who sees a change');
    }
  }

  /**
   * For each of `paths` of `owner`'s tree: who sees it, and at which path of their own view
   * (`/Shared/a.txt`; a recipient's through the mount point of the share that reaches them, a
   * share they unshared from themselves excluded). The owner first; one entry per user and path.
   */
  async viewers(owner: string, paths: readonly string[]): Promise<Map<string, Viewer[]>> {
    const out = new Map<string, Viewer[]>(paths.map((p) => [p, [{ uid: owner, path: `/${p}` }]]));
    const shares = await this.#shares.find(Math.floor(Date.now() / 1000), { owner });
    const mounts = new Map<string, Map<number, { fileTarget: string; hidden: boolean }>>();
    for (const { share, node } of shares) {
      const under = paths.filter((p) => isSameOrInside(p, node.path));
      if (under.length === 0 || !share.shareWith) continue;
      const uids = share.shareType === SHARE_TYPE_USER ? [share.shareWith]
        : share.shareType === SHARE_TYPE_GROUP ? await this.#groups.members(share.shareWith) : [];
      for (const uid of uids) {
        if (uid === owner) continue;
        if (!mounts.has(uid)) mounts.set(uid, await this.#shares.mountRows(uid));
        const m = mounts.get(uid)!.get(share.id);
        if (m?.hidden) continue;
        const target = m?.fileTarget ?? share.fileTarget;
        for (const p of under) {
          const list = out.get(p)!;
          if (!list.some((v) => v.uid === uid)) list.push({ uid, path: `/${target}${p.slice(node.path.length)}` });
        }
      }
    }
    return out;
  }

  /** The users who see any of `paths` of `owner`'s tree (the owner first). */
  async audience(owner: string, paths: readonly string[]): Promise<string[]> {
    const uids = new Set<string>([owner]);
    const shares = await this.#shares.find(Math.floor(Date.now() / 1000), { owner });
    for (const { share, node } of shares) {
      if (!paths.some((p) => isSameOrInside(p, node.path))) continue;
      if (share.shareType === SHARE_TYPE_USER && share.shareWith) uids.add(share.shareWith);
      else if (share.shareType === SHARE_TYPE_GROUP && share.shareWith) {
        for (const m of await this.#groups.members(share.shareWith)) uids.add(m);
      }
    }
    return [...uids];
  }
}
