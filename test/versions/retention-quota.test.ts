/**
 * Versions and the trash never push a user over quota (issue #15): each may take half of what the
 * quota leaves free, the oldest going first (Nextcloud's Storage::expire and
 * Trashbin::calculateFreeSpace); with `D1, D2` nothing younger than D1 goes to save space. Without a
 * quota the data disk is the limit: never more than stays free on it (Nextcloud: until the disk is
 * full), no limit when the store cannot tell. A real instance, a controlled clock and a given free
 * disk space (no sleeping, no full disk).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeRepository } from '../../src/files/node-repository.ts';
import { silentLogger } from '../../src/logger.ts';
import { freeBytes } from '../../src/storage/free-space.ts';
import { TrashExpiry } from '../../src/trash/trash-expiry.ts';
import { parseRetention } from '../../src/versions/retention-policy.ts';
import { VersionExpiry, type DiskFree } from '../../src/versions/version-expiry.ts';
import { runMarked } from '../../src/versions/retention-run.ts';
import { startBackgroundJobs } from '../../src/jobs/background-jobs.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { type Creds } from '../sharing/helpers.ts';
import { call, FILES } from './helpers.ts';

const DAY = 86_400;
const T0 = 1_760_000_000;
const CAROL = { uid: 'carol', password: 'carol-password-1' };
const DAVE = { uid: 'dave', password: 'dave-password-1' };
const ERIN = { uid: 'erin', password: 'erin-password-1' };
const FRANK = { uid: 'frank', password: 'frank-password-1' };

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`versions and trash within the quota (${db})`, () => {
    let t: TestInstance;
    let nodes: NodeRepository;
    before(async () => {
      t = await startTestInstance({ db });
      nodes = new NodeRepository(t.app.db);
      await t.addUser(CAROL.uid, CAROL.password, { quota: 10_000 });
      await t.addUser(DAVE.uid, DAVE.password);
      await t.addUser(ERIN.uid, ERIN.password, { quota: 5000 });
      await t.addUser(FRANK.uid, FRANK.password, { quota: 10_000 });
    });
    after(async () => { await t?.stop(); });

    const put = async (as: Creds, path: string, size: number, mtime: number) => {
      const r = await call(t, as, 'PUT', `${FILES(as)}/${path}`, { body: Buffer.alloc(size, mtime % 251), headers: { 'X-OC-Mtime': String(mtime) } });
      assert.ok(r.status === 201 || r.status === 204, `PUT ${path}: ${r.status} ${r.text}`);
    };
    /** `n` versions of `path` of `size` bytes, named T0-(n+1) days … T0-2 days; the content is of T0-1 day. */
    const versioned = async (as: Creds, path: string, n: number, size: number) => {
      for (let i = 0; i <= n; i++) await put(as, path, size, T0 - (n + 1 - i) * DAY);
    };
    /** Deletes `names` to the trash, deleted `ageDays[i]` days before T0. */
    const trashed = async (as: Creds, names: string[], size: number, ageDays: number[]) => {
      for (const [i, n] of names.entries()) {
        await put(as, n, size, T0 - 100 * DAY);
        assert.equal((await call(t, as, 'DELETE', `${FILES(as)}/${n}`)).status, 204);
        const item = (await t.app.trash.repo.ofOwner(t.app.db, as.uid)).find((x) => x.name === n)!;
        await t.app.db.updateTable('trash_items').set({ deleted_at: T0 - ageDays[i]! * DAY }).where('id', '=', item.id).execute();
      }
    };
    const versionsOf = async (uid: string, path: string) => (await t.app.versions.repo.list(t.app.db, (await t.app.files.stat(uid, path)).fileId)).map((v) => v.version);
    const trashNames = async (uid: string) => (await t.app.trash.repo.ofOwner(t.app.db, uid)).map((i) => i.name);
    const versionExpiry = (obligation: string, diskFree?: DiskFree) => new VersionExpiry({
      db: t.app.db, nodes, versions: t.app.versions, log: silentLogger(), policy: parseRetention(obligation, 'versions'), diskFree,
    });
    const trashExpiry = (obligation: string, opts: { size?: number; diskFree?: DiskFree } = {}) => new TrashExpiry({
      db: t.app.db, nodes, trash: t.app.trash, log: silentLogger(), policy: parseRetention(obligation, 'trashbin'),
      configuredSize: async () => opts.size, diskFree: opts.diskFree,
    });

    it('with a quota: files, versions and trash end within it, the oldest versions and trash items going first', async () => {
      await put(CAROL, 'keep.bin', 3000, T0 - 50 * DAY);
      await trashed(CAROL, ['t0.bin', 't1.bin', 't2.bin', 't3.bin', 't4.bin'], 900, [20, 19, 18, 17, 16]);
      await versioned(CAROL, 'v.bin', 6, 800);
      // 3,800 bytes of files: versions and trash may take half of the 6,200 left each; they hold 4,800 and 4,500
      assert.equal((await t.app.files.quota(CAROL.uid)).used, 3800);
      const disk: DiskFree = async () => { throw new Error('the disk is not asked about a user with a quota'); };
      const v = await versionExpiry('30, 365', disk).expireUser(CAROL.uid, T0);
      assert.deepEqual(v, { expired: 3, bytes: 2400 });
      assert.deepEqual(await versionsOf(CAROL.uid, 'v.bin'), [T0 - 2 * DAY, T0 - 3 * DAY, T0 - 4 * DAY], 'the oldest went first');
      const tr = await trashExpiry('auto', { diskFree: disk }).expireUser(CAROL.uid, T0);
      assert.deepEqual(tr, { expired: 2, bytes: 1800 });
      assert.deepEqual(await trashNames(CAROL.uid), ['t2.bin', 't3.bin', 't4.bin'], 'the oldest went first');
      const files = (await t.app.files.quota(CAROL.uid)).used;
      const held = (await t.app.versions.usage(CAROL.uid)).bytes + (await t.app.trash.usage(CAROL.uid)).bytes;
      assert.ok(files + held <= 10_000, `files ${files} + versions and trash ${held} over the quota`);
      // within the limits now: a second run expires nothing
      assert.deepEqual(await versionExpiry('30, 365').expireUser(CAROL.uid, T0), { expired: 0, bytes: 0 });
      assert.deepEqual(await trashExpiry('auto').expireUser(CAROL.uid, T0), { expired: 0, bytes: 0 });
    });

    it('D1, D2: nothing younger than D1 goes to save space, even over the quota; older than D2 goes anyway', async () => {
      await put(ERIN, 'keep.bin', 2000, T0 - 50 * DAY);
      await trashed(ERIN, ['a.bin', 'b.bin', 'c.bin', 'd.bin'], 1000, [40, 10, 3, 2]);
      // 2,000 bytes of files: the trash may take 1,500 and holds 4,000
      const r = await trashExpiry('7, 30').expireUser(ERIN.uid, T0);
      assert.deepEqual(r, { expired: 2, bytes: 2000 });
      assert.deepEqual(await trashNames(ERIN.uid), ['c.bin', 'd.bin'], 'kept for at least 7 days though still over');
      // five days later both are past D1 and the trash is still over: the older goes, and that is enough
      assert.deepEqual(await trashExpiry('7, 30').expireUser(ERIN.uid, T0 + 5 * DAY), { expired: 1, bytes: 1000 });
      assert.deepEqual(await trashNames(ERIN.uid), ['d.bin']);
    });

    it('without a quota: no limit when the disk space is unknown or plenty; never more than stays free on the disk', async () => {
      await versioned(DAVE, 'v.bin', 6, 1000);
      await trashed(DAVE, ['a.bin', 'b.bin', 'c.bin', 'd.bin'], 1000, [20, 19, 18, 17]);
      for (const disk of [undefined, async () => null, async () => 1e12]) {
        assert.deepEqual(await versionExpiry('30, 365', disk).expireUser(DAVE.uid, T0), { expired: 0, bytes: 0 });
        assert.deepEqual(await trashExpiry('auto', { diskFree: disk }).expireUser(DAVE.uid, T0), { expired: 0, bytes: 0 });
      }
      // 3,500 bytes free on the disk, 6,000 in versions: the two oldest go (4,000 left, and 5,500 free then)
      assert.deepEqual(await versionExpiry('30, 365', async () => 3500).expireUser(DAVE.uid, T0), { expired: 2, bytes: 2000 });
      assert.deepEqual(await versionsOf(DAVE.uid, 'v.bin'), [2, 3, 4, 5].map((d) => T0 - d * DAY));
      // the trash: 4,000 held, 2,500 free: the oldest goes
      assert.deepEqual(await trashExpiry('auto', { diskFree: async () => 2500 }).expireUser(DAVE.uid, T0), { expired: 1, bytes: 1000 });
      assert.deepEqual(await trashNames(DAVE.uid), ['b.bin', 'c.bin', 'd.bin']);
      // a configured trash bin size wins over the disk
      assert.deepEqual(await trashExpiry('auto', { size: 1000, diskFree: async () => 1e12 }).expireUser(DAVE.uid, T0), { expired: 2, bytes: 2000 });
      assert.deepEqual(await trashNames(DAVE.uid), ['d.bin']);
      // the instance asks the data directory's filesystem
      const free = await freeBytes(t.dataDir);
      assert.ok(typeof free === 'number' && free > 0);
      assert.equal(await freeBytes(join(t.dataDir, 'no-such-dir')), null);
      // with that (plenty, in a test), the app's own run leaves dave's small versions alone
      assert.deepEqual(await t.app.retention.versions.expireUser(DAVE.uid, T0), { expired: 0, bytes: 0 });
    });

    it('right after an overwrite or a delete, not at the next full round: what is over the space goes within seconds', async () => {
      t.app.retention.grew.take();
      const now = Math.floor(Date.now() / 1000);
      // six versions of 1,500 bytes beside 1,500 bytes of files: 9,000 held where 4,250 may be
      for (let i = 0; i < 7; i++) await put(FRANK, 'p.bin', 1500, now - 100 + i);
      assert.equal((await versionsOf(FRANK.uid, 'p.bin')).length, 6);
      // a user well within their space is marked too, and left alone
      await put(DAVE, 'small.txt', 10, now - 10);
      await put(DAVE, 'small.txt', 11, now - 5);
      const r = await runMarked(t.app, now);
      assert.equal(r.users, 2);
      // the instance's obligation is `auto`: a file's versions may all go when space is needed (Nextcloud)
      assert.deepEqual(await versionsOf(FRANK.uid, 'p.bin'), []);
      assert.equal((await versionsOf(DAVE.uid, 'small.txt')).length, 1);
      assert.deepEqual(await runMarked(t.app, now), { users: 0, versions: { expired: 0, bytes: 0 }, trash: { expired: 0, bytes: 0 } });

      // the server's background jobs drain the marks on their own; the trash: the oldest item goes
      const jobs = startBackgroundJobs(t.app, { initialDelayMs: 3_600_000, promptIntervalMs: 25 });
      try {
        await put(FRANK, 'x.bin', 5000, now);
        await put(FRANK, 'y.bin', 3000, now);
        assert.equal((await call(t, FRANK, 'DELETE', `${FILES(FRANK)}/x.bin`)).status, 204);
        await sleep(1100); // a later deletion second: the oldest is x.bin
        assert.equal((await call(t, FRANK, 'DELETE', `${FILES(FRANK)}/y.bin`)).status, 204);
        // 8,000 bytes in the trash where 4,250 may be
        for (let i = 0; i < 200 && (await trashNames(FRANK.uid)).length > 1; i++) await sleep(25);
        assert.deepEqual(await trashNames(FRANK.uid), ['y.bin']);
        const files = (await t.app.files.quota(FRANK.uid)).used;
        const held = (await t.app.versions.usage(FRANK.uid)).bytes + (await t.app.trash.usage(FRANK.uid)).bytes;
        assert.ok(files + held <= 10_000, `files ${files} + versions and trash ${held} over the quota`);
      } finally { await jobs.stop(); }
    });
  });
}
