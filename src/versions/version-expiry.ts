import type { Db } from '../db/database.ts';
import { transact } from '../db/database.ts';
import type { NodeRepository } from '../files/node-repository.ts';
import type { Logger } from '../logger.ts';
import { autoThinning, isExpired, MAX_SHARE_OF_FREE_SPACE, shouldAutoExpire, type RetentionPolicy } from './retention-policy.ts';
import type { VersionRef } from './version-repository.ts';
import type { VersionService } from './version-service.ts';

export interface ExpiryReport {
  /** Items deleted. */
  readonly expired: number;
  /** Plaintext bytes they held. */
  readonly bytes: number;
}

/**
 * Space the versions (or the trash) of a user may still take (negative: over). With a quota, as
 * Nextcloud computes it: half of the user's free quota minus what they hold already. Without a
 * quota, the data disk is the limit: Nextcloud lets them grow until the disk is full; Coffer lets
 * them take at most half of what they and the free disk space make together, i.e. never more than
 * stays free (`diskFree`, bytes; null when the store cannot tell, e.g. object storage: no limit).
 */
export function availableSpace(quota: number | null, used: number, held: number, diskFree: number | null = null): number {
  if (quota === null) return diskFree === null ? Number.POSITIVE_INFINITY : (diskFree + held) * MAX_SHARE_OF_FREE_SPACE - held;
  const free = quota - used;
  return free > 0 ? free * MAX_SHARE_OF_FREE_SPACE - held : free - held;
}

/** Free bytes of the data disk, null when unknown (VersionExpiry's and TrashExpiry's dependency). */
export type DiskFree = () => Promise<number | null>;

/** `availableSpace` for `uid` now: their quota and usage, and the disk only when they have no quota. */
export async function spaceFor(db: Db, nodes: NodeRepository, uid: string, held: number, diskFree: DiskFree): Promise<number> {
  const quota = await nodes.userQuota(db, uid);
  const root = await nodes.byPath(db, uid, '');
  return availableSpace(quota, root?.size ?? 0, held, quota === null ? await diskFree() : null);
}

/** Files whose versions expiry loads at once, and versions per page of the oldest-first walk. */
const FILES_PER_PAGE = 200;
const VERSIONS_PER_PAGE = 1000;

/**
 * Expires versions as Nextcloud's Storage::expire does, for all of a user's files at once:
 * the automatic thinning (when the obligation has an `auto` side), then what the obligation lets
 * go (anytime when space is needed, if allowed), then, still over the space versions may take,
 * the oldest versions except the two newest.
 */
export class VersionExpiry {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #versions: VersionService;
  readonly #policy: RetentionPolicy;
  readonly #log: Logger;
  readonly #diskFree: DiskFree;

  /** `diskFree`: the data disk's free bytes, for users without a quota (default: unknown, no limit). */
  constructor(deps: { db: Db; nodes: NodeRepository; versions: VersionService; policy: RetentionPolicy; log: Logger; diskFree?: DiskFree }) {
    this.#db = deps.db;
    this.#nodes = deps.nodes;
    this.#versions = deps.versions;
    this.#policy = deps.policy;
    this.#log = deps.log;
    this.#diskFree = deps.diskFree ?? (async () => null);
  }

  get policy(): RetentionPolicy { return this.#policy; }

  /**
   * Deletes `uid`'s versions older than the obligation's maximum (`./occ versions:expire`, as
   * Nextcloud's expireOlderThanMaxForUser); nothing without a maximum. A page of files at a time
   * (memory flat whatever the count); each page's versions go in one transaction.
   */
  async expireOlderThanMax(uid: string, now: number): Promise<ExpiryReport> {
    if (!this.#policy.enabled || this.#policy.maxDays === null) return { expired: 0, bytes: 0 };
    const limit = now - this.#policy.maxDays * 86_400;
    const report = { expired: 0, bytes: 0 };
    const maxId = await this.#versions.repo.maxIdOf(this.#db, uid);
    await this.#eachFilePage(uid, maxId, async (list) => {
      await this.#remove(list.filter((v) => v.version < limit), report);
    });
    return report;
  }

