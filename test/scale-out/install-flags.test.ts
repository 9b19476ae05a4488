/**
 * `./occ maintenance:install` scale-out flags and `./occ storage:test` without Ceph: usage errors,
 * refusals that explain what is wrong (and leave no config behind), and the checks' report.
 * Under CI=true a missing Redis is a failure, otherwise the Redis case is skipped.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { occ, tempInstance } from '../cli/occ-harness.ts';
import { RedisClient } from '../../src/redis/redis-client.ts';

const base = (dataDir: string) => ['maintenance:install', '--admin-user', 'admin', '--admin-pass', 'pw-12345678', '--data-dir', dataDir];
const redisUp = (await (async () => { const c = new RedisClient({ host: '127.0.0.1', port: 6379 }, { instanceId: 'probe' }); try { return await c.check(); } finally { await c.close(); } })()).length === 0;

describe('maintenance:install scale-out flags', () => {
  const insts: ReturnType<typeof tempInstance>[] = [];
  const inst = () => { const i = tempInstance(); insts.push(i); return i; };
  after(() => { for (const i of insts) i.cleanup(); });

  test('--storage s3 without its flags is a usage error naming them', async () => {
    const i = inst();
    const r = await occ([...base(i.dataDir), '--storage', 's3', '--s3-bucket', 'b'], i.env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--s3-endpoint, --s3-access-key, --s3-secret-key required with --storage s3/);
    assert.equal(existsSync(i.configPath), false);
  });

  test('an unreachable S3 endpoint refuses the install with an explanation, no config written', async () => {
    const i = inst();
    const r = await occ([...base(i.dataDir), '--storage', 's3', '--s3-endpoint', 'http://127.0.0.1:1', '--s3-bucket', 'coffer-test',
      '--s3-access-key', 'k', '--s3-secret-key', 'very-secret-s3-key'], i.env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /S3 storage at http:\/\/127\.0\.0\.1:1 is not usable/);
    assert.doesNotMatch(r.stdout + r.stderr, /very-secret-s3-key/);
    assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/, 'no S3 SDK Node-version notice on Coffer\'s runtime');
    assert.equal(existsSync(i.configPath), false);
  });

  test('an unreachable Redis refuses the install, no config written', async () => {
    const i = inst();
    const r = await occ([...base(i.dataDir), '--redis-host', '127.0.0.1', '--redis-port', '1'], i.env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot connect to Redis at 127\.0\.0\.1:1/);
    assert.equal(existsSync(i.configPath), false);
  });

  test('--redis-port without --redis-host is a usage error', async () => {
    const i = inst();
    const r = await occ([...base(i.dataDir), '--redis-port', '6379'], i.env);
    assert.equal(r.code, 2);
  });

  test('local storage + Redis: config has redis, storage:test passes; a dead Redis fails it (exit 1)', { skip: redisUp || process.env.CI === 'true' ? false : 'no Redis at 127.0.0.1:6379' }, async () => {
    assert.ok(redisUp, 'no Redis at 127.0.0.1:6379 (CI=true: a missing Redis is a failure)');
    const i = inst();
    const r = await occ([...base(i.dataDir), '--redis-host', '127.0.0.1'], i.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /redis: +127\.0\.0\.1:6379/);
    const cfg = JSON.parse(readFileSync(i.configPath, 'utf8'));
    assert.deepEqual(cfg.redis, { host: '127.0.0.1', port: 6379 });
    assert.deepEqual(cfg.storage, { type: 'local' });
    const ok = await occ(['storage:test'], i.env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^OK +database: SQLite/m);
    assert.match(ok.stdout, /^OK +storage: local /m);
    assert.match(ok.stdout, /^OK +redis: 127\.0\.0\.1:6379/m);
    assert.match(ok.stdout, /^OK +key storage: /m);
    const json = await occ(['storage:test', '--output', 'json'], i.env);
    assert.equal(JSON.parse(json.stdout).length, 4);
    cfg.redis.port = 1;
    writeFileSync(i.configPath, JSON.stringify(cfg));
    const bad = await occ(['storage:test'], i.env);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^FAIL redis: 127\.0\.0\.1:1\n +cannot connect to Redis/m);
    assert.match(bad.stderr, /1 check\(s\) failed: redis/);
  });
});
