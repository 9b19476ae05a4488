/**
 * The versions and trash bin commands of `./occ` with Nextcloud's options (issue #15), each a real
 * `./occ` process on the instance's config: `versions:cleanup` for all users and with `--path`,
 * `trashbin:cleanup --all-users`, `trashbin:restore` with `--scope`, `--all-users` and `--since`,
 * `trashbin:size` (the default and per-user sizes, `-1`, Nextcloud's JSON), `trashbin:expire`
 * under `auto` and `disabled`, and `user:info`'s space of versions and trash.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { occ } from '../cli/occ-harness.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, type Creds } from '../sharing/helpers.ts';
import { call, FILES } from './helpers.ts';

const T0 = 1_760_000_000;
const GB = 1024 ** 3;
const MB = 1024 ** 2;

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`./occ versions and trash bin commands as Nextcloud's (${db})`, () => {
    let t: TestInstance;
    before(async () => {
      t = await startTestInstance({ db });
      await t.addUser(ALICE.uid, ALICE.password);
      await t.addUser(BOB.uid, BOB.password);
    });
    after(async () => { await t?.stop(); });

    const run = (args: string[]) => occ(args, { COFFER_CONFIG: t.configPath });
    const ok = async (args: string[]) => {
      const r = await run(args);
      assert.equal(r.code, 0, `./occ ${args.join(' ')}: ${r.code}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    /** `body` at `path` with mtime `mtime`, creating the folders on the way. */
    const put = async (as: Creds, path: string, body: string, mtime: number) => {
      const parts = path.split('/').slice(0, -1);
      for (let i = 1; i <= parts.length; i++) await call(t, as, 'MKCOL', `${FILES(as)}/${parts.slice(0, i).join('/')}`);
      const r = await call(t, as, 'PUT', `${FILES(as)}/${path}`, { body, headers: { 'X-OC-Mtime': String(mtime) } });
      assert.ok(r.status === 201 || r.status === 204, `PUT ${path}: ${r.status} ${r.text}`);
    };
    /** `path` with `n` versions (and its content, the last of n + 1 writes). */
    const versioned = async (as: Creds, path: string, n: number) => {
      for (let i = 0; i <= n; i++) await put(as, path, `${path} ${i}`, T0 + i);
    };
    const del = async (as: Creds, path: string) => assert.equal((await call(t, as, 'DELETE', `${FILES(as)}/${path}`)).status, 204);
    const versionCount = async (as: Creds, path: string) => (await t.app.versions.repo.list(t.app.db, (await t.app.files.stat(as.uid, path)).fileId)).length;
    const trashNames = async (as: Creds) => (await t.app.trash.repo.ofOwner(t.app.db, as.uid)).map((i) => i.name).sort();
    const setDeletedAt = async (as: Creds, name: string, at: number) => {
      const item = (await t.app.trash.repo.ofOwner(t.app.db, as.uid)).find((i) => i.name === name)!;
      await t.app.db.updateTable('trash_items').set({ deleted_at: at }).where('id', '=', item.id).execute();
    };

    it('versions:cleanup --path: the versions of the files at or below the path, of the user it names; a bad path changes nothing', async () => {
      await versioned(ALICE, 'Music/a.txt', 2);
      await versioned(ALICE, 'Music/sub/b.txt', 1);
      await versioned(ALICE, 'Musical.txt', 1); // a name that only starts like the folder
      await versioned(ALICE, 'Docs/c.txt', 1);
      await versioned(ALICE, 'Docs/d.txt', 1);
      await versioned(ALICE, 'Music/gone.txt', 1);
      await del(ALICE, 'Music/gone.txt'); // its version goes to the trash with it
      await versioned(BOB, 'Music/a.txt', 1);
      const before = (await t.app.versions.usage(ALICE.uid)).count;
      assert.equal(before, 7);

      // Nextcloud's form is /USER/files/PATH
      const bad = await run(['versions:cleanup', '--path=alice/files/Music']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /Invalid path given/);
      const missing = await run(['versions:cleanup', '--path=/alice/files/Nope']);
      assert.equal(missing.code, 4);
      assert.match(missing.stderr, /Nope does not exist/);
      assert.equal((await run(['versions:cleanup', '--path=/nobody/files/Music'])).code, 4);
      assert.equal((await t.app.versions.usage(ALICE.uid)).count, before, 'nothing deleted');

      // the path names the user (as Nextcloud: bob, also given, is left alone)
      const out = await ok(['versions:cleanup', '--path=/alice/files/Music', BOB.uid]);
      assert.equal(out, 'Delete versions of   alice\n');
      assert.equal(await versionCount(ALICE, 'Music/a.txt'), 0);
      assert.equal(await versionCount(ALICE, 'Music/sub/b.txt'), 0);
      assert.equal(await versionCount(ALICE, 'Musical.txt'), 1);
      assert.equal(await versionCount(ALICE, 'Docs/c.txt'), 1);
      assert.equal(await versionCount(BOB, 'Music/a.txt'), 1);
      assert.equal((await t.app.versions.usage(ALICE.uid)).count, 4, 'the trashed file keeps its version');
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Music/a.txt`)).text, 'Music/a.txt 2', 'the current content stays');

      // a file's own versions, by its path (-p, JSON)
      assert.deepEqual(JSON.parse(await ok(['versions:cleanup', '-p', '/alice/files/Docs/c.txt', '--output=json'])), { alice: 1 });
      assert.equal(await versionCount(ALICE, 'Docs/c.txt'), 0);
      assert.equal(await versionCount(ALICE, 'Docs/d.txt'), 1);
    });

    it('versions:cleanup without a user: the versions of every user', async () => {
      assert.ok((await t.app.versions.usage(ALICE.uid)).count > 0 && (await t.app.versions.usage(BOB.uid)).count > 0);
      const out = await ok(['versions:cleanup']);
      assert.equal(out, 'Delete all versions\nDelete versions of   admin\nDelete versions of   alice\nDelete versions of   bob\n');
      assert.equal((await t.app.versions.usage(ALICE.uid)).count, 0);
      assert.equal((await t.app.versions.usage(BOB.uid)).count, 0);
      assert.equal((await call(t, BOB, 'GET', `${FILES(BOB)}/Music/a.txt`)).text, 'Music/a.txt 1');
    });

    it('trashbin:cleanup --all-users empties every trash bin; with a user as well, or an unknown user, nothing is removed', async () => {
      await put(BOB, 'b1.txt', 'b1', T0);
      await del(BOB, 'b1.txt');
      assert.ok((await trashNames(ALICE)).length > 0);
      const both = await run(['trashbin:cleanup', '--all-users', BOB.uid]);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /Either specify a user_id or --all-users/);
      assert.equal((await run(['trashbin:cleanup', BOB.uid, 'nobody'])).code, 4);
      assert.deepEqual(await trashNames(BOB), ['b1.txt'], 'nothing removed');

      const out = await ok(['trashbin:cleanup', '--all-users']);
      assert.match(out, /Remove deleted files of {3}alice\nRemove deleted files of {3}bob\n/);
      assert.deepEqual(await trashNames(ALICE), []);
      assert.deepEqual(await trashNames(BOB), []);
    });

    it('trashbin:restore: --scope user, groupfolders or all as Nextcloud\'s, --all-users, --since strictly after', async () => {
      await put(ALICE, 'r1.txt', 'r1', T0);
      await del(ALICE, 'r1.txt');
      await put(BOB, 'r2.txt', 'r2', T0);
      await del(BOB, 'r2.txt');
      await setDeletedAt(ALICE, 'r1.txt', T0 + 100);
      await setDeletedAt(BOB, 'r2.txt', T0 + 200);

      const badScope = await run(['trashbin:restore', ALICE.uid, '--scope', 'everything']);
      assert.equal(badScope.code, 2);
      assert.match(badScope.stderr, /Allowed choices are user, groupfolders, all/);
      const both = await run(['trashbin:restore', ALICE.uid, '--all-users']);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /Either specify a user_id or --all-users/);
      assert.equal((await run(['trashbin:restore', '--scope', 'all'])).code, 2, 'a user or --all-users is required');
      assert.equal((await run(['trashbin:restore', ALICE.uid, '--since', String(T0 + 300), '--until', String(T0)])).code, 2, 'since after until');
      // no group folders in Coffer: that scope has nothing to restore
      assert.deepEqual(JSON.parse(await ok(['trashbin:restore', '--all-users', '--scope', 'groupfolders', '--output=json'])), []);
      assert.deepEqual([await trashNames(ALICE), await trashNames(BOB)], [['r1.txt'], ['r2.txt']], 'nothing restored');

      // deleted strictly after --since: alice's, deleted at that second, stays
      const since = JSON.parse(await ok(['trashbin:restore', '--all-users', '--since', String(T0 + 100), '--output=json']));
      assert.deepEqual(since, [{ user: BOB.uid, name: 'r2.txt', location: 'r2.txt' }]);
      assert.deepEqual(await trashNames(ALICE), ['r1.txt']);
      assert.equal((await call(t, BOB, 'GET', `${FILES(BOB)}/r2.txt`)).text, 'r2');

      const all = await ok(['trashbin:restore', ALICE.uid, '-s', 'all']);
      assert.match(all, /Restored alice: r1\.txt\nRestored 1 item\(s\)\n/);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/r1.txt`)).text, 'r1');
    });

    it('trashbin:size: the default and per-user sizes with Nextcloud\'s output and JSON, -1 back to the default; a bad size changes nothing', async () => {
      const json = async (args: string[]) => JSON.parse(await ok([...args, '--output=json']));
      assert.deepEqual(await json(['trashbin:size']), { global_size: 'default', user_sizes: {} });
      assert.equal(await ok(['trashbin:size']), 'Default size: default (50% of available space)\n\nNo per-user sizes configured\n');
      assert.equal(await ok(['trashbin:size', '--user', ALICE.uid]), 'default (50% of available space)\n');

      assert.match(await ok(['trashbin:size', '5 GB']), /^Warning: changing the default trashbin size/);
      assert.deepEqual(await json(['trashbin:size']), { global_size: 5 * GB, user_sizes: {} });
      assert.deepEqual(await json(['trashbin:size', '--user', ALICE.uid]), { user_size: 'default', global_size: 5 * GB, effective_size: 5 * GB });
      assert.equal(await ok(['trashbin:size', '-u', ALICE.uid]), 'default(5 GB)\n');

      assert.equal(await ok(['trashbin:size', '--user', ALICE.uid, '500MB']), '');
      assert.deepEqual(await json(['trashbin:size', '--user', ALICE.uid]), { user_size: 500 * MB, global_size: 5 * GB, effective_size: 500 * MB });
      assert.equal(await ok(['trashbin:size', '--user', ALICE.uid]), '500 MB\n');
      assert.deepEqual(await json(['trashbin:size']), { global_size: 5 * GB, user_sizes: { alice: String(500 * MB) } });
      assert.equal(await ok(['trashbin:size']), 'Default size: 5 GB\n\nPer-user sizes:\n  - alice: 500 MB\n');

      const bad = await run(['trashbin:size', 'lots']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /not a size: lots/);
      assert.equal((await run(['trashbin:size', '--user', 'nobody'])).code, 4);
      assert.equal((await run(['trashbin:size', '--user', 'nobody', '1 MB'])).code, 4);
      assert.deepEqual(await json(['trashbin:size']), { global_size: 5 * GB, user_sizes: { alice: String(500 * MB) } }, 'unchanged');

      await ok(['trashbin:size', '--user', ALICE.uid, '-1']);
      assert.deepEqual(await json(['trashbin:size', '--user', ALICE.uid]), { user_size: 'default', global_size: 5 * GB, effective_size: 5 * GB });
      await ok(['trashbin:size', '-1']);
      assert.deepEqual(await json(['trashbin:size', '--user', ALICE.uid]), { user_size: 'default', global_size: 'default', effective_size: 'default' });
    });

    it('trashbin:expire: runs under auto (what the trash bin size needs goes; a user\'s -1 means the default), refused under disabled as Nextcloud', async () => {
      for (const [i, n] of ['e1.txt', 'e2.txt', 'e3.txt'].entries()) {
        await put(ALICE, n, 'x'.repeat(40), T0);
        await del(ALICE, n);
        await setDeletedAt(ALICE, n, T0 + i);
      }
      // within the space (no size set, plenty of disk): nothing goes
      assert.deepEqual(JSON.parse(await ok(['trashbin:expire', '--output=json'])), { users: 1, expired: 0, bytes: 0 });
      // a default of 100 bytes, and alice's own size -1 (as Nextcloud's `trashbin:size -1 --user` stores it): the default applies
      await ok(['trashbin:size', '100']);
      await ok(['user:setting', ALICE.uid, 'files_trashbin', 'trashbin_size', '-1']);
      assert.equal(await ok(['trashbin:expire', ALICE.uid]), 'Expired 1 item(s) (40 bytes) of 1 user(s)\n');
      assert.deepEqual(await trashNames(ALICE), ['e2.txt', 'e3.txt'], 'the oldest went');
      assert.equal((await run(['trashbin:expire', 'nobody'])).code, 4);

      const cfg = JSON.parse(readFileSync(t.configPath, 'utf8'));
      try {
        writeFileSync(t.configPath, JSON.stringify({ ...cfg, trashbin_retention_obligation: 'disabled', versions_retention_obligation: 'disabled' }));
        await ok(['trashbin:size', '10']);
        const refused = await run(['trashbin:expire']);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /Auto expiration is configured - keeps files and folders in the trash bin for 30 days/);
        const versions = await run(['versions:expire']);
        assert.equal(versions.code, 1);
        assert.match(versions.stderr, /Auto expiration is configured - expiration will be handled automatically/);
        assert.deepEqual(await trashNames(ALICE), ['e2.txt', 'e3.txt'], 'nothing expired');
      } finally {
        writeFileSync(t.configPath, JSON.stringify(cfg));
        await ok(['trashbin:size', '-1']);
      }
    });

    it('user:info: the count and bytes of the user\'s versions and trash', async () => {
      await put(BOB, 'info.txt', '1234567', T0);
      await put(BOB, 'info.txt', '12345678901', T0 + 1);
      await put(BOB, 'info.txt', 'now', T0 + 2);
      await put(BOB, 'tmp/t.bin', 'y'.repeat(1000), T0);
      await del(BOB, 'tmp');
      const info = JSON.parse(await ok(['user:info', BOB.uid, '--output=json']));
      assert.deepEqual(info.versions, { count: 2, bytes: 18 });
      assert.deepEqual(info.trashbin, { count: 1, bytes: 1000 });
    });
  });
}
