/**
 * `./occ import:nextcloud` refusals on copies of the master-key fixture: each one exits with occ's
 * code (5, refused), says why, and leaves Coffer's database exactly as it was (every row of every
 * table compared). A live Nextcloud without --allow-live; Coffer users whose uids are Nextcloud's
 * (also differing only in case), named; Coffer file ids Nextcloud's files use. `-n` is accepted.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COFFER_ADMIN, basic, davUrl, installCoffer, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';
import { databaseState } from './nc-state.ts';

/** Every row of every table of Coffer's database, every column. */
const snapshot = (coffer: Coffer) => databaseState(coffer.dir, { exact: true });

/** A fresh Coffer for `fn`, removed afterwards. */
async function withCoffer(fn: (coffer: Coffer) => Promise<void>): Promise<void> {
  const coffer = await installCoffer();
  try {
    await fn(coffer);
  } finally {
    coffer.cleanup();
  }
}

/** Runs the import with `args`: refused (exit 5), `message` on stderr, Coffer's database as before. */
async function assertRefused(coffer: Coffer, args: string[], message: RegExp): Promise<string> {
  const before = snapshot(coffer);
  const r = await coffer.occ(args);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, message);
  assert.deepEqual(snapshot(coffer), before);
  return r.stderr;
}

describe('import:nextcloud refusals change nothing', { timeout: 300_000 }, () => {
  let nc: Unpacked;
  before(() => { nc = unpack('master-key'); });
  after(() => nc?.cleanup());
  const args = (configPhp = nc.configPhp) => ['import:nextcloud', '--nextcloud-config', configPhp, '--nextcloud-data', nc.data, '-n'];

  test('a live Nextcloud (maintenance false) without --allow-live', () => withCoffer(async (coffer) => {
    const live = join(nc.root, 'config', 'config-live.php');
    writeFileSync(live, readFileSync(nc.configPhp, 'utf8').replace("'maintenance' => true", "'maintenance' => false"));
    const before = snapshot(coffer);
    await assertRefused(coffer, args(live), /not in maintenance mode.*--allow-live/);
    // a dry run is allowed on a live instance, and writes nothing either
    const dry = await coffer.occ([...args(live), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(snapshot(coffer), before);
  }));

  const addUser = async (coffer: Coffer, uid: string) => {
    const add = await coffer.occ(['user:add', '--password-from-env', uid], { OC_PASS: 'a-coffer-password-1' });
    assert.equal(add.code, 0, add.stderr);
  };

  test('Coffer users with Nextcloud uids (one differing in case only): refused, naming them', () => withCoffer(async (coffer) => {
    for (const uid of ['alice', 'Carol']) await addUser(coffer, uid);
    const stderr = await assertRefused(coffer, args(), /these Nextcloud users already exist in Coffer: alice, carol \(Coffer's Carol\); nothing was imported/);
    assert.doesNotMatch(stderr, /bob/);
  }));

  test("a Coffer user differing only in case is enough: refused before anything is written", () => withCoffer(async (coffer) => {
    await addUser(coffer, 'Bob');
    await assertRefused(coffer, args(), /already exist in Coffer: bob \(Coffer's Bob\); nothing was imported/);
  }));

  test('file ids Coffer has already handed out that Nextcloud uses: refused, naming them', () => withCoffer(async (coffer) => {
    // Coffer used before the import: the admin's folders take ids 1, 2, … up to Nextcloud's (33 and up)
    const srv = await coffer.serve();
    try {
      for (let i = 0; i < 40; i++) {
        const r = await fetch(davUrl(srv.url, COFFER_ADMIN.uid, `folder ${i}`), { method: 'MKCOL', headers: { authorization: basic(COFFER_ADMIN.uid, COFFER_ADMIN.password) } });
        assert.equal(r.status, 201);
      }
    } finally {
      await srv.stop();
    }
    await assertRefused(coffer, args(), /Nextcloud file ids already used in Coffer: \d+(, \d+)*.*install Coffer afresh/);
  }));
});
