/**
 * The periodic retention pass of `serve`'s background jobs (issue #15: Nextcloud's ExpireVersions
 * and ExpireTrash jobs), driven through the job runner with a controlled clock: versions and trash
 * items past their obligation go, for every user, the others stay; under `disabled` nothing
 * expires, whatever the age or the space; an obligation Nextcloud would not take stops start-up
 * and `./occ` with the key named.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startBackgroundJobs } from '../../src/jobs/background-jobs.ts';
import { runMarked } from '../../src/versions/retention-run.ts';
import { occ, OCC, spawnServer } from '../cli/occ-harness.ts';
import { startTestInstance, writeTestConfig, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, type Creds } from '../sharing/helpers.ts';
import { call, FILES } from './helpers.ts';

const DAY = 86_400;
const T0 = 1_760_000_000;

/** Helpers on one instance: writes with a given mtime, deletes dated as given, what is left. */
function on(t: () => TestInstance) {
  const put = async (as: Creds, path: string, body: string, mtime: number) => {
    const r = await call(t(), as, 'PUT', `${FILES(as)}/${path}`, { body, headers: { 'X-OC-Mtime': String(mtime) } });
    assert.ok(r.status === 201 || r.status === 204, `PUT ${path}: ${r.status} ${r.text}`);
  };
  return {
    put,
    /** Versions of `path` made `ageDays` days before T0 (oldest first), then its content. */
    async versioned(as: Creds, path: string, ageDays: number[]) {
      for (const d of ageDays) await put(as, path, `${path} ${d}`, T0 - d * DAY);
      await put(as, path, `${path} now`, T0);
    },
    /** `names` deleted to the trash `ageDays[i]` days before T0. */
    async trashed(as: Creds, names: string[], ageDays: number[]) {
      for (const [i, n] of names.entries()) {
        await put(as, n, `${n} body`, T0 - 100 * DAY);
        assert.equal((await call(t(), as, 'DELETE', `${FILES(as)}/${n}`)).status, 204);
        const item = (await t().app.trash.repo.ofOwner(t().app.db, as.uid)).find((x) => x.name === n)!;
        await t().app.db.updateTable('trash_items').set({ deleted_at: T0 - ageDays[i]! * DAY }).where('id', '=', item.id).execute();
      }
    },
    async versionAges(as: Creds, path: string) {
      const fileId = (await t().app.files.stat(as.uid, path)).fileId;
      return (await t().app.versions.repo.list(t().app.db, fileId)).map((v) => (T0 - v.version) / DAY);
    },
    async trashNames(as: Creds) { return (await t().app.trash.repo.ofOwner(t().app.db, as.uid)).map((i) => i.name).sort(); },
  };
}

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`the background retention pass (${db})`, () => {
    let t: TestInstance;
    const h = on(() => t);
    before(async () => {
      t = await startTestInstance({ db, config: { versions_retention_obligation: '3, 10', trashbin_retention_obligation: '3, 10' } });
      await t.addUser(ALICE.uid, ALICE.password);
      await t.addUser(BOB.uid, BOB.password);
    });
    after(async () => { await t?.stop(); });

    it('expires, for every user, the versions and trash items older than the obligation\'s maximum at the clock given; the rest stays', async () => {
      await h.versioned(ALICE, 'a.txt', [20, 12, 5, 1]);
      await h.versioned(BOB, 'b.txt', [15, 2]);
      await h.trashed(ALICE, ['t30.txt', 't11.txt', 't9.txt', 't1.txt'], [30, 11, 9, 1]);
      await h.trashed(BOB, ['u12.txt', 'u3.txt'], [12, 3]);

      let now = T0;
      const jobs = startBackgroundJobs(t.app, { initialDelayMs: 3_600_000, promptIntervalMs: 3_600_000, now: () => now });
      try {
        assert.ok(await jobs.runOnce(), 'the pass ran (this process holds the lease)');
        assert.deepEqual(await h.versionAges(ALICE, 'a.txt'), [1, 5]);
        assert.deepEqual(await h.versionAges(BOB, 'b.txt'), [2]);
        assert.deepEqual(await h.trashNames(ALICE), ['t1.txt', 't9.txt']);
        assert.deepEqual(await h.trashNames(BOB), ['u3.txt']);
        assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/a.txt`)).text, 'a.txt now', 'the current content stays');

        // six days later, at the next round: what has passed ten days since goes too
        now = T0 + 6 * DAY;
        assert.ok(await jobs.runOnce());
        assert.deepEqual(await h.versionAges(ALICE, 'a.txt'), [1]);
        assert.deepEqual(await h.versionAges(BOB, 'b.txt'), [2]);
        assert.deepEqual(await h.trashNames(ALICE), ['t1.txt']);
        assert.deepEqual(await h.trashNames(BOB), ['u3.txt']);
      } finally { await jobs.stop(); }
    });
  });

  describe(`retention disabled (${db})`, () => {
    let t: TestInstance;
    const h = on(() => t);
    before(async () => {
      t = await startTestInstance({ db, config: { versions_retention_obligation: 'disabled', trashbin_retention_obligation: 'disabled' } });
      await t.addUser(ALICE.uid, ALICE.password);
      await t.addUser(BOB.uid, BOB.password, { quota: 1000 });
    });
    after(async () => { await t?.stop(); });

    it('nothing expires: not by age, not by thinning, not to save space, not at a trash bin size', async () => {
      // old ones, and two 30 s apart a minute ago (the automatic thinning would keep one of those)
      for (const ago of [400 * DAY, 40 * DAY, 60, 30, 0]) await h.put(ALICE, 'a.txt', `a ${ago}`, T0 - ago);
      await h.trashed(ALICE, ['old.txt'], [400]);
      // bob: 500 bytes of files in a 1,000-byte quota, and far more than that in versions and trash
      for (let i = 0; i < 4; i++) await h.put(BOB, 'big.bin', String(i).repeat(500), T0 - (40 - i) * DAY);
      for (const n of ['x.bin', 'y.bin']) {
        await h.put(BOB, n, 'z'.repeat(400), T0);
        assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/${n}`)).status, 204);
      }
      await t.app.appConfig.set('files_trashbin', 'trashbin_size', '1');
      const before = [await h.versionAges(ALICE, 'a.txt'), await h.trashNames(ALICE), await h.versionAges(BOB, 'big.bin'), await h.trashNames(BOB)];
      assert.equal(before[0]!.length, 4);
      assert.equal(before[2]!.length, 3);

      const jobs = startBackgroundJobs(t.app, { initialDelayMs: 3_600_000, promptIntervalMs: 3_600_000, now: () => T0 + 1000 * DAY });
      try {
        assert.ok(await jobs.runOnce());
      } finally { await jobs.stop(); }
      assert.deepEqual((await runMarked(t.app, T0 + 1000 * DAY)).versions, { expired: 0, bytes: 0 });
      const afterRuns = [await h.versionAges(ALICE, 'a.txt'), await h.trashNames(ALICE), await h.versionAges(BOB, 'big.bin'), await h.trashNames(BOB)];
      assert.deepEqual(afterRuns, before);
    });
  });
}

describe('an invalid retention obligation', () => {
  for (const [key, value] of [['versions_retention_obligation', 'soon'], ['trashbin_retention_obligation', '30 days'], ['trashbin_retention_obligation', 'disabled, 5']] as const) {
    it(`${key}: "${value}" stops ./occ and the server's start with the key named`, async () => {
      const { dir, configPath, drop } = await writeTestConfig({ config: { [key]: value } });
      try {
        const env = { COFFER_CONFIG: configPath };
        const r = await occ(['trashbin:expire'], env);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, new RegExp(`invalid: ${key}: auto, "D, auto", "auto, D", "D1, D2" or disabled`));
        await assert.rejects(spawnServer(OCC, ['serve', '--port', '0'], env, { timeoutMs: 60_000 }), (err: Error) => /exited \(3\)/.test(err.message) && err.message.includes(key));
      } finally {
        await drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
