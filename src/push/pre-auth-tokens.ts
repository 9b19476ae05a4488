import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/redis-client.ts';

/**
 * notify_push's pre-authentication: an authenticated request gets a token that stands for its user
 * on one WebSocket login within 15 s (the web UI uses it instead of a password). Tokens are kept
 * by their SHA-256 only (a lookup by hash, so no comparison leaks timing), used once.
 */
export interface PreAuthTokens {
  /** A fresh token for `uid`. */
  issue(uid: string): Promise<string>;
  /** The user of a token, once; undefined when unknown, used or expired. */
  redeem(token: string): Promise<string | undefined>;
}

/** How long a pre-auth token is valid, ms (notify_push: 15 s). */
export const PRE_AUTH_TTL_MS = 15_000;
/** Most live tokens held in memory (each is a few dozen bytes; older ones go first). */
const MAX_LIVE = 10_000;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');
const newToken = () => randomBytes(24).toString('base64url');

/** Tokens of a single process. */
export class MemoryPreAuthTokens implements PreAuthTokens {
  readonly #live = new Map<string, { uid: string; expires: number }>();

  async issue(uid: string): Promise<string> {
    const now = Date.now();
    for (const [k, v] of this.#live) if (v.expires <= now || this.#live.size >= MAX_LIVE) this.#live.delete(k); else break;
    const token = newToken();
    this.#live.set(digest(token), { uid, expires: now + PRE_AUTH_TTL_MS });
    return token;
  }

  async redeem(token: string): Promise<string | undefined> {
    const key = digest(token);
    const hit = this.#live.get(key);
    this.#live.delete(key);
    return hit && hit.expires > Date.now() ? hit.uid : undefined;
  }
}

/** Tokens every process sees (scale-out): Redis keys that expire by themselves. */
export class RedisPreAuthTokens implements PreAuthTokens {
  readonly #client: RedisClient;

  constructor(client: RedisClient) { this.#client = client; }

  async issue(uid: string): Promise<string> {
    const token = newToken();
    await this.#client.connect();
    await this.#client.redis.set(this.#key(token), uid, 'PX', PRE_AUTH_TTL_MS);
    return token;
  }

  async redeem(token: string): Promise<string | undefined> {
    await this.#client.connect();
    // GETDEL: used once, even when two processes race for it
    const uid = await this.#client.redis.getdel(this.#key(token));
    return uid ?? undefined;
  }

  #key(token: string): string { return `${this.#client.prefix}push:preauth:${digest(token)}`; }
}
