/**
 * The key commands keep versions and trash items readable (issue #15, item 6): after each of
 * `./occ encryption:rotate-master-key`, `encryption:backup-keys` + `encryption:restore-keys` (the
 * key files lost in between) and `encryption:change-key-storage-root`, every version and every
 * trashed file (a trashed file with versions, a trashed folder with nested files) reads back over
 * DAV with the same sha256 (also after a server restart, which drops every cached key), a version
 * and a trash item restore, `encryption:verify` in a fresh process finds everything intact
 * (master-key mode: it can read every file), and no blob or path on disk holds plaintext or a file
 * name. In master-key mode and in per-user-key mode (the user's key pair and root keys move too).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { ALICE } from '../sharing/helpers.ts';
import { blobFiles, filesContaining, occFor, occOk, walkFiles, walkPaths } from '../encryption-e2e/helpers.ts';
import { call, FILES, sha256 } from './helpers.ts';
import { checkHistory, makeHistory, restoreTrash, restoreVersion, type HistoryFixture } from './history-fixture.ts';

const PW = { COFFER_BACKUP_PASSWORD: 'history-backup-pw-7' };

for (const mode of ['master', 'per-user'] as const) describe(`versions and trash items through the key commands (${mode} keys)`, () => {
  let t: TestInstance;
  const fixtures: HistoryFixture[] = [];
  const keyFiles = (root: string) => walkFiles(root).filter((f) => f.includes('/files_encryption/'));
  const snapshot = (files: string[]) => new Map(files.map((f) => [f, sha256(readFileSync(f))]));
  const checkAll = async (label: string) => { for (const fx of fixtures) await checkHistory(t, fx, `${label} (${fx.names[0]})`); };
  /** History rows with content: the verify count of everything. */
  const stored = async () => (await t.app.db.selectFrom('nodes').select('fileid').where('kind', '=', 'file').execute()).length
    + (await t.app.db.selectFrom('file_versions').select('id').execute()).length
    + (await t.app.db.selectFrom('trash_nodes').select('fileid').where('kind', '=', 'file').execute()).length;
  /**
   * A server restart (no key cached) and, in master-key mode, `./occ encryption:verify` in a fresh
   * process: everything intact, every row checked (per-user keys open with the user's password only).
   */
  const verifyAll = async () => {
    await t.restart();
    if (mode === 'per-user') return;
    const r = await occFor(t, ['encryption:verify', '--output=json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rep = JSON.parse(r.stdout);
    assert.deepEqual(rep.damaged, []);
    assert.equal(rep.checked, await stored());
    assert.equal(rep.encrypted, rep.checked, 'every blob is encrypted');
  };
  /** Each fixture restores what it still has: one version and each trash item. */
  const restoreOneOfEach = async (fx: HistoryFixture) => {
    await restoreVersion(t, fx, [...fx.files.keys()][0]!);
    for (const location of [...fx.trash.keys()]) await restoreTrash(t, fx, location);
  };

  before(async () => {
    t = await startTestInstance({ keep: true });
    await enableEncryption(t);
    if (mode === 'per-user') {
      await t.app.userKeys.setPerUserMode(true, 0);
      await t.restart(); // the key policy is chosen when the app opens
    }
    await t.addUser(ALICE.uid, ALICE.password);
    assert.equal((await call(t, ALICE, 'PROPFIND', FILES(ALICE), { headers: { Depth: '0' } })).status, 207);
  });
  after(async () => {
    if (!t) return;
    await t.stop();
    rmSync(t.dir, { recursive: true, force: true });
  });

  it('rotate-master-key: versions and trash items read back, restore; no blob rewritten', async () => {
    fixtures.push(await makeHistory(t, ALICE, 'rot'));
    await checkAll('before rotation');
    const blobs = snapshot(blobFiles(t.dataDir));
    assert.match(await occOk(t, ['encryption:rotate-master-key']), /no file content was rewritten/);
    assert.deepEqual(snapshot(blobFiles(t.dataDir)), blobs, 'no blob was rewritten');
    await verifyAll();
    await checkAll('after rotation');
    await restoreVersion(t, fixtures[0]!, 'rot-ledger.txt');
    await restoreTrash(t, fixtures[0]!, 'rot-minutes.txt');
    await checkAll('rotation, restored');
  });

  it('backup-keys, the keys lost, restore-keys: versions and trash items read back, restore', async () => {
    fixtures.push(await makeHistory(t, ALICE, 'bak'));
    const archive = join(t.dir, 'keys.backup');
    await occOk(t, ['encryption:backup-keys', archive], PW);
    const keys = snapshot(keyFiles(t.dataDir));
    for (const f of keys.keys()) rmSync(f);
    if (mode === 'master') {
      // a fresh process cannot read a version or a trashed file without the keys
      const lost = await occFor(t, ['encryption:verify', '--output=json']);
      assert.equal(lost.code, 7, lost.stderr);
      const damaged: string[] = JSON.parse(lost.stdout).damaged.map((d: { file: string }) => d.file);
      for (const name of ['bak-minutes.txt', 'bak-Archive/drafts/memo.txt', 'bak-ledger.txt.v']) {
        assert.ok(damaged.some((d) => d.includes(name)), `verify without keys names ${name}: ${damaged.join(', ')}`);
      }
    }
    assert.equal((await occFor(t, ['encryption:restore-keys', archive, '-n'], PW)).code, 0);
    assert.deepEqual(snapshot(keyFiles(t.dataDir)), keys, 'every key file is back');
    await verifyAll();
    await checkAll('after restore-keys');
    await restoreOneOfEach(fixtures[1]!);
    await checkAll('restore-keys, restored');
  });

  it('change-key-storage-root: versions and trash items read back (server and a fresh process), restore', async () => {
    fixtures.push(await makeHistory(t, ALICE, 'mv'));
    const dir = join(t.dir, 'keys-elsewhere');
    mkdirSync(dir);
    assert.match(await occOk(t, ['encryption:change-key-storage-root', dir, '-n']), /Key storage root changed/);
    assert.deepEqual(keyFiles(t.dataDir), [], 'no key file left in the data directory');
    await checkAll('after the move');
    // per-user keys: a login after the move must not take the emptied old root for a new user (a new key pair there)
    assert.deepEqual(keyFiles(t.dataDir), [], 'no key file written to the old root');
    await verifyAll();
    await checkAll('after the move, restarted');
    for (const fx of fixtures) await restoreOneOfEach(fx);
    await checkAll('after the move, all restored');
    await verifyAll();
  });

  it('on disk: no plaintext of any version or trash item, no file or folder name in a blob, a key file or a path', () => {
    for (const fx of fixtures) {
      assert.deepEqual(filesContaining(t.dataDir, fx.marker), [], `plaintext of ${fx.names[0]} under the data directory`);
      const inBlobsOrKeys = [join(t.dataDir, 'blobs'), join(t.dir, 'keys-elsewhere')];
      for (const name of fx.names) {
        for (const root of inBlobsOrKeys) assert.deepEqual(filesContaining(root, name), [], `${name} in ${root}`);
      }
      const paths = [...walkPaths(t.dataDir), ...walkPaths(join(t.dir, 'keys-elsewhere'))].join('\n');
      for (const name of fx.names) assert.ok(!paths.includes(name), `${name} in a path on disk`);
    }
  });
});