  /** Calls `fn` with the versions (row id ≤ `maxId`) of a page of `uid`'s files at a time, by file, newest first. */
  async #eachFilePage(uid: string, maxId: number, fn: (versions: VersionRef[]) => Promise<void>): Promise<void> {
    const repo = this.#versions.repo;
    for (let after = 0; ;) {
      const ids = await repo.fileIdsPage(this.#db, uid, after, FILES_PER_PAGE, maxId);
      if (ids.length === 0) return;
      await fn(await repo.ofFiles(this.#db, uid, ids, maxId));
      after = ids.at(-1)!;
    }
  }

  /** Deletes `doomed` in one transaction, then their blobs; adds them to `report`. */
  async #remove(doomed: readonly VersionRef[], report: { expired: number; bytes: number }): Promise<void> {
    if (doomed.length === 0) return;
    const blobs = await transact(this.#db, (trx) => this.#versions.repo.remove(trx, doomed.map((v) => v.id)));
    await this.#versions.deleteBlobs(blobs);
    report.expired += doomed.length;
    for (const v of doomed) report.bytes += v.size;
  }

  /** Whether `uid`'s versions are over the space they may take (a cheap sum; expireUser then makes room). */
  async overSpace(uid: string): Promise<boolean> {
    if (!this.#policy.enabled) return false;
    const { count, bytes } = await this.#versions.usage(uid);
    return count > 0 && (await spaceFor(this.#db, this.#nodes, uid, bytes, this.#diskFree)) < 0;
  }

  /**
   * Expires `uid`'s versions at time `now` (seconds), with memory flat whatever their count: the
   * thinning and the obligation per page of files (each file's list whole), then, still over, a
   * keyset walk of the rest oldest first. Each page is its own transaction (blobs deleted after
   * its commit): a crash leaves some expired, none half.
   * @throws database errors
   */
  async expireUser(uid: string, now: number): Promise<ExpiryReport> {
    if (!this.#policy.enabled) return { expired: 0, bytes: 0 };
    const repo = this.#versions.repo;
    const maxId = await repo.maxIdOf(this.#db, uid);
    if (maxId === 0) return { expired: 0, bytes: 0 };
    const held = (await repo.usageUpTo(this.#db, uid, maxId)).bytes;
    let space = await spaceFor(this.#db, this.#nodes, uid, held, this.#diskFree);
    const report = { expired: 0, bytes: 0 };

    const exceeded = space <= 0;
    await this.#eachFilePage(uid, maxId, async (all) => {
      const doomed: VersionRef[] = [];
      for (let start = 0; start < all.length;) {
        let end = start;
        while (end < all.length && all[end]!.fileId === all[start]!.fileId) end++;
        const list = all.slice(start, end);
        const thinned = shouldAutoExpire(this.#policy) ? autoThinning(list.map((v) => v.version), now) : new Set<number>();
        list.forEach((v, i) => { if (thinned.has(i) || isExpired(this.#policy, v.version, now, exceeded)) doomed.push(v); });
        start = end;
      }
      for (const v of doomed) space += v.size;
      await this.#remove(doomed, report);
    });
    // Still over: the oldest go first, but the two newest versions stay (Nextcloud's rule).
    if (space < 0) {
      let left = (await repo.usageUpTo(this.#db, uid, maxId)).count - 2;
      let at: { version: number; id: number } | undefined;
      while (space < 0 && left > 0) {
        const page = await repo.oldestPage(this.#db, uid, at, Math.min(VERSIONS_PER_PAGE, left), maxId);
        if (page.length === 0) break;
        at = page.at(-1)!;
        const doomed: VersionRef[] = [];
        for (const v of page) {
          if (space >= 0) break;
          doomed.push(v);
          space += v.size;
        }
        left -= doomed.length;
        await this.#remove(doomed, report);
      }
    }
    if (report.expired) this.#log.info({ uid, expired: report.expired, bytes: report.bytes }, 'versions expired');
    return report;
  }
}
