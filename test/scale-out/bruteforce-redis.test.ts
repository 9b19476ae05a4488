/**
 * Brute-force protection with the Redis store (scale-out): two server instances (each its own App
 * and Redis connection, one database) count together and atomically — 40 parallel guesses spread
 * over both are checked at most 10 times — and a known device or app password still gets in while
 * the account is attacked through both. Under CI=true a missing Redis is a failure, otherwise skipped.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';
import { RedisClient } from '../../src/redis/redis-client.ts';
import { writeTestConfig } from '../support/test-instance.ts';

const REDIS = { host: process.env.COFFER_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.COFFER_REDIS_PORT ?? 6379) };
const probe = new RedisClient(REDIS, { instanceId: 'probe' + randomBytes(3).toString('hex') });
const problems = await probe.check();
await probe.close();
const SKIP = problems.length && process.env.CI !== 'true' ? `no Redis at ${REDIS.host}:${REDIS.port}: ${problems.join('; ')}` : false;
const THROTTLE = { baseDelayMs: 50, maxDelayMs: 1000, maxIpAttempts: 10, maxClientAttempts: 10 };
const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

describe('brute-force protection with Redis across two server instances', { skip: SKIP, timeout: 120_000 }, () => {
  const apps: App[] = [];
  const servers: RunningServer[] = [];
  let dir = '';
  let configPath = '';

  before(async () => {
    ({ dir, configPath } = await writeTestConfig());
    const json = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(configPath, JSON.stringify({ ...json, trustedProxies: ['127.0.0.1'], redis: REDIS }));
    for (let i = 0; i < 2; i++) {
      const app = await openApp(loadConfig(configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 }, throttle: THROTTLE });
      apps.push(app);
      servers.push(await startServer(app, { host: '127.0.0.1', port: 0 }));
    }
    await apps[0]!.users.create({ uid: 'alice', password: 'alice-password' });
  });
  after(async () => {
    const c = apps[0]?.redis;
    if (c) { const keys = await c.redis.keys(`${c.prefix}*`); if (keys.length) await c.redis.del(...keys); }
    for (const s of servers) await s.close(500);
    for (const a of apps) await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function dav(n: number, ip: string, password: string): Promise<{ status: number; ms: number }> {
    const t0 = performance.now();
    const r = await fetch(`${servers[n]!.url}/remote.php/dav/files/alice/`, { method: 'PROPFIND', headers: { authorization: basic('alice', password), depth: '0', 'x-forwarded-for': ip } });
    await r.arrayBuffer();
    return { status: r.status, ms: performance.now() - t0 };
  }

  test('40 parallel guesses spread over both instances: at most 10 are checked', async () => {
    const ip = '192.0.2.140';
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => dav(i % 2, ip, `guess-${i}`)));
    assert.equal(rs.filter((r) => r.status === 401).length, THROTTLE.maxIpAttempts, rs.map((r) => r.status).join(','));
    assert.equal(rs.filter((r) => r.status === 429).length, 40 - THROTTLE.maxIpAttempts);
    assert.equal((await dav(1, ip, 'alice-password')).status, 429, 'the right password after them is refused unchecked');
    assert.equal((await apps[0]!.throttle.addressStatus(ip)).attempts, THROTTLE.maxIpAttempts);
  });

  test('attacked through both instances, the owner still gets in: known address at once, unknown client slowed', async () => {
    assert.equal((await dav(0, '192.0.2.150', 'alice-password')).status, 207, 'the owner at home, once');
    const { token } = await apps[1]!.appPasswords.create('alice', 'phone');
    const attack = await Promise.all(['100.64.11.1', '100.64.12.1', '100.64.13.1'].flatMap((ip, k) =>
      Array.from({ length: 10 }, (_, i) => dav((i + k) % 2, ip, `guess-${ip}-${i}`))));
    assert.ok(attack.every((r) => r.status === 401), attack.map((r) => r.status).join(','));
    const home = await dav(1, '192.0.2.150', 'alice-password');
    assert.equal(home.status, 207);
    assert.ok(home.ms < THROTTLE.maxDelayMs, `known address on the other instance: no delay (${home.ms.toFixed(0)} ms)`);
    assert.equal((await dav(0, '100.64.14.1', token)).status, 207, 'app password');
    const fresh = await dav(0, '100.64.15.1', 'alice-password');
    assert.equal(fresh.status, 207, 'unknown client: not refused');
    assert.ok(fresh.ms >= THROTTLE.maxDelayMs - 10, `unknown client: slowed (${fresh.ms.toFixed(0)} ms)`);
  });
});
