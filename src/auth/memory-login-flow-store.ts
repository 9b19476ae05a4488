import type { LoginFlowStore, PendingFlowRecord } from './login-flow-service.ts';

/**
 * LoginFlowStore in one process's memory. The primary of `./occ serve --workers N` holds it for
 * its workers (they reach it over IPC, src/cluster/cluster-rpc.ts), so that a flow started on one
 * worker is granted on a second and polled on a third, as with the Redis store across hosts. It
 * holds what the Redis store holds: token hashes and results sealed to the poll token. Each method
 * runs without awaiting in between, so on Node's single thread a take is atomic. Expired entries
 * are dropped when seen and by a sweep once the maps grow.
 */
export class MemoryLoginFlowStore implements LoginFlowStore {
  readonly #pending = new Map<string, PendingFlowRecord>();
  readonly #results = new Map<string, { sealed: string; expires: number }>();
  readonly #now: () => number;
  readonly #maxEntries: number;

  constructor(opts: { now?: () => number; maxEntries?: number } = {}) {
    this.#now = opts.now ?? Date.now;
    this.#maxEntries = opts.maxEntries ?? 100_000;
  }

  async pendingFor(address: string, now: number): Promise<{ count: number; oldestExpires: number }> {
    let count = 0;
    let oldestExpires = Infinity;
    for (const r of this.#pending.values()) {
      if (r.address !== address || r.expires <= now) continue;
      count++;
      oldestExpires = Math.min(oldestExpires, r.expires);
    }
    return { count, oldestExpires: count ? oldestExpires : now };
  }

  async putPending(loginHash: string, rec: PendingFlowRecord): Promise<void> {
    if (this.#pending.size >= this.#maxEntries) this.#sweep();
    this.#pending.set(loginHash, rec);
  }

  async getPending(loginHash: string): Promise<PendingFlowRecord | undefined> {
    const r = this.#pending.get(loginHash);
    if (r && r.expires <= this.#now()) { this.#pending.delete(loginHash); return undefined; }
    return r;
  }

  async takePending(loginHash: string): Promise<PendingFlowRecord | undefined> {
    const r = await this.getPending(loginHash);
    this.#pending.delete(loginHash);
    return r;
  }

  async putResult(pollHash: string, sealed: string, expires: number): Promise<void> {
    if (this.#results.size >= this.#maxEntries) this.#sweep();
    this.#results.set(pollHash, { sealed, expires });
  }

  async takeResult(pollHash: string): Promise<string | undefined> {
    const r = this.#results.get(pollHash);
    this.#results.delete(pollHash);
    return r && r.expires > this.#now() ? r.sealed : undefined;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, r] of this.#pending) if (r.expires <= now) this.#pending.delete(k);
    for (const [k, r] of this.#results) if (r.expires <= now) this.#results.delete(k);
    // Still full of live flows: drop the oldest-inserted (those clients simply start again).
    for (const k of this.#pending.keys()) { if (this.#pending.size < this.#maxEntries) break; this.#pending.delete(k); }
    for (const k of this.#results.keys()) { if (this.#results.size < this.#maxEntries) break; this.#results.delete(k); }
  }
}
