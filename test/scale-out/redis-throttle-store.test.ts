/**
 * RedisThrottleStore against the Redis at 127.0.0.1:6379: the same semantics as the in-memory
 * store, shared between two Throttlers (two "processes"), atomic under concurrent reservations.
 * Under CI=true a missing Redis is a failure, otherwise the tests are skipped.
 */
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisClient } from '../../src/redis/redis-client.ts';
import { RedisThrottleStore } from '../../src/auth/redis-throttle-store.ts';
import { Throttler } from '../../src/auth/throttler.ts';
import { ThrottledError } from '../../src/errors.ts';

const REDIS = { host: process.env.COFFER_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.COFFER_REDIS_PORT ?? 6379) };
const instanceId = 'oct' + randomBytes(4).toString('hex');
const probe = new RedisClient(REDIS, { instanceId });
const problems = await probe.check();
const SKIP = problems.length && process.env.CI !== 'true' ? `no Redis at ${REDIS.host}:${REDIS.port}: ${problems.join('; ')}` : false;

describe('RedisThrottleStore', { skip: SKIP }, () => {
  const clients: RedisClient[] = [];
  const client = () => { const c = new RedisClient(REDIS, { instanceId }); clients.push(c); return c; };
  after(async () => {
    const c = client();
    const keys = await c.redis.keys(`${c.prefix}*`);
    if (keys.length) await c.redis.del(...keys);
    for (const x of clients) await x.close();
    await probe.close();
  });

  test('Redis answers', () => {
    assert.deepEqual(problems, []);
  });

  test('reserve / peek / release / removeTag / clear, window, limit and expiry', async () => {
    const s = new RedisThrottleStore(client());
    const k = 'ip:' + randomBytes(4).toString('hex');
    const t0 = 1_000_000;
    const a = await s.reserve(k, 'alice', t0, 10_000, 3);
    assert.deepEqual([a.admitted, a.count], [true, 0]);
    await s.reserve(k, 'bob', t0 + 1, 10_000, 3);
    const c = await s.reserve(k, 'alice', t0 + 2, 10_000, 3);
    assert.deepEqual([c.admitted, c.count], [true, 2]);
    const refused = await s.reserve(k, 'carol', t0 + 3, 10_000, 3);
    assert.deepEqual(refused, { admitted: false, count: 3, freeAt: t0 + 10_000 }, 'at the limit: nothing added, free when the oldest leaves');
    assert.deepEqual(await s.peek(k, t0 + 1, 10_000, 0), { count: 2 });
    assert.deepEqual(await s.peek(k, 0, 10_000, 2), { count: 3, freeAt: t0 + 1 + 10_000 });
    await s.release(k, a.id!);
    assert.equal((await s.peek(k, 0, 10_000, 0)).count, 2);
    // a reservation far later drops entries older than the window
    await s.reserve(k, 'carol', t0 + 10_002, 10_000, 0);
    assert.equal((await s.peek(k, 0, 10_000, 0)).count, 2);
    await s.removeTag(k, 'alice');
    assert.equal((await s.peek(k, 0, 10_000, 0)).count, 1);
    // tags with spaces and colons (IPv6 /64) are matched exactly
    const u = 'user:' + randomBytes(4).toString('hex');
    await s.reserve(u, '2001:db8:1:2::/64', t0, 10_000, 0);
    await s.reserve(u, '2001:db8:1:2::/6', t0 + 1, 10_000, 0);
    await s.removeTag(u, '2001:db8:1:2::/64');
    assert.equal((await s.peek(u, 0, 10_000, 0)).count, 1);
    const ttl = await clients[0]!.redis.pttl(`${clients[0]!.prefix}throttle:${k}`);
    assert.ok(ttl > 0 && ttl <= 10_000, `key expires with the window (pttl ${ttl})`);
    await s.clear(u);
    assert.equal((await s.peek(u, 0, 10_000, 0)).count, 0);
    const m = 'known:' + randomBytes(4).toString('hex');
    assert.equal(await s.marked(m, Date.now()), false);
    await s.mark(m, Date.now(), 60_000);
    assert.equal(await s.marked(m, Date.now()), true);
  });

  test('caps entries per key', async () => {
    const s = new RedisThrottleStore(client(), { maxPerKey: 5 });
    const k = 'ip:cap-' + randomBytes(4).toString('hex');
    for (let i = 0; i < 12; i++) await s.reserve(k, 't', 1000 + i, 60_000, 0);
    assert.deepEqual(await s.peek(k, 0, 60_000, 0), { count: 5 });
    assert.deepEqual(await s.peek(k, 0, 60_000, 5), { count: 5, freeAt: 1007 + 60_000 });
  });

  test('concurrent reservations from two connections: exactly the limit is admitted', async () => {
    const a = new RedisThrottleStore(client());
    const b = new RedisThrottleStore(client());
    const k = 'ip:race-' + randomBytes(4).toString('hex');
    const now = Date.now();
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).reserve(k, `u${i}`, now, 60_000, 37)));
    assert.equal(rs.filter((r) => r.admitted).length, 37);
    assert.deepEqual(rs.filter((r) => r.admitted).map((r) => r.count).sort((x, y) => x - y), Array.from({ length: 37 }, (_, i) => i));
    assert.equal((await a.peek(k, 0, 60_000, 0)).count, 37);
  });

  test('two throttlers on one Redis share failures: limit reached on A throttles B', async () => {
    const opts = { baseDelayMs: 1, maxDelayMs: 2, maxIpAttempts: 3 };
    const noSleep = { sleep: async () => {} };
    const A = new Throttler(new RedisThrottleStore(client()), opts, noSleep);
    const B = new Throttler(new RedisThrottleStore(client()), opts, noSleep);
    const ip = `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.7`;
    for (let i = 0; i < 3; i++) await A.begin({ ip, uid: 'mallory' });
    await assert.rejects(B.begin({ ip, uid: 'alice' }), ThrottledError);
    // B's success for another user does not wipe mallory's record
    await B.registerSuccess(ip, 'alice');
    await assert.rejects(A.begin({ ip }), ThrottledError);
    await B.registerSuccess(ip, 'mallory');
    assert.equal((await A.begin({ ip })).delayMs, 0);
  });

  test('an unreachable Redis fails the check (fail closed), it does not hang', async () => {
    const dead = new RedisClient({ host: '127.0.0.1', port: 1 }, { instanceId, connectTimeoutMs: 500 });
    clients.push(dead);
    const c = await dead.check();
    assert.equal(c.length, 1);
    assert.match(c[0]!, /cannot connect to Redis at 127\.0\.0\.1:1/);
    const t = new Throttler(new RedisThrottleStore(dead));
    const t0 = Date.now();
    await assert.rejects(t.begin({ ip: '10.0.0.1' }));
    assert.ok(Date.now() - t0 < 10_000);
  });
});
