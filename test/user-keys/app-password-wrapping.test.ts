/**
 * Per-user keys: an app password is only useful with its own wrapping of the user's private key
 * (a sync client logging in with it unlocks the key through it). When that wrapping cannot be
 * written, the failure surfaces and no app password is left behind: one handed out without its
 * wrapping would fail much later, on another process or after a restart, far from the cause.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { perUserInstance, put } from './helpers.ts';

const ALICE = { uid: 'alice', password: 'alice-password-1' };

test('a key wrapping that cannot be written fails the app password\'s (and web session\'s) creation, and leaves none behind', async () => {
  const inst = await perUserInstance();
  const keyDir = join(inst.dataDir, 'alice', 'files_encryption', 'OC_DEFAULT_MODULE');
  const wrappings = () => readdirSync(keyDir).filter((n) => n.startsWith('appPassword_'));
  const newToken = () => inst.fetch('/ocs/v2.php/core/getapppassword?format=json', { as: ALICE, headers: { 'OCS-APIRequest': 'true' } });
  try {
    await inst.addUser(ALICE.uid, ALICE.password);
    assert.equal((await put(inst, ALICE, 'a.txt', 'AAA')).status, 201); // logs in: the key is unlocked
    // The key storage refuses writes (even to root): a file where the user's key folder was.
    renameSync(keyDir, `${keyDir}.away`);
    writeFileSync(keyDir, 'not a folder');
    await assert.rejects(inst.app.appPasswords.create(ALICE.uid, 'desktop'),
      (err: NodeJS.ErrnoException) => err.code === 'EEXIST' && err.path === keyDir); // the key storage's mkdir of the folder
    assert.deepEqual(await inst.app.appPasswords.list(ALICE.uid), [], 'no app password without its key wrapping');
    const failed = await newToken();
    assert.equal(failed.status, 500);
    assert.deepEqual(await inst.app.appPasswords.list(ALICE.uid), [], 'nor over HTTP');

    // A web session's wrapping likewise: no session is left without it.
    const sessionsBefore = (await inst.app.sessions.list(ALICE.uid)).length;
    await assert.rejects(inst.app.sessions.create(ALICE.uid), (err: NodeJS.ErrnoException) => err.code === 'EEXIST' && err.path === keyDir);
    assert.equal((await inst.app.sessions.list(ALICE.uid)).length, sessionsBefore);

    rmSync(keyDir);
    renameSync(`${keyDir}.away`, keyDir);
    const ok = await newToken();
    assert.equal(ok.status, 200);
    assert.equal((await inst.app.appPasswords.list(ALICE.uid)).length, 1);
    assert.equal(wrappings().length, 1);
  } finally {
    await inst.stop();
  }
});
