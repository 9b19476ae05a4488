import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import { ConflictError, LockedError, PreconditionFailedError } from '../../src/errors.ts';
import { DEFAULT_LOCK_TIMEOUT, LockService, MAX_LOCK_TIMEOUT, parseTimeout } from '../../src/files/lock-service.ts';
import { createPgDatabase } from '../support/test-instance.ts';

test('parseTimeout: Second-N, Infinite, cap and default', () => {
  assert.equal(parseTimeout(undefined), DEFAULT_LOCK_TIMEOUT);
  assert.equal(parseTimeout('Second-3600'), 3600);
  assert.equal(parseTimeout('Infinite, Second-4100000000'), MAX_LOCK_TIMEOUT);
  assert.equal(parseTimeout('Second-99999999'), MAX_LOCK_TIMEOUT);
  assert.equal(parseTimeout('bogus, Second-60'), 60);
  assert.equal(parseTimeout('bogus'), DEFAULT_LOCK_TIMEOUT);
});

for (const kind of ['sqlite', 'pgsql'] as const) {
  describe(`LockService on ${kind}`, () => {
    let db: Db;
    let locks: LockService;
    let cleanup: () => Promise<void>;

    before(async () => {
      if (kind === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
        db = openDatabase({ type: 'sqlite', path: join(dir, 'db.sqlite') }).db;
        cleanup = async () => { await db.destroy(); rmSync(dir, { recursive: true, force: true }); };
      } else {
        const pgdb = await createPgDatabase();
        db = openDatabase({ type: 'pgsql', host: '127.0.0.1', port: 5432, name: pgdb.name, user: 'postgres', password: '' }).db;
        cleanup = async () => { await db.destroy(); await pgdb.drop(); };
      }
      await migrateToLatest(db);
      locks = new LockService(db);
    });
    after(async () => { await cleanup(); });

    test('exclusive lock: token format, covering, conflicts with any other lock', async () => {
      const l = await locks.lock('u1', 'a/f.txt', { scope: 'exclusive', depth: 0, ownerXml: '<href>me</href>', timeoutSeconds: 600 }, 1000);
      assert.match(l.token, /^opaquelocktoken:[0-9a-f-]{36}$/);
      assert.equal(l.expiresAt, 1600);
      assert.deepEqual((await locks.covering('u1', 'a/f.txt', 1001)).map((x) => x.token), [l.token]);
      assert.equal((await locks.covering('u1', 'a', 1001)).length, 0, 'depth-0 lock does not cover the parent');
      assert.equal((await locks.covering('u2', 'a/f.txt', 1001)).length, 0, 'other users are separate trees');
      await assert.rejects(locks.lock('u1', 'a/f.txt', { scope: 'shared', depth: 0 }, 1001), LockedError);
      await assert.rejects(locks.lock('u1', 'a/f.txt', { scope: 'exclusive', depth: 0 }, 1001), LockedError);
      await assert.rejects(locks.lock('u1', 'a', { scope: 'shared', depth: 'infinity' }, 1001), LockedError, 'depth-infinity over a locked member');
      await locks.lock('u1', 'a', { scope: 'exclusive', depth: 0 }, 1001); // depth 0 on the parent does not overlap
      const byTok = await locks.byToken(l.token, 1001);
      assert.equal(byTok?.ownerXml, '<href>me</href>');
      await locks.removeUnder('u1', 'a');
      assert.equal((await locks.active('u1', 1001)).length, 0);
    });

    test('shared locks coexist; exclusive conflicts with shared', async () => {
      const s1 = await locks.lock('u1', 's.txt', { scope: 'shared', depth: 0 }, 1000);
      const s2 = await locks.lock('u1', 's.txt', { scope: 'shared', depth: 0 }, 1000);
      assert.notEqual(s1.token, s2.token);
      await assert.rejects(locks.lock('u1', 's.txt', { scope: 'exclusive', depth: 0 }, 1000), LockedError);
      await locks.unlock('u1', 's.txt', s2.token, 1000);
      await assert.rejects(locks.lock('u1', 's.txt', { scope: 'exclusive', depth: 0 }, 1000), LockedError);
      await locks.unlock('u1', 's.txt', s1.token, 1000);
      const x = await locks.lock('u1', 's.txt', { scope: 'exclusive', depth: 0 }, 1000);
      await locks.unlock('u1', 's.txt', x.token, 1000);
    });

    test('depth infinity covers descendants (also created later); refresh through a member; unlock checks the URI', async () => {
      const l = await locks.lock('u1', 'coll', { scope: 'exclusive', depth: 'infinity' }, 1000);
      assert.equal((await locks.covering('u1', 'coll/new/deep.txt', 1000))[0]?.token, l.token);
      assert.equal((await locks.covering('u1', 'collection', 1000)).length, 0, 'prefix of a name is not a descendant');
      assert.equal((await locks.affecting('u1', '', 'infinity', 1000)).length, 1, 'depth-infinity on the root sees it');
      assert.equal((await locks.affecting('u1', '', 0, 1000)).length, 0);
      await assert.rejects(locks.lock('u1', 'coll/x', { scope: 'shared', depth: 0 }, 1000), LockedError);
      const r = await locks.refresh('u1', 'coll/member.txt', l.token, 7200, 2000);
      assert.equal(r.expiresAt, 9200);
      await assert.rejects(locks.refresh('u1', 'other', l.token, 60, 2000), PreconditionFailedError);
      await assert.rejects(locks.refresh('u1', 'coll', 'opaquelocktoken:bogus', 60, 2000), PreconditionFailedError);
      await assert.rejects(locks.unlock('u1', 'elsewhere', l.token, 2000), ConflictError);
      await assert.rejects(locks.unlock('u1', 'coll', 'opaquelocktoken:foobar', 2000), ConflictError);
      await locks.unlock('u1', 'coll/member.txt', l.token, 2000); // unlock through a member's URL
      assert.equal((await locks.active('u1', 2000)).length, 0);
    });

    test('expired locks are ignored, do not conflict, and are purged', async () => {
      const l = await locks.lock('u3', 'e.txt', { scope: 'exclusive', depth: 0, timeoutSeconds: 10 }, 1000);
      assert.equal((await locks.covering('u3', 'e.txt', 1009)).length, 1);
      assert.equal((await locks.covering('u3', 'e.txt', 1010)).length, 0);
      assert.equal(await locks.byToken(l.token, 1011), undefined);
      await assert.rejects(locks.unlock('u3', 'e.txt', l.token, 1011), ConflictError);
      const l2 = await locks.lock('u3', 'e.txt', { scope: 'exclusive', depth: 0, timeoutSeconds: 10 }, 1011);
      assert.ok(await locks.purgeExpired(5000) >= 1);
      assert.equal(await locks.byToken(l2.token, 1012), undefined);
    });

    test('removeUnder drops the subtree only, with LIKE wildcards in names taken literally', async () => {
      await locks.lock('u4', 'a_b/x', { scope: 'exclusive', depth: 0 }, 1000);
      await locks.lock('u4', 'a%b/y', { scope: 'exclusive', depth: 0 }, 1000);
      await locks.lock('u4', 'axb/z', { scope: 'exclusive', depth: 0 }, 1000);
      await locks.lock('u4', 'a_b', { scope: 'shared', depth: 0 }, 1000);
      await locks.removeUnder('u4', 'a_b');
      assert.deepEqual((await locks.active('u4', 1000)).map((l) => l.path).sort(), ['a%b/y', 'axb/z']);
      await locks.removeUnder('u4', '');
      assert.equal((await locks.active('u4', 1000)).length, 0);
    });

    test('concurrent exclusive LOCKs on one path: exactly one wins', async () => {
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => locks.lock('u5', 'race.txt', { scope: 'exclusive', depth: 0 }, 1000)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof LockedError));
    });
  });
}
