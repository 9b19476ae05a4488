/**
 * RedisThrottleStore against the Redis at 127.0.0.1:6379: the same semantics as the in-memory
 * store, shared between two Throttlers (two "processes"), atomic under concurrent adds.
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

  test('add / timestamps / removeTag, window and expiry', async () => {
    const s = new RedisThrottleStore(client());
    const k = 'ip:' + randomBytes(4).toString('hex');
    const t0 = 1_000_000;
    await s.add(k, 'alice', t0, 10_000);
    await s.add(k, 'bob', t0 + 1, 10_000);
    await s.add(k, 'alice', t0 + 2, 10_000);
    assert.deepEqual(await s.timestamps(k, t0), [t0, t0 + 1, t0 + 2]);
    assert.deepEqual(await s.timestamps(k, t0 + 1), [t0 + 1, t0 + 2]);
    // an add far later drops entries older than the window
    await s.add(k, 'carol', t0 + 10_001, 10_000);
    assert.deepEqual(await s.timestamps(k, 0), [t0 + 1, t0 + 2, t0 + 10_001]);
    await s.removeTag(k, 'alice');
    assert.deepEqual(await s.timestamps(k, 0), [t0 + 1, t0 + 10_001]);
    // tags with spaces and colons (IPv6 /64) are matched exactly
    const u = 'user:' + randomBytes(4).toString('hex');
    await s.add(u, '2001:db8:1:2::/64', t0, 10_000);
    await s.add(u, '2001:db8:1:2::/6', t0 + 1, 10_000);
    await s.removeTag(u, '2001:db8:1:2::/64');
    assert.deepEqual(await s.timestamps(u, 0), [t0 + 1]);
    const ttl = await clients[0]!.redis.pttl(`${clients[0]!.prefix}throttle:${k}`);
    assert.ok(ttl > 0 && ttl <= 10_000, `key expires with the window (pttl ${ttl})`);
  });

  test('caps entries per key', async () => {
    const s = new RedisThrottleStore(client(), { maxPerKey: 5 });
    const k = 'ip:cap-' + randomBytes(4).toString('hex');
    for (let i = 0; i < 12; i++) await s.add(k, 't', 1000 + i, 60_000);
    assert.deepEqual(await s.timestamps(k, 0), [1007, 1008, 1009, 1010, 1011]);
  });

  test('concurrent adds from two connections are all counted', async () => {
    const a = new RedisThrottleStore(client());
    const b = new RedisThrottleStore(client());
    const k = 'ip:race-' + randomBytes(4).toString('hex');
    const now = Date.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).add(k, `u${i}`, now, 60_000)));
    assert.equal((await a.timestamps(k, 0)).length, 200);
  });

  test('two throttlers on one Redis share failures: limit reached on A throttles B', async () => {
    const opts = { baseDelayMs: 1, maxDelayMs: 2, maxIpAttempts: 3, maxUserAttempts: 100 };
    const noSleep = { sleep: async () => {} };
    const A = new Throttler(new RedisThrottleStore(client()), opts, noSleep);
    const B = new Throttler(new RedisThrottleStore(client()), opts, noSleep);
    const ip = `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.7`;
    for (let i = 0; i < 3; i++) await A.registerFailure(ip, 'mallory');
    await assert.rejects(B.check({ ip }), ThrottledError);
    // B's success for another user does not wipe mallory's record
    await B.registerSuccess(ip, 'alice');
    await assert.rejects(A.check({ ip }), ThrottledError);
    await B.registerSuccess(ip, 'mallory');
    assert.equal(await A.check({ ip }), 0);
  });

  test('an unreachable Redis fails the check (fail closed), it does not hang', async () => {
    const dead = new RedisClient({ host: '127.0.0.1', port: 1 }, { instanceId, connectTimeoutMs: 500 });
    clients.push(dead);
    const c = await dead.check();
    assert.equal(c.length, 1);
    assert.match(c[0]!, /cannot connect to Redis at 127\.0\.0\.1:1/);
    const t = new Throttler(new RedisThrottleStore(dead));
    const t0 = Date.now();
    await assert.rejects(t.check({ ip: '10.0.0.1' }));
    assert.ok(Date.now() - t0 < 10_000);
  });
});
