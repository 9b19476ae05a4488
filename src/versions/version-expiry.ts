import type { Db } from '../db/database.ts';
import { transact } from '../db/database.ts';
import type { NodeRepository } from '../files/node-repository.ts';
import type { Logger } from '../logger.ts';
import { autoThinning, isExpired, MAX_SHARE_OF_FREE_SPACE, shouldAutoExpire, type RetentionPolicy } from './retention-policy.ts';
import type { FileVersion } from './version-repository.ts';
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
   * Nextcloud's expireOlderThanMaxForUser); nothing without a maximum.
   */
  async expireOlderThanMax(uid: string, now: number): Promise<ExpiryReport> {
    if (!this.#policy.enabled || this.#policy.maxDays === null) return { expired: 0, bytes: 0 };
    const limit = now - this.#policy.maxDays * 86_400;
    const doomed = (await this.#versions.repo.ofOwner(this.#db, uid)).filter((v) => v.version < limit);
    if (doomed.length === 0) return { expired: 0, bytes: 0 };
    const blobs = await transact(this.#db, (trx) => this.#versions.repo.remove(trx, doomed.map((v) => v.id)));
    await this.#versions.deleteBlobs(blobs);
    return { expired: doomed.length, bytes: doomed.reduce((n, v) => n + v.size, 0) };
  }

  /** Whether `uid`'s versions are over the space they may take (a cheap sum; expireUser then makes room). */
  async overSpace(uid: string): Promise<boolean> {
    if (!this.#policy.enabled) return false;
    const { count, bytes } = await this.#versions.usage(uid);
    return count > 0 && (await spaceFor(this.#db, this.#nodes, uid, bytes, this.#diskFree)) < 0;
  }

  /** Expires `uid`'s versions at time `now` (seconds). @throws database errors */
  async expireUser(uid: string, now: number): Promise<ExpiryReport> {
    if (!this.#policy.enabled) return { expired: 0, bytes: 0 };
    const all = await this.#versions.repo.ofOwner(this.#db, uid);
    if (all.length === 0) return { expired: 0, bytes: 0 };
    const held = all.reduce((n, v) => n + v.size, 0);
    let space = await spaceFor(this.#db, this.#nodes, uid, held, this.#diskFree);

    const doomed = new Map<number, FileVersion>();
    const byFile = new Map<number, FileVersion[]>();
    for (const v of all) {
      const list = byFile.get(v.fileId) ?? [];
      list.push(v);
      byFile.set(v.fileId, list);
    }
    const exceeded = space <= 0;
    for (const list of byFile.values()) {
      list.sort((a, b) => b.version - a.version);
      if (shouldAutoExpire(this.#policy)) {
        for (const i of autoThinning(list.map((v) => v.version), now)) doomed.set(list[i]!.id, list[i]!);
      }
      for (const v of list) if (isExpired(this.#policy, v.version, now, exceeded)) doomed.set(v.id, v);
    }
    for (const v of doomed.values()) space += v.size;
    // Still over: the oldest go first, but the two newest versions stay (Nextcloud's rule).
    if (space < 0) {
      const rest = all.filter((v) => !doomed.has(v.id)).sort((a, b) => a.version - b.version || a.id - b.id);
      for (let i = 0; i < rest.length - 2 && space < 0; i++) {
        doomed.set(rest[i]!.id, rest[i]!);
        space += rest[i]!.size;
      }
    }
    if (doomed.size === 0) return { expired: 0, bytes: 0 };
    const ids = [...doomed.keys()];
    const blobs = await transact(this.#db, (trx) => this.#versions.repo.remove(trx, ids));
    await this.#versions.deleteBlobs(blobs);
    const bytes = [...doomed.values()].reduce((n, v) => n + v.size, 0);
    this.#log.info({ uid, expired: ids.length, bytes }, 'versions expired');
    return { expired: ids.length, bytes };
  }
}
