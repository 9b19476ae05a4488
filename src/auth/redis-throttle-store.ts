import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/redis-client.ts';
import type { ThrottleStore } from './throttle-store.ts';

// KEYS[1] = sorted set; ARGV = member, ts, windowMs, maxPerKey.
// Adds the failure, drops entries older than the window, caps the set, expires it with the window.
const ADD_LUA = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[3])))
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[4])
if n > max then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n
`;

// KEYS[1] = sorted set; ARGV[1] = tag. Members are "<12 hex> <tag>"; removes those with this tag.
const REMOVE_TAG_LUA = `
local removed = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(m, 14) == ARGV[1] then
    redis.call('ZREM', KEYS[1], m)
    removed = removed + 1
  end
end
return removed
`;

/**
 * ThrottleStore in Redis, shared by every server process of an instance: one sorted set per key
 * (`coffer:<instance>:throttle:<key>`), member `<random> <tag>`, score = timestamp (ms). Adding and
 * removing run as Lua scripts, so concurrent processes never lose a failure. Each set expires with
 * the window, so Redis memory is bounded by the attack rate × window.
 * Methods reject with the Redis error when Redis is unreachable; the throttler then fails the login
 * (fail closed) rather than letting guesses through uncounted.
 */
export class RedisThrottleStore implements ThrottleStore {
  readonly #client: RedisClient;
  readonly #maxPerKey: number;

  constructor(client: RedisClient, opts: { maxPerKey?: number } = {}) {
    this.#client = client;
    this.#maxPerKey = opts.maxPerKey ?? 1000;
  }

  #key(key: string): string {
    return `${this.#client.prefix}throttle:${key}`;
  }

  async add(key: string, tag: string, ts: number, windowMs: number): Promise<void> {
    const member = `${randomBytes(6).toString('hex')} ${tag}`;
    await this.#client.redis.eval(ADD_LUA, 1, this.#key(key), member, String(ts), String(windowMs), String(this.#maxPerKey));
  }

  async timestamps(key: string, since: number): Promise<number[]> {
    const flat = await this.#client.redis.zrangebyscore(this.#key(key), since, '+inf', 'WITHSCORES');
    const out: number[] = [];
    for (let i = 1; i < flat.length; i += 2) out.push(Number(flat[i]));
    return out;
  }

  async removeTag(key: string, tag: string): Promise<void> {
    await this.#client.redis.eval(REMOVE_TAG_LUA, 1, this.#key(key), tag);
  }
}
