import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/redis-client.ts';
import type { Reservation, Tally, ThrottleStore } from './throttle-store.ts';

// KEYS[1] = sorted set; ARGV = member, ts, windowMs, max (0 = none), maxPerKey.
// Count and add are one script, so no two processes can both see "one below the limit".
// Returns {admitted 0/1, count before, freeAt or -1}.
const RESERVE_LUA = `
local ts = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (ts - win))
local n = redis.call('ZCARD', KEYS[1])
if max > 0 and n >= max then
  local e = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')
  return {0, n, e[2]}
end
redis.call('ZADD', KEYS[1], ts, ARGV[1])
local cap = tonumber(ARGV[5])
if n + 1 > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap) end
redis.call('PEXPIRE', KEYS[1], win)
return {1, n, '-1'}
`;

// KEYS[1] = sorted set; ARGV = since, max (0 = none). Returns {count, freeAt score or -1}.
const PEEK_LUA = `
local n = redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')
local max = tonumber(ARGV[2])
if max > 0 and n >= max then
  local e = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', n - max, 1)
  return {n, e[2]}
end
return {n, '-1'}
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
 * (`coffer:<instance>:throttle:<key>`), member `<random> <tag>` (the member is the entry's id),
 * score = timestamp (ms); marks are plain keys with an expiry (`…:throttle-mark:<key>`). Reserve,
 * peek and tag removal are Lua scripts, so concurrent processes count exactly. Each set expires
 * with the window, so Redis memory is bounded by the attack rate × window.
 * Methods reject with the Redis error when Redis is unreachable; the login then fails (fail
 * closed) rather than letting guesses through uncounted.
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

  async reserve(key: string, tag: string, ts: number, windowMs: number, max: number): Promise<Reservation> {
    const member = `${randomBytes(6).toString('hex')} ${tag}`;
    const [ok, n, freeAt] = await this.#client.redis.eval(RESERVE_LUA, 1, this.#key(key), member, String(ts), String(windowMs),
      String(max), String(this.#maxPerKey)) as [number, number, string];
    return ok === 1 ? { admitted: true, count: Number(n), id: member } : { admitted: false, count: Number(n), freeAt: Number(freeAt) + windowMs };
  }

  async peek(key: string, since: number, windowMs: number, max: number): Promise<Tally> {
    const [n, oldest] = await this.#client.redis.eval(PEEK_LUA, 1, this.#key(key), String(since), String(max)) as [number, string];
    return Number(oldest) >= 0 ? { count: Number(n), freeAt: Number(oldest) + windowMs } : { count: Number(n) };
  }

  async release(key: string, id: string): Promise<void> {
    await this.#client.redis.zrem(this.#key(key), id);
  }

  async removeTag(key: string, tag: string): Promise<void> {
    await this.#client.redis.eval(REMOVE_TAG_LUA, 1, this.#key(key), tag);
  }

  async clear(key: string): Promise<void> {
    await this.#client.redis.del(this.#key(key));
  }

  async mark(key: string, now: number, ttlMs: number): Promise<void> {
    void now; // Redis expires the mark itself
    await this.#client.redis.set(`${this.#client.prefix}throttle-mark:${key}`, '1', 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async marked(key: string, now: number): Promise<boolean> {
    void now; // Redis expires the mark itself
    return (await this.#client.redis.exists(`${this.#client.prefix}throttle-mark:${key}`)) === 1;
  }
}
