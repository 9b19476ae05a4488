/** Most part writes of one bulk request in flight at once (each holds at most SMALL_BLOB bytes). */
export const BULK_IN_FLIGHT = 8;

/**
 * The writes of one bulk request that are still committing, so that reading the next part overlaps
 * the fsyncs of the previous ones instead of waiting for each in turn. Bounded (`max` in flight);
 * tasks with the same key run one after another in the order they were started (the same path
 * twice: the later write wins); the bytes in flight are counted per owner for the quota check.
 * Tasks must not reject (they record their own outcome).
 */
export class CommitPipeline {
  readonly #max: number;
  readonly #inflight = new Set<Promise<void>>();
  readonly #tails = new Map<string, Promise<void>>();
  readonly #reserved = new Map<string, number>();

  constructor(max = BULK_IN_FLIGHT) {
    this.#max = max;
  }

  /** Bytes of `owner`'s writes still in flight. */
  reserved(owner: string): number {
    return this.#reserved.get(owner) ?? 0;
  }

  /** Resolves once fewer than `max` tasks are in flight. */
  async room(): Promise<void> {
    while (this.#inflight.size >= this.#max) await Promise.race(this.#inflight);
  }

  /** Starts `task` once the previous task of `key` has settled; `bytes` count against `owner` until it settles. */
  start(key: string, owner: string, bytes: number, task: () => Promise<void>): void {
    const prev = this.#tails.get(key);
    this.#reserved.set(owner, this.reserved(owner) + bytes);
    const run = (prev ? prev.then(task) : task()).finally(() => {
      this.#reserved.set(owner, this.reserved(owner) - bytes);
      this.#inflight.delete(run);
      if (this.#tails.get(key) === run) this.#tails.delete(key);
    });
    this.#tails.set(key, run);
    this.#inflight.add(run);
  }

  /** Resolves once every task started so far has settled. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
  }
}
