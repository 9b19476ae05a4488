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
