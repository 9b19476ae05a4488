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
import SQLite from 'better-sqlite3';
import { COFFER_ADMIN, basic, davUrl, installCoffer, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';

/** Every row of every table of Coffer's SQLite database, as text. */
function snapshot(coffer: Coffer): string {
  const db = new SQLite(join(coffer.dir, 'config', 'coffer.db'), { readonly: true });
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table' order by name").all() as { name: string }[];
    return JSON.stringify(tables.map(({ name }) => [name, db.prepare(`select * from "${name}" order by 1`).raw().all()]),
      (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : typeof v === 'bigint' ? String(v) : v));
  } finally {
    db.close();
  }
}

describe('import:nextcloud refusals change nothing', { timeout: 300_000 }, () => {
  let nc: Unpacked;
  before(() => { nc = unpack('master-key'); });
  after(() => nc?.cleanup());
  const args = (configPhp = nc.configPhp) => ['import:nextcloud', '--nextcloud-config', configPhp, '--nextcloud-data', nc.data, '-n'];

  test('a live Nextcloud (maintenance false) without --allow-live', async () => {
    const coffer = await installCoffer();
    try {
      const live = join(nc.root, 'config', 'config-live.php');
      writeFileSync(live, readFileSync(nc.configPhp, 'utf8').replace("'maintenance' => true", "'maintenance' => false"));
      const before = snapshot(coffer);
      const r = await coffer.occ(args(live));
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /not in maintenance mode.*--allow-live/);
      assert.equal(snapshot(coffer), before);
      // a dry run is allowed on a live instance, and writes nothing either
      const dry = await coffer.occ([...args(live), '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(snapshot(coffer), before);
    } finally {
      coffer.cleanup();
    }
  });

  test('Coffer users with Nextcloud uids (one differing in case only): refused, naming them', async () => {
    const coffer = await installCoffer();
    try {
      for (const uid of ['alice', 'Carol']) {
        const add = await coffer.occ(['user:add', '--password-from-env', uid], { OC_PASS: 'a-coffer-password-1' });
        assert.equal(add.code, 0, add.stderr);
      }
      const before = snapshot(coffer);
      const r = await coffer.occ(args());
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /these Nextcloud users already exist in Coffer: alice, carol \(Coffer's Carol\); nothing was imported/);
      assert.doesNotMatch(r.stderr, /bob/);
      assert.equal(snapshot(coffer), before);
    } finally {
      coffer.cleanup();
    }
  });

  test("a Coffer user differing only in case is enough: refused before anything is written", async () => {
    const coffer = await installCoffer();
    try {
      const add = await coffer.occ(['user:add', '--password-from-env', 'Bob'], { OC_PASS: 'a-coffer-password-1' });
      assert.equal(add.code, 0, add.stderr);
      const before = snapshot(coffer);
      const r = await coffer.occ(args());
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /already exist in Coffer: bob \(Coffer's Bob\); nothing was imported/);
      assert.equal(snapshot(coffer), before);
    } finally {
      coffer.cleanup();
    }
  });

  test('file ids Coffer has already handed out that Nextcloud uses: refused, naming them', async () => {
    const coffer = await installCoffer();
    try {
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
      const before = snapshot(coffer);
      const r = await coffer.occ(args());
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /Nextcloud file ids already used in Coffer: \d+(, \d+)*.*install Coffer afresh/);
      assert.equal(snapshot(coffer), before);
    } finally {
      coffer.cleanup();
    }
  });
});
