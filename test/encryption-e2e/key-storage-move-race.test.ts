/**
 * `./occ encryption:change-key-storage-root` while a server keeps making new keys: the server reads
 * the key storage root through its settings cache (1 s), so for a while after the switch it may
 * still write a new user's root key into the old root. The move waits until running servers follow,
 * copies what appeared meanwhile, and removes from the old root only what the new root holds byte
 * for byte: no key is lost, and every file written before, during and after the move reads back
 * after a restart (which reads keys from the new root only).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { davGet, davPut, markedContent, occFor, sha256, walkFiles } from './helpers.ts';

describe('key storage move while the server makes new keys', { timeout: 120_000 }, () => {
  let t: TestInstance;
  const written = new Map<string, string>(); // uid → sha256 of its file

  before(async () => {
    t = await startTestInstance();
    await enableEncryption(t);
  });
  after(async () => { await t?.stop(); });

  /** A new user (a new root key, made by the server) and their first file. */
  async function newUserWithFile(i: number): Promise<void> {
    const uid = `u${i}`;
    await t.addUser(uid, `password-of-${uid}`);
    const body = markedContent(`race-${uid}`, 5000);
    await davPut(t, uid, 'f.bin', body, { uid, password: `password-of-${uid}` });
    written.set(uid, sha256(body));
  }

  test('no key is lost: files of users created before, during and after the move read back after a restart', async () => {
    let i = 0;
    for (; i < 3; i++) await newUserWithFile(i);
    const dir = join(t.dir, 'keys-moved');
    mkdirSync(dir);
    let moving = true;
    const move = occFor(t, ['encryption:change-key-storage-root', dir, '-n']).finally(() => { moving = false; });
    let during = 0;
    while (moving) { await newUserWithFile(i++); during++; }
    const r = await move;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(during >= 3, `users made while the move ran: ${during}`);
    for (let k = 0; k < 3; k++) await newUserWithFile(i++);
    assert.deepEqual(walkFiles(t.dataDir).filter((f) => f.includes('/files_encryption/')), [], 'no key file left in the old root');

    await t.restart();
    for (const [uid, sha] of written) {
      const got = await davGet(t, uid, 'f.bin', undefined, { uid, password: `password-of-${uid}` });
      assert.equal(got.status, 200, `${uid}: ${got.status}`);
      assert.equal(sha256(got.body!), sha, uid);
    }
  });
});
