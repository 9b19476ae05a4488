/**
 * Push across two server instances (one database, each its own App, Redis pub/sub as the change
 * bus): a change made through instance 0 reaches a client connected to instance 1 within 1 s, for
 * the owner and for a share recipient; a pre-auth token issued by one is redeemed by the other.
 * Under CI=true a missing Redis is a failure, otherwise skipped.
 */
import { SYSTEM } from '../../src/actor.ts';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';
import { RedisClient } from '../../src/redis/redis-client.ts';
import type { RedisChangeBus } from '../../src/push/redis-change-bus.ts';
import { writeTestConfig } from '../support/test-instance.ts';
import { PushClient } from './push-client.ts';

const REDIS = { host: process.env.COFFER_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.COFFER_REDIS_PORT ?? 6379) };
const probe = new RedisClient(REDIS, { instanceId: 'probe' + randomBytes(3).toString('hex') });
const problems = await probe.check();
await probe.close();
const SKIP = problems.length && process.env.CI !== 'true' ? `no Redis at ${REDIS.host}:${REDIS.port}: ${problems.join('; ')}` : false;
const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
const isFile = (m: string) => m === 'notify_file' || m.startsWith('notify_file_id');

describe('push across two server instances through Redis', { skip: SKIP, timeout: 60_000 }, () => {
  const apps: App[] = [];
  const servers: RunningServer[] = [];
  let dir = '';
  let aliceApp = '';
  let bobApp = '';
  const ws = (n: number) => `${servers[n]!.url.replace('http', 'ws')}/push/ws`;

  before(async () => {
    let configPath: string;
    ({ dir, configPath } = await writeTestConfig());
    const json = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(configPath, JSON.stringify({ ...json, redis: REDIS }));
    for (let i = 0; i < 2; i++) {
      const app = await openApp(loadConfig(configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
      apps.push(app);
      servers.push(await startServer(app, { host: '127.0.0.1', port: 0 }));
      await (app.changeBus as RedisChangeBus).ready();
    }
    await apps[0]!.users.create({ uid: 'alice', password: 'alice-password' });
    await apps[0]!.users.create({ uid: 'bob', password: 'bob-password' });
    aliceApp = (await apps[0]!.appPasswords.create('alice', 'push')).token;
    bobApp = (await apps[0]!.appPasswords.create('bob', 'push')).token;
    await apps[0]!.files.mkdir('alice', 'Team');
    await apps[0]!.shares.create(SYSTEM, { uid: 'alice', path: 'Team', shareType: 0, shareWith: 'bob', permissions: 31 });
  });
  after(async () => {
    const c = apps[0]?.redis;
    if (c) { const keys = await c.redis.keys(`${c.prefix}*`); if (keys.length) await c.redis.del(...keys); }
    for (const s of servers) await s.close(500);
    for (const a of apps) await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a PUT on instance 0 reaches owner and sharee connected to instance 1 within 1 s', async () => {
    const alice = await PushClient.login(ws(1), 'alice', aliceApp);
    const bob = await PushClient.login(ws(1), 'bob', bobApp);
    const t0 = performance.now();
    const waits = [alice.next(isFile, 1000), bob.next(isFile, 1000)].map((p) => p.then(() => performance.now() - t0));
    const r = await fetch(`${servers[0]!.url}/remote.php/dav/files/bob/Team/from-bob.txt`, { method: 'PUT', body: 'x', headers: { authorization: basic('bob', bobApp) } });
    assert.equal(r.status, 201);
    const ms = await Promise.all(waits);
    assert.ok(ms.every((x) => x < 1000), ms.join(', '));
    alice.close(); bob.close();
  });

  test('both instances deliver to their own clients; a pre-auth token of one works on the other', async () => {
    const r = await fetch(`${servers[0]!.url}/index.php/apps/notify_push/pre_auth`, { method: 'POST', headers: { authorization: basic('alice', aliceApp) } });
    const token = await r.text();
    const on1 = await PushClient.login(ws(1), '', token);
    const on0 = await PushClient.login(ws(0), 'alice', aliceApp);
    const waits = [on0.next(isFile, 1000), on1.next(isFile, 1000)];
    const put = await fetch(`${servers[1]!.url}/remote.php/dav/files/alice/Team/from-alice.txt`, { method: 'PUT', body: 'y', headers: { authorization: basic('alice', aliceApp) } });
    assert.equal(put.status, 201);
    await Promise.all(waits);
    on0.close(); on1.close();
  });

  test('notify_notification and notify_activity cross instances too: a share made on instance 0, a write on instance 1', async () => {
    await apps[0]!.users.create({ uid: 'carol', password: 'carol-password' });
    const carolApp = (await apps[0]!.appPasswords.create('carol', 'push')).token;
    const carol = await PushClient.login(ws(1), 'carol', carolApp);
    let alice: PushClient | undefined;
    try {
      const notified = carol.next((m) => m === 'notify_notification', 1000);
      await apps[0]!.files.mkdir('alice', 'ForCarol');
      await apps[0]!.shares.create(SYSTEM, { uid: 'alice', path: 'ForCarol', shareType: 0, shareWith: 'carol', permissions: 31 });
      await notified;
      // logged in now: the share's own notify_activity to alice would hold the next one in its debounce
      alice = await PushClient.login(ws(0), 'alice', aliceApp);
      await new Promise((r) => setTimeout(r, 150));
      // (should the share's notify_activity still have reached this fresh connection, its debounce passes first)
      if (alice.messages.includes('notify_activity')) await new Promise((r) => setTimeout(r, 1600));
      const activity = alice.next((m) => m === 'notify_activity', 1000);
      const put = await fetch(`${servers[1]!.url}/remote.php/dav/files/carol/ForCarol/from-carol.txt`, { method: 'PUT', body: 'z', headers: { authorization: basic('carol', carolApp) } });
      assert.equal(put.status, 201);
      await activity;
    } finally { carol.close(); alice?.close(); }
    const [n] = await apps[1]!.notifications.list({ kind: 'user', uid: 'carol', via: 'app-password' });
    assert.equal(n!.subject, 'alice shared ForCarol with you');
  });
});
