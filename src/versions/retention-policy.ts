/**
 * Nextcloud's retention obligations (`versions_retention_obligation`,
 * `trashbin_retention_obligation`), with its meanings:
 *   `auto`      versions: thinned automatically, deleted whenever space is needed;
 *               trash: kept 30 days, deleted after that only when space is needed;
 *   `D, auto`   kept at least D days, deleted anytime after that when space is needed;
 *   `auto, D`   deleted when older than D days, and anytime when space is needed;
 *   `D1, D2`    kept at least D1 days, deleted when older than D2 days (D2 < D1 counts as D1),
 *               never deleted earlier to save space;
 *   `disabled`  kept forever.
 * Pure: the clock is a parameter (seconds since the epoch).
 */
export interface RetentionPolicy {
  readonly enabled: boolean;
  /** Days; null = no obligation. */
  readonly minDays: number | null;
  readonly maxDays: number | null;
  readonly canPurgeToSaveSpace: boolean;
  /** The setting as written (for `config` output). */
  readonly source: string;
}

const TRASH_DEFAULT_DAYS = 30;
const DAY = 86_400;

/**
 * Parses a retention obligation as Nextcloud does: an invalid versions value falls back to `auto`
 * (Nextcloud logs a warning and does the same; `warn` is told).
 */
export function parseRetention(value: string | undefined, kind: 'versions' | 'trashbin', warn?: (msg: string) => void): RetentionPolicy {
  const source = (value ?? 'auto').trim();
  if (source === 'disabled') return { enabled: false, minDays: null, maxDays: null, canPurgeToSaveSpace: false, source };
  const parts = source.split(',').map((s) => s.trim());
  let min = parts[0] ?? 'auto';
  let max = parts[1] ?? (kind === 'trashbin' && min !== 'auto' ? String(TRASH_DEFAULT_DAYS) : 'auto');
  const valid = (v: string) => v === 'auto' || /^\d+$/.test(v);
  if (!valid(min) || !valid(max)) {
    warn?.(`${source} is not a valid ${kind}_retention_obligation; falling back to auto`);
    min = 'auto';
    max = 'auto';
  }
  if (min === 'auto' && max === 'auto') {
    return { enabled: true, minDays: kind === 'trashbin' ? TRASH_DEFAULT_DAYS : null, maxDays: null, canPurgeToSaveSpace: true, source };
  }
  if (max === 'auto') return { enabled: true, minDays: Number(min), maxDays: null, canPurgeToSaveSpace: true, source };
  if (min === 'auto') return { enabled: true, minDays: null, maxDays: Number(max), canPurgeToSaveSpace: true, source };
  const lo = Number(min);
  return { enabled: true, minDays: lo, maxDays: Math.max(lo, Number(max)), canPurgeToSaveSpace: false, source };
}

/** Versions only: whether the automatic thinning applies (no explicit minimum or maximum). */
export function shouldAutoExpire(p: RetentionPolicy): boolean {
  return p.enabled && (p.minDays === null || p.maxDays === null);
}

/** Whether something dated `timestamp` may go now (`quotaExceeded`: space is needed). */
export function isExpired(p: RetentionPolicy, timestamp: number, now: number, quotaExceeded = false): boolean {
  if (!p.enabled) return false;
  if (quotaExceeded && p.canPurgeToSaveSpace) return true;
  if (now < timestamp) return false; // never expire the future (clock skew, client mtimes)
  const olderThanMax = p.maxDays !== null && timestamp < now - p.maxDays * DAY;
  const minReached = p.minDays !== null && timestamp < now - p.minDays * DAY && quotaExceeded;
  return olderThanMax || minReached;
}

/** Nextcloud's thinning steps (Storage::MAX_VERSIONS_PER_INTERVAL): [interval ends after, step], seconds. */
export const THINNING_INTERVALS: ReadonlyArray<readonly [number, number]> = [
  [10, 2], // first 10 s: one version every 2 s
  [60, 10], // first minute: one every 10 s
  [3600, 60], // first hour: one a minute
  [86_400, 3600], // first day: one an hour
  [2_592_000, 86_400], // first 30 days: one a day
  [-1, 604_800], // then one a week
];

/**
 * The versions the automatic thinning removes (Storage::getAutoExpireList): walking from the newest,
 * a version closer than the current interval's step to the last one kept goes. `versions` are
 * timestamps, newest first; returns the indexes to delete.
 */
export function autoThinning(versions: readonly number[], now: number): Set<number> {
  const out = new Set<number>();
  if (versions.length === 0) return out;
  let interval = 0;
  let [ends, step] = THINNING_INTERVALS[0]!;
  let nextInterval = ends === -1 ? -1 : now - ends;
  let prev = versions[0]!;
  let nextVersion = prev - step;
  for (let i = 1; i < versions.length; i++) {
    const v = versions[i]!;
    for (;;) {
      if (nextInterval === -1 || prev > nextInterval) {
        if (v > nextVersion) out.add(i);
        else {
          nextVersion = v - step;
          prev = v;
        }
        break;
      }
      interval++;
      [ends, step] = THINNING_INTERVALS[interval]!;
      nextVersion = prev - step;
      nextInterval = ends === -1 ? -1 : now - ends;
    }
  }
  return out;
}

/** Share of a user's free space that versions (and, separately, the trash) may use (Nextcloud: 50 %). */
export const MAX_SHARE_OF_FREE_SPACE = 0.5;
