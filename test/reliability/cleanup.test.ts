/**
 * Garbage collection (`GarbageCollector`, `./occ files:cleanup`) and the background job with its
 * cross-process lease; `./occ log:audit`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { GarbageCollector } from '../../src/files/garbage-collector.ts';
import { DbLease } from '../../src/jobs/db-lease.ts';
import { startBackgroundJobs } from '../../src/jobs/background-jobs.ts';
import { occ } from '../cli/occ-harness.ts';
import { parseSince } from '../../src/cli/commands/log-audit.command.ts';
import { openApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { snapshotTree, unreferencedBlobs } from './support.ts';
import { SYSTEM, userActor } from '../../src/actor.ts';

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`cleanup on ${db}`, () => {
    let t: TestInstance;
    before(async () => {
      t = await startTestInstance({ db });
      await t.addUser('u1', 'u1-password-xyz');
      await t.app.files.ensureHome('u1');
    });
    after(async () => { await t.stop(); });

    test('collects orphaned blobs past the grace period, temp files, stale uploads, expired locks; keeps everything live', async () => {
      const app = t.app;
      await app.files.writeFile(userActor('u1', 'password'), 'u1', 'a.txt', Readable.from([Buffer.from('alpha')]), {});
      await app.files.writeFile(userActor('u1', 'password'), 'u1', 'b.txt', Readable.from([Buffer.from('beta')]), {});
      const before = await snapshotTree(app, 'u1');
      // an orphan (as a PUT killed between blob and row leaves), a fresh orphan (within grace)
      await app.rawBlobs.put('0'.repeat(31) + '1', Readable.from([Buffer.from('orphan')]), { fileId: 0, owner: 'u1', actor: SYSTEM });
      const blobPath = join(t.dataDir, 'blobs', '00', '00', '0'.repeat(31) + '1');
      assert.ok(existsSync(blobPath));
      const old = (Date.now() - 2 * 3600_000) / 1000;
      utimesSync(blobPath, old, old);
      await app.rawBlobs.put('0'.repeat(31) + '2', Readable.from([Buffer.from('young orphan')]), { fileId: 0, owner: 'u1', actor: SYSTEM });
      // a temp file of an interrupted write
      mkdirSync(join(t.dataDir, 'blobs', '.tmp'), { recursive: true });
      const tmp = join(t.dataDir, 'blobs', '.tmp', 'deadbeef.abc');
      writeFileSync(tmp, 'partial');
      utimesSync(tmp, old, old);
      // a stale chunked upload with a chunk, and a live one
      const longAgo = Math.floor(Date.now() / 1000) - 3 * 86400;
      await app.uploads.create('u1', 'stale-1', {}, longAgo);
      await app.uploads.putChunk(userActor('u1', 'password'), 'u1', 'stale-1', '00001', Readable.from([Buffer.from('chunk')]), {}, longAgo);
      await app.uploads.create('u1', 'live-1', {});
      // an expired lock
      await app.locks.lock('u1', 'a.txt', { scope: 'exclusive', depth: 0, timeoutSeconds: 1 }, longAgo);

      const gc = new GarbageCollector({ db: app.db, rawBlobs: app.rawBlobs, uploads: app.uploads, locks: app.locks });
      const r = await gc.run();
      assert.equal(r.staleUploads, 1);
      assert.equal(r.expiredLocks, 1);
      assert.ok(r.orphanedBlobs >= 1, JSON.stringify(r));
      assert.equal(r.tempFiles, 1);
      assert.ok(!existsSync(blobPath));
      assert.ok(!existsSync(tmp));
      assert.equal(await app.uploads.tryGet('u1', 'stale-1'), undefined);
      assert.ok(await app.uploads.tryGet('u1', 'live-1'));
      assert.deepEqual(await unreferencedBlobs(app), ['0'.repeat(31) + '2'], 'young orphan kept within the grace period');
      assert.deepEqual(await snapshotTree(app, 'u1'), before);
      const r2 = await gc.run({ graceSeconds: 0 });
      assert.equal(r2.orphanedBlobs, 1);
      assert.deepEqual(await unreferencedBlobs(app), []);
      assert.deepEqual(await snapshotTree(app, 'u1'), before);
    });

    test('the lease: one holder at a time, taken over after expiry, renewable by its holder', async () => {
      const a = new DbLease(t.app.db, 'test-lease', 'proc-a');
      const b = new DbLease(t.app.db, 'test-lease', 'proc-b');
      const now = Date.now();
      const both = await Promise.all([a.acquire(10_000, now), b.acquire(10_000, now)]);
      assert.equal(both.filter(Boolean).length, 1);
      const [first, second] = both[0] ? [a, b] : [b, a];
      assert.equal(await second.acquire(10_000, now + 5_000), false);
      assert.equal(await first.acquire(10_000, now + 5_000), true, 'renewal');
      assert.equal(await second.acquire(10_000, now + 16_000), true, 'takeover after expiry');
      assert.equal(await first.acquire(10_000, now + 17_000), false);
      await second.release();
      assert.equal(await first.acquire(10_000, now + 17_000), true);
      await first.release();
    });

    test('background job: two "processes" on one database run a round once, and it collects what files:cleanup does', async () => {
      const reports: { orphanedBlobs: number; staleUploads: number }[] = [];
      // what a crash leaves: an orphaned blob past the grace period, a stale chunked upload
      const orphan = 'b'.repeat(32);
      await t.app.rawBlobs.put(orphan, Readable.from([Buffer.from('left by a crash')]), { fileId: 0, owner: 'u1', actor: SYSTEM });
      const old = (Date.now() - 2 * 3600_000) / 1000;
      utimesSync(join(t.dataDir, 'blobs', 'bb', 'bb', orphan), old, old);
      await t.app.uploads.create('u1', 'stale-bg', {}, Math.floor(Date.now() / 1000) - 3 * 86400);
      const live = await snapshotTree(t.app, 'u1');
      // a second App on the same database: its own connection(s), as a second server process has
      const other = await openApp(loadConfig(t.configPath), { logger: silentLogger() });
      const j1 = startBackgroundJobs(t.app, { intervalMinutes: 10, initialDelayMs: 3_600_000, onRun: (r) => reports.push(r) });
      const j2 = startBackgroundJobs(other, { intervalMinutes: 10, initialDelayMs: 3_600_000, onRun: (r) => reports.push(r) });
      const [r1, r2] = await Promise.all([j1.runOnce(), j2.runOnce()]);
      assert.equal([r1, r2].filter((x) => x !== undefined).length, 1);
      assert.equal(reports.length, 1);
      assert.ok(reports[0]!.orphanedBlobs >= 1 && reports[0]!.staleUploads >= 1, JSON.stringify(reports[0]));
      assert.ok(!(await unreferencedBlobs(t.app)).includes(orphan), 'the background job removed the orphan');
      assert.equal(await t.app.uploads.tryGet('u1', 'stale-bg'), undefined);
      assert.deepEqual(await snapshotTree(t.app, 'u1'), live, 'and nothing live');
      // within the interval nobody else runs
      assert.equal(await j2.runOnce() ?? await j1.runOnce() ? 1 : 0, 1, 'the holder may renew');
      await j1.stop();
      await j2.stop();
      await other.close();
      await t.app.db.deleteFrom('app_config').where('app', '=', 'jobs').execute();
    });
  });
}

describe('occ files:cleanup and log:audit', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t.stop(); });

  test('files:cleanup --grace-seconds 0 removes an orphan and prints a report', async () => {
    await t.app.rawBlobs.put('f'.repeat(32), Readable.from([Buffer.from('x')]), { fileId: 0, owner: 'admin', actor: SYSTEM });
    const r = await occ(['files:cleanup', '--grace-seconds', '0', '--output=json'], { COFFER_CONFIG: t.configPath });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { orphanedBlobs: number };
    assert.equal(rep.orphanedBlobs, 1);
    assert.deepEqual(await unreferencedBlobs(t.app), []);
  });

  test('log:audit filters by user and time; json lines; failed logins and admin commands are recorded', async () => {
    await t.addUser('bob', 'bob-password-123');
    assert.equal((await t.fetch('/remote.php/dav/files/bob/', { method: 'PROPFIND', as: { uid: 'bob', password: 'wrong' } })).status, 401);
    const add = await occ(['user:add', '--password-from-env', 'carol'], { COFFER_CONFIG: t.configPath, OC_PASS: 'carol-password-1' });
    assert.equal(add.code, 0, add.stderr);
    const r = await occ(['log:audit', '--output=json', '--since', '1h'], { COFFER_CONFIG: t.configPath });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; uid?: string; ts: string });
    assert.ok(lines.some((e) => e.event === 'login.failure' && e.uid === 'bob'), r.stdout);
    assert.ok(lines.some((e) => e.event === 'user.created' && e.uid === 'carol'), r.stdout);
    assert.ok(lines.some((e) => e.event === 'files.cleanup'), 'files:cleanup itself is audited');
    const plain = await occ(['log:audit', '--user', 'bob', '--limit', '1'], { COFFER_CONFIG: t.configPath });
    assert.match(plain.stdout, /^\d{4}-\d\d-\d\dT\S+ login\.failure .*uid=bob/);
    assert.doesNotMatch(r.stdout, /bob-password|wrong|carol-password/);
  });

  test('parseSince accepts ISO, Unix seconds and ages', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    assert.equal(parseSince('2h', now), now - 7200_000);
    assert.equal(parseSince('1700000000', now), 1700000000_000);
    assert.equal(parseSince('2026-01-01T00:00:00Z', now), Date.parse('2026-01-01T00:00:00Z'));
    assert.throws(() => parseSince('soon', now));
  });
});
