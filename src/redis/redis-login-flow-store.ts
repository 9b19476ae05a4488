import type { LoginFlowStore, PendingFlowRecord } from '../auth/login-flow-service.ts';
import type { RedisClient } from './redis-client.ts';

/**
 * LoginFlowStore in Redis: `coffer:<instance>:loginflow:pending:<sha256(login token)>` and
 * `…:loginflow:result:<sha256(poll token)>`, both expiring with the flow. Taking uses GETDEL
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
  #result(h: string): string { return `${this.#c.prefix}loginflow:result:${h}`; }
  #ttl(expires: number): number { return Math.max(1, expires - this.#now()); }

  async putPending(loginHash: string, rec: PendingFlowRecord): Promise<void> {
    await this.#c.redis.set(this.#pending(loginHash), JSON.stringify(rec), 'PX', this.#ttl(rec.expires));
  }

  async getPending(loginHash: string): Promise<PendingFlowRecord | undefined> {
    const v = await this.#c.redis.get(this.#pending(loginHash));
    return v ? (JSON.parse(v) as PendingFlowRecord) : undefined;
  }

  async takePending(loginHash: string): Promise<PendingFlowRecord | undefined> {
    const v = await this.#c.redis.getdel(this.#pending(loginHash));
    return v ? (JSON.parse(v) as PendingFlowRecord) : undefined;
  }

  async putResult(pollHash: string, sealed: string, expires: number): Promise<void> {
    await this.#c.redis.set(this.#result(pollHash), sealed, 'PX', this.#ttl(expires));
  }

  async takeResult(pollHash: string): Promise<string | undefined> {
    return (await this.#c.redis.getdel(this.#result(pollHash))) ?? undefined;
  }
}
