import type { Db } from '../db/database.ts';
import type { NodeRepository } from '../files/node-repository.ts';
import type { Logger } from '../logger.ts';
import { isExpired, type RetentionPolicy } from '../versions/retention-policy.ts';
import { spaceFor, type DiskFree, type ExpiryReport } from '../versions/version-expiry.ts';
import type { TrashItem } from './trash-repository.ts';
import type { TrashService } from './trash-service.ts';

/**
 * Expires trash items as Nextcloud's Trashbin::expire does: while the trash is over the space it
 * may take (the `trashbin_size` set with `./occ trashbin:size`, else half of the owner's free
 * quota; without a quota, as versions: never more than stays free on the data disk), the oldest
 * items the obligation lets go when space is needed go first; then every item older than the
 * obligation's maximum.
 */
/**
 * A stored trash bin size (`files_trashbin/trashbin_size`, the default in app config or a user's
 * preference) in bytes; undefined when unset or not a size (Nextcloud's -1: the default applies).
 */
export function storedTrashSize(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

export class TrashExpiry {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #trash: TrashService;
  readonly #policy: RetentionPolicy;
  readonly #log: Logger;
  readonly #configuredSize: (uid: string) => Promise<number | undefined>;
  readonly #diskFree: DiskFree;

  /** `diskFree`: the data disk's free bytes, for users without a quota (default: unknown, no limit). */
  constructor(deps: {
    db: Db; nodes: NodeRepository; trash: TrashService; policy: RetentionPolicy; log: Logger;
    configuredSize: (uid: string) => Promise<number | undefined>; diskFree?: DiskFree;
  }) {
    this.#db = deps.db;
    this.#nodes = deps.nodes;
    this.#trash = deps.trash;
    this.#policy = deps.policy;
    this.#log = deps.log;
    this.#configuredSize = deps.configuredSize;
    this.#diskFree = deps.diskFree ?? (async () => null);
  }

  get policy(): RetentionPolicy { return this.#policy; }

  /** Whether `uid`'s trash is over the space it may take (a cheap sum; expireUser then makes room). */
  async overSpace(uid: string): Promise<boolean> {
    if (!this.#policy.enabled) return false;
    const { count, bytes } = await this.#trash.usage(uid);
    return count > 0 && (await this.#space(uid, bytes)) < 0;
  }

  /** The space `uid`'s trash may still take when it holds `held` bytes (negative: over). */
  async #space(uid: string, held: number): Promise<number> {
    const configured = await this.#configuredSize(uid);
    if (configured !== undefined && configured >= 0) return configured - held;
    return spaceFor(this.#db, this.#nodes, uid, held, this.#diskFree);
  }

  /**
   * Expires `uid`'s trash at time `now` (seconds), walking the items oldest first a page at a time
   * (memory flat whatever their count; a purged item leaves the table, so the second walk skips it).
   * @throws database errors
   */
  async expireUser(uid: string, now: number): Promise<ExpiryReport> {
    if (!this.#policy.enabled) return { expired: 0, bytes: 0 };
    const repo = this.#trash.repo;
    const maxId = await repo.maxIdOf(this.#db, uid);
    if (maxId === 0) return { expired: 0, bytes: 0 };
    let space = await this.#space(uid, (await repo.usageUpTo(this.#db, uid, maxId)).bytes);
    let expired = 0;
    let bytes = 0;
    const purge = async (item: TrashItem) => {
      await this.#trash.purgeItem(item);
      expired++;
      bytes += item.size;
    };
    // over the space: the oldest the obligation lets go when space is needed
    if (space < 0) {
      for await (const item of this.#trash.itemsOf(uid, maxId)) {
        if (space >= 0) break;
        if (!isExpired(this.#policy, item.deletedAt, now, true)) continue;
        await purge(item);
        space += item.size;
      }
    }
    // then every item older than the maximum: oldest first, so the first one kept ends it
    for await (const item of this.#trash.itemsOf(uid, maxId)) {
      if (!isExpired(this.#policy, item.deletedAt, now)) break;
      await purge(item);
    }
    if (expired) this.#log.info({ uid, expired, bytes }, 'trash bin expired');
    return { expired, bytes };
  }
}
