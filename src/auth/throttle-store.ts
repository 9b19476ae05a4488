/**
 * Where login attempts are counted (docs/BRUTEFORCE.md). One list of (id, timestamp, tag) entries
 * per key, entries older than the window forgotten, plus expiring marks (known clients). Every
 * method is atomic on its key: `reserve` counts and adds in one step, so parallel attempts can
 * never all see the same count (the hole of checking first and recording after the check).
 * Implementations: in memory (one process, tests), the database (default: `./occ` sees what the
 * server counted), Redis (several server processes).
 */
export interface ThrottleStore {
  /**
   * Atomically: forgets entries of `key` older than `ts - windowMs`; when fewer than `max` remain
   * (`max` 0 = no limit), adds one entry tagged `tag` and answers admitted with its id.
   * `count` is the number of entries in the window before this one.
   */
  reserve(key: string, tag: string, ts: number, windowMs: number, max: number): Promise<Reservation>;
  /** Entries of `key` at or after `since`; `freeAt` as for reserve when `max` (> 0) is reached. */
  peek(key: string, since: number, windowMs: number, max: number): Promise<Tally>;
  /** Removes the entry `id` of `key` (an attempt that turned out right is not a failure). */
  release(key: string, id: string): Promise<void>;
  /** Forgets the entries under `key` that carry `tag`. */
  removeTag(key: string, tag: string): Promise<void>;
  /** Forgets every entry under `key`. */
  clear(key: string): Promise<void>;
  /** Sets the mark `key` for `ttlMs` from `now`. */
  mark(key: string, now: number, ttlMs: number): Promise<void>;
  /** Whether the mark `key` is set and has not expired at `now`. */
  marked(key: string, now: number): Promise<boolean>;
}

export interface Tally {
  /** Entries in the window. */
  count: number;
  /** When the key is at its limit: the time (ms) the oldest entry that counts leaves the window. */
  freeAt?: number;
}

export interface Reservation extends Tally {
  admitted: boolean;
  /** The new entry's id (admitted only), for `release`. */
  id?: string;
}

interface Entry { id: string; ts: number; tag: string }

/**
 * Process-local ThrottleStore with bounded memory. Each method does its work without awaiting in
 * between, so on Node's single thread it is atomic.
 */
export class MemoryThrottleStore implements ThrottleStore {
  readonly #map = new Map<string, Entry[]>();
  readonly #marks = new Map<string, number>();
  readonly #maxKeys: number;
  readonly #maxPerKey: number;
  #seq = 0;

  constructor(opts: { maxKeys?: number; maxPerKey?: number } = {}) {
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#maxPerKey = opts.maxPerKey ?? 1000;
  }

  async reserve(key: string, tag: string, ts: number, windowMs: number, max: number): Promise<Reservation> {
    let list = this.#map.get(key);
    if (!list) {
      if (this.#map.size >= this.#maxKeys) this.#sweep(ts - windowMs);
      list = [];
      this.#map.set(key, list);
    }
    const since = ts - windowMs;
    while (list.length > 0 && list[0].ts < since) list.shift();
    const count = list.length;
    if (max > 0 && count >= max) return { admitted: false, count, freeAt: list[count - max].ts + windowMs };
    const id = String(++this.#seq);
    list.push({ id, ts, tag });
    if (list.length > this.#maxPerKey) list.splice(0, list.length - this.#maxPerKey);
    return { admitted: true, count, id };
  }

  async peek(key: string, since: number, windowMs: number, max: number): Promise<Tally> {
    const live = (this.#map.get(key) ?? []).filter((e) => e.ts >= since);
    const count = live.length;
    return max > 0 && count >= max ? { count, freeAt: live[count - max].ts + windowMs } : { count };
  }

  async release(key: string, id: string): Promise<void> {
    this.#filter(key, (e) => e.id !== id);
  }

  async removeTag(key: string, tag: string): Promise<void> {
    this.#filter(key, (e) => e.tag !== tag);
  }

  async clear(key: string): Promise<void> {
    this.#map.delete(key);
  }

  async mark(key: string, now: number, ttlMs: number): Promise<void> {
    if (!this.#marks.has(key) && this.#marks.size >= this.#maxKeys) {
      for (const [k, exp] of this.#marks) if (exp <= now) this.#marks.delete(k);
      // Still full: drop the oldest-inserted marks (those clients are merely "unknown" again).
      for (const k of this.#marks.keys()) { if (this.#marks.size < this.#maxKeys) break; this.#marks.delete(k); }
    }
    this.#marks.delete(key);
    this.#marks.set(key, now + ttlMs);
  }

  async marked(key: string, now: number): Promise<boolean> {
    return (this.#marks.get(key) ?? 0) > now;
  }

  #filter(key: string, keep: (e: Entry) => boolean): void {
    const list = this.#map.get(key);
    if (!list) return;
    const kept = list.filter(keep);
    if (kept.length === 0) this.#map.delete(key);
    else this.#map.set(key, kept);
  }

  #sweep(since: number): void {
    for (const [k, list] of this.#map) {
      if (list.length === 0 || list[list.length - 1].ts < since) this.#map.delete(k);
    }
    // Still full of live keys: drop the oldest-inserted ones rather than grow without bound.
    for (const k of this.#map.keys()) {
      if (this.#map.size < this.#maxKeys) break;
      this.#map.delete(k);
    }
  }
}
