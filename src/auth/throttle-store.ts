/**
 * Where failed login attempts are counted. One list of (timestamp, tag) entries per key; entries
 * older than the window are forgotten. The in-memory store serves one process; a shared store
 * (Redis) lets several processes throttle together.
 */
export interface ThrottleStore {
  /** Records one failure under `key`, tagged (the IP's key is tagged with the uid and vice versa). */
  add(key: string, tag: string, ts: number, windowMs: number): Promise<void>;
  /** Timestamps (ms) of the failures under `key` at or after `since`, ascending. */
  timestamps(key: string, since: number): Promise<number[]>;
  /** Forgets the failures under `key` that carry `tag`. */
  removeTag(key: string, tag: string): Promise<void>;
}

interface Entry { ts: number; tag: string }

/** Process-local ThrottleStore with bounded memory. */
export class MemoryThrottleStore implements ThrottleStore {
  readonly #map = new Map<string, Entry[]>();
  readonly #maxKeys: number;
  readonly #maxPerKey: number;

  constructor(opts: { maxKeys?: number; maxPerKey?: number } = {}) {
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#maxPerKey = opts.maxPerKey ?? 1000;
  }

  async add(key: string, tag: string, ts: number, windowMs: number): Promise<void> {
    let list = this.#map.get(key);
    if (!list) {
      if (this.#map.size >= this.#maxKeys) this.#sweep(ts - windowMs);
      list = [];
      this.#map.set(key, list);
    }
    const since = ts - windowMs;
    while (list.length > 0 && list[0].ts < since) list.shift();
    list.push({ ts, tag });
    if (list.length > this.#maxPerKey) list.splice(0, list.length - this.#maxPerKey);
  }

  async timestamps(key: string, since: number): Promise<number[]> {
    const list = this.#map.get(key);
    if (!list) return [];
    return list.filter((e) => e.ts >= since).map((e) => e.ts);
  }

  async removeTag(key: string, tag: string): Promise<void> {
    const list = this.#map.get(key);
    if (!list) return;
    const kept = list.filter((e) => e.tag !== tag);
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
