import type { LoginFlowStore, PendingFlowRecord } from '../auth/login-flow-service.ts';
import type { RedisClient } from './redis-client.ts';

/**
 * LoginFlowStore in Redis: `coffer:<instance>:loginflow:pending:<sha256(login token)>` and
 * `…:loginflow:result:<sha256(poll token)>`, both expiring with the flow, and per address
 * `…:loginflow:address:<address>` (a sorted set of its pending flows by expiry, for the limit). Taking uses GETDEL
 * (Redis ≥ 6.2), so a flow is granted once and its result polled once across all processes.
 * Methods reject with the Redis error when Redis is unreachable.
 */
export class RedisLoginFlowStore implements LoginFlowStore {
  readonly #c: RedisClient;
  readonly #now: () => number;

  constructor(client: RedisClient, now: () => number = Date.now) {
    this.#c = client;
    this.#now = now;
  }

  #pending(h: string): string { return `${this.#c.prefix}loginflow:pending:${h}`; }
  /** Sorted set of an address's pending flows (member: login hash, score: expiry). */
  #byAddress(a: string): string { return `${this.#c.prefix}loginflow:address:${a}`; }
  #result(h: string): string { return `${this.#c.prefix}loginflow:result:${h}`; }
  #ttl(expires: number): number { return Math.max(1, expires - this.#now()); }

  async pendingFor(address: string, now: number): Promise<{ count: number; oldestExpires: number }> {
    const key = this.#byAddress(address);
    const r = await this.#c.redis.multi().zremrangebyscore(key, '-inf', now).zcard(key).zrange(key, 0, 0, 'WITHSCORES').exec();
    const count = Number(r?.[1]?.[1] ?? 0);
    const oldest = (r?.[2]?.[1] as string[] | undefined)?.[1];
    return { count, oldestExpires: oldest === undefined ? now : Number(oldest) };
  }

  async putPending(loginHash: string, rec: PendingFlowRecord): Promise<void> {
    const key = this.#byAddress(rec.address);
    await this.#c.redis.multi()
      .set(this.#pending(loginHash), JSON.stringify(rec), 'PX', this.#ttl(rec.expires))
      .zadd(key, rec.expires, loginHash)
      .pexpire(key, this.#ttl(rec.expires))
      .exec();
  }

  async getPending(loginHash: string): Promise<PendingFlowRecord | undefined> {
    const v = await this.#c.redis.get(this.#pending(loginHash));
    return v ? (JSON.parse(v) as PendingFlowRecord) : undefined;
  }

  async takePending(loginHash: string): Promise<PendingFlowRecord | undefined> {
    const v = await this.#c.redis.getdel(this.#pending(loginHash));
    if (!v) return undefined;
    const rec = JSON.parse(v) as PendingFlowRecord;
    if (rec.address !== undefined) await this.#c.redis.zrem(this.#byAddress(rec.address), loginHash);
    return rec;
  }

  async putResult(pollHash: string, sealed: string, expires: number): Promise<void> {
    await this.#c.redis.set(this.#result(pollHash), sealed, 'PX', this.#ttl(expires));
  }

  async takeResult(pollHash: string): Promise<string | undefined> {
    return (await this.#c.redis.getdel(this.#result(pollHash))) ?? undefined;
  }
}
