/**
 * Retention (issue #15): Nextcloud's obligation syntax and meanings, the automatic thinning, quota
 * expiry (the oldest first, the two newest kept), trash expiry by age and by trashbin_size, with a
 * controlled clock passed in (no sleeping), on a real instance; garbage collection keeps the
 * blobs of versions and trashed files; and the ./occ commands.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SYSTEM } from '../../src/actor.ts';
import { GarbageCollector } from '../../src/files/garbage-collector.ts';
import { NodeRepository } from '../../src/files/node-repository.ts';
import { silentLogger } from '../../src/logger.ts';
import { TrashExpiry } from '../../src/trash/trash-expiry.ts';
import { autoThinning, isExpired, parseRetention } from '../../src/versions/retention-policy.ts';
import { VersionExpiry } from '../../src/versions/version-expiry.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, type Creds } from '../sharing/helpers.ts';
import { blobFile, call, FILES } from './helpers.ts';

const DAY = 86_400;
const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

describe('retention obligations (pure)', () => {
  it('parses every form with Nextcloud\'s meanings', () => {
    assert.deepEqual(parseRetention('auto', 'versions'), { enabled: true, minDays: null, maxDays: null, canPurgeToSaveSpace: true, source: 'auto' });
    assert.deepEqual(parseRetention('auto', 'trashbin'), { enabled: true, minDays: 30, maxDays: null, canPurgeToSaveSpace: true, source: 'auto' });
    assert.deepEqual(parseRetention('5, auto', 'versions'), { enabled: true, minDays: 5, maxDays: null, canPurgeToSaveSpace: true, source: '5, auto' });
    assert.deepEqual(parseRetention('auto, 9', 'trashbin'), { enabled: true, minDays: null, maxDays: 9, canPurgeToSaveSpace: true, source: 'auto, 9' });
    assert.deepEqual(parseRetention('3, 10', 'versions'), { enabled: true, minDays: 3, maxDays: 10, canPurgeToSaveSpace: false, source: '3, 10' });
    assert.equal(parseRetention('10, 3', 'versions').maxDays, 10, 'a maximum below the minimum counts as the minimum');
    assert.deepEqual(parseRetention('7', 'trashbin'), { enabled: true, minDays: 7, maxDays: 30, canPurgeToSaveSpace: false, source: '7' });
    assert.equal(parseRetention('disabled', 'versions').enabled, false);
    const warned: string[] = [];
    assert.equal(parseRetention('soon', 'versions', (m) => warned.push(m)).source, 'soon');
    assert.equal(warned.length, 1);
  });

  it('isExpired: maximum age, minimum age only under space pressure, never the future', () => {
    const now = 1_000 * DAY;
    const p = parseRetention('3, 10', 'versions');
    assert.equal(isExpired(p, now - 11 * DAY, now), true);
    assert.equal(isExpired(p, now - 5 * DAY, now), false);
    assert.equal(isExpired(p, now - 5 * DAY, now, true), true, 'past the minimum and space needed');
    assert.equal(isExpired(p, now - 2 * DAY, now, true), false, 'D1, D2 never purges earlier');
    assert.equal(isExpired(parseRetention('auto', 'versions'), now - 1, now, true), true);
    assert.equal(isExpired(parseRetention('auto, 1', 'versions'), now + 5 * DAY, now), false);
    assert.equal(isExpired(parseRetention('disabled', 'versions'), 0, now, true), false);
    // trash `auto`: 30 days, then only when space is needed
    const trash = parseRetention('auto', 'trashbin');
    assert.equal(isExpired(trash, now - 40 * DAY, now), false);
    assert.equal(isExpired(trash, now - 40 * DAY, now, true), true);
  });

  it('auto thinning keeps one version per 2 s, 10 s, minute, hour, day, week as Nextcloud does', () => {
    const now = 100_000_000;
    // first 10 s: every second → every other one stays
    const s = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => now - d);
    assert.deepEqual([...autoThinning(s, now)].sort((a, b) => a - b), [1, 3, 5, 7]);
    // an hour ago and before, one every 10 minutes for 3 hours: one an hour stays
    const h = Array.from({ length: 18 }, (_, i) => now - 3600 - i * 600);
    const kept = h.filter((_, i) => !autoThinning(h, now).has(i));
    assert.deepEqual(kept, [now - 3600, now - 7200, now - 10800]);
    // older than 30 days: one a week
    const d = Array.from({ length: 21 }, (_, i) => now - 31 * DAY - i * DAY);
    const keptD = d.filter((_, i) => !autoThinning(d, now).has(i));
    assert.deepEqual(keptD, [now - 31 * DAY, now - 38 * DAY, now - 45 * DAY]);
  });
});

const put = async (t: TestInstance, as: Creds, path: string, body: string, mtime: number) => {
  const r = await call(t, as, 'PUT', `${FILES(as)}/${path}`, { body, headers: { 'X-OC-Mtime': String(mtime) } });
  assert.ok(r.status === 201 || r.status === 204, `${r.status} ${r.text}`);
};

/** `./occ …` against the instance's config, without blocking the server of this process. */
function occ(t: TestInstance, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(`${ROOT}/occ`, args, { encoding: 'utf8', timeout: 600_000, env: { ...process.env, COFFER_CONFIG: t.configPath } },
      (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin?.end();
  });
}

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`retention on a real instance (${db})`, () => {
    let t: TestInstance;
    const T0 = 1_750_000_000;
    before(async () => {
      t = await startTestInstance({ db });
      await t.addUser(ALICE.uid, ALICE.password);
      await t.addUser(BOB.uid, BOB.password, { quota: 1000 });
    });
    after(async () => { await t?.stop(); });
    const versionsOf = async (uid: string, path: string) => (await t.app.versions.repo.list(t.app.db, (await t.app.files.stat(uid, path)).fileId)).map((v) => v.version);
    const expiry = (obligation: string) => new VersionExpiry({ db: t.app.db, nodes: new NodeRepository(t.app.db), versions: t.app.versions, log: silentLogger(), policy: parseRetention(obligation, 'versions') });

    it('the background expiry thins versions by age (auto) with the clock given', async () => {
      // versions every 10 minutes over 3 hours, then one now
      for (let i = 18; i >= 0; i--) await put(t, ALICE, 'thin.txt', `v${i}`, T0 - 3600 - i * 600);
      await put(t, ALICE, 'thin.txt', 'current', T0);
      assert.equal((await versionsOf(ALICE.uid, 'thin.txt')).length, 19);
      const r = await expiry('auto').expireUser(ALICE.uid, T0);
      assert.ok(r.expired > 0);
      assert.deepEqual(await versionsOf(ALICE.uid, 'thin.txt'), [T0 - 3600, T0 - 7200, T0 - 10800, T0 - 3600 - 18 * 600]);
    });

    it('versions never push a user over quota: all may go (auto), or the oldest but the two newest (D1, D2)', async () => {
      const body = 'x'.repeat(300);
      for (let i = 0; i < 4; i++) await put(t, BOB, 'big.txt', body + i, T0 - (4 - i) * DAY);
      // 301 bytes used of 1000: versions may take half of the free 699 bytes, they hold 903
      assert.equal((await versionsOf(BOB.uid, 'big.txt')).length, 3);
      // D1, D2 with nothing past D1: the oldest go while over, but the two newest stay
      await expiry('30, 365').expireUser(BOB.uid, T0);
      assert.deepEqual(await versionsOf(BOB.uid, 'big.txt'), [T0 - 2 * DAY, T0 - 3 * DAY], 'oldest first, two newest kept');
      await expiry('auto').expireUser(BOB.uid, T0);
      assert.deepEqual(await versionsOf(BOB.uid, 'big.txt'), [], 'auto purges whatever space needs');
      // without space pressure (alice has no quota): disabled keeps forever, `auto, D` drops what is older than D days
      await put(t, ALICE, 'age.txt', 'a', T0 + 10);
      await put(t, ALICE, 'age.txt', 'b', T0 + 20);
      await put(t, ALICE, 'age.txt', 'c', T0 + 30);
      await expiry('disabled').expireUser(ALICE.uid, T0 + 100 * DAY);
      assert.equal((await versionsOf(ALICE.uid, 'age.txt')).length, 2);
      await expiry('auto, 2').expireUser(ALICE.uid, T0 + 2 * DAY + 15);
      assert.deepEqual(await versionsOf(ALICE.uid, 'age.txt'), [T0 + 20]);
    });

    it('trash expiry: by age (auto, D) and by trashbin_size (oldest first); garbage collection keeps what versions and trash hold', async () => {
      await put(t, ALICE, 'old.txt', 'o'.repeat(80), T0);
      await put(t, ALICE, 'old.txt', 'o'.repeat(81), T0 + 1);
      const old = await t.app.files.stat(ALICE.uid, 'old.txt');
      const oldVersion = (await t.app.versions.repo.list(t.app.db, old.fileId))[0]!;
      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/old.txt`)).status, 204);
      await put(t, ALICE, 'new.txt', 'n'.repeat(80), T0);
      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/new.txt`)).status, 204);
      const items = await t.app.trash.repo.ofOwner(t.app.db, ALICE.uid);
      assert.equal(items.length, 2);
      // a GC pass with no grace period deletes nothing that versions or trash items reference
      const gc = new GarbageCollector({ db: t.app.db, rawBlobs: t.app.rawBlobs, uploads: t.app.uploads, locks: t.app.locks });
      const report = await gc.run({ graceSeconds: 0 });
      assert.equal(report.orphanedBlobs, 0);
      assert.ok(existsSync(blobFile(t, old.blobId!)) && existsSync(blobFile(t, oldVersion.blobId)));

      const nodes = new NodeRepository(t.app.db);
      const trashExpiry = (obligation: string, size?: number) => new TrashExpiry({
        db: t.app.db, nodes, trash: t.app.trash, log: silentLogger(), policy: parseRetention(obligation, 'trashbin'), configuredSize: async () => size,
      });
      const deletedAt = items[0]!.deletedAt;
      assert.deepEqual(await trashExpiry('auto, 7').expireUser(ALICE.uid, deletedAt + 6 * DAY), { expired: 0, bytes: 0 });
      assert.deepEqual(await trashExpiry('auto').expireUser(ALICE.uid, deletedAt + 60 * DAY), { expired: 0, bytes: 0 }, 'auto: kept while space allows');
      // over a 100-byte trash bin: the oldest goes (with its version), the rest fits
      const r = await trashExpiry('auto', 100).expireUser(ALICE.uid, deletedAt + 1);
      assert.deepEqual(r, { expired: 1, bytes: 81 });
      assert.ok(!existsSync(blobFile(t, old.blobId!)) && !existsSync(blobFile(t, oldVersion.blobId)), 'content and versions deleted');
      assert.equal((await t.app.versions.repo.list(t.app.db, old.fileId)).length, 0);
      assert.deepEqual(await trashExpiry('auto, 7').expireUser(ALICE.uid, deletedAt + 8 * DAY), { expired: 1, bytes: 80 });
      assert.equal((await t.app.trash.repo.ofOwner(t.app.db, ALICE.uid)).length, 0);
    });

    it('versions:cleanup and emptying the trash work a page at a time: more than a page of each goes, the current content stays', async () => {
      const carol = 'carol-pages';
      await t.addUser(carol, 'carol-password-1');
      const write = (path: string, body: string, mtime: number) => t.app.files.writeFile(SYSTEM, carol, path, Readable.from([Buffer.from(body)]), { mtime });
      for (let i = 0; i <= 510; i++) await write('many.txt', `v${i}`, T0 + i);
      assert.equal((await t.app.versions.usage(carol)).count, 510);
      await t.app.files.mkdir(carol, 'gone');
      for (let i = 0; i < 505; i++) {
        await write(`gone/f${i}.txt`, `f${i}`, T0);
        await t.app.trash.moveToTrash(SYSTEM, carol, `gone/f${i}.txt`);
      }
      let walked = 0;
      for await (const item of t.app.trash.itemsOf(carol)) { assert.match(item.name, /^f\d+\.txt$/); walked++; }
      assert.equal(walked, 505);
      assert.equal(await t.app.versions.cleanup(carol), 510);
      assert.equal((await t.app.versions.usage(carol)).count, 0);
      assert.equal(await t.app.trash.empty(SYSTEM, carol), 505);
      assert.deepEqual(await t.app.trash.usage(carol), { count: 0, bytes: 0 });
      assert.equal((await t.app.files.stat(carol, 'many.txt')).size, 4, 'the current content stays');
    });

    it('./occ versions:* and trashbin:* with Nextcloud\'s options', async () => {
      await put(t, ALICE, 'cli.txt', 'one', T0);
      await put(t, ALICE, 'cli.txt', 'two', T0 + 1);
      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/cli.txt`)).status, 204);
      const info = JSON.parse((await occ(t, ['user:info', ALICE.uid, '--output=json'])).stdout);
      assert.equal(info.trashbin.count, 1);
      assert.equal(info.trashbin.bytes, 3);
      assert.ok(info.versions.count >= 1);

      const exp = await occ(t, ['versions:expire']);
      assert.equal(exp.status, 1);
      assert.match(exp.stdout + exp.stderr, /Auto expiration is configured/);
      assert.equal((await occ(t, ['trashbin:cleanup'])).status, 2, 'a user or --all-users is required');

      const dry = await occ(t, ['trashbin:restore', ALICE.uid, '--dry-run', '--output=json']);
      assert.equal(dry.status, 0, dry.stderr);
      assert.deepEqual(JSON.parse(dry.stdout), [{ user: ALICE.uid, name: 'cli.txt', location: 'cli.txt' }]);
      const res = await occ(t, ['trashbin:restore', ALICE.uid, '--since', '2020-01-01', '--until', String(Math.floor(Date.now() / 1000) + 3600)]);
      assert.equal(res.status, 0, res.stderr);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/cli.txt`)).text, 'two');

      assert.equal((await occ(t, ['trashbin:size', '--user', ALICE.uid, '5 MB'])).status, 0);
      assert.deepEqual(JSON.parse((await occ(t, ['trashbin:size', '--user', ALICE.uid, '--output=json'])).stdout), { user_size: 5 * 1024 * 1024, global_size: 'default', effective_size: 5 * 1024 * 1024 });

      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/cli.txt`)).status, 204);
      const cleanup = await occ(t, ['trashbin:cleanup', ALICE.uid]);
      assert.equal(cleanup.status, 0, cleanup.stderr);
      assert.match(cleanup.stdout, /Remove deleted files of {3}alice/);
      assert.equal((await t.app.trash.repo.ofOwner(t.app.db, ALICE.uid)).length, 0);
      const vc = await occ(t, ['versions:cleanup', ALICE.uid, '--output=json']);
      assert.equal(vc.status, 0, vc.stderr);
      assert.equal((await t.app.versions.usage(ALICE.uid)).count, 0);

      // an explicit maximum: versions:expire deletes what is older
      await put(t, ALICE, 'max.txt', 'a', T0);
      await put(t, ALICE, 'max.txt', 'b', T0 + 1);
      const cfg = JSON.parse(readFileSync(t.configPath, 'utf8'));
      writeFileSync(t.configPath, JSON.stringify({ ...cfg, versions_retention_obligation: 'auto, 1' }));
      const ve = await occ(t, ['versions:expire', ALICE.uid, '--output=json']);
      assert.equal(ve.status, 0, ve.stderr);
      assert.equal(JSON.parse(ve.stdout).expired, 1);
      writeFileSync(t.configPath, JSON.stringify(cfg));
    });
  });
}
