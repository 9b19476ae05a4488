/**
 * Nextcloud's stored password hashes verify in Coffer (lib/private/Security/Hasher.php): argon2id
 * from the fixture, bcrypt `1|$2y$…` and `2|$2y$…`, argon2i `2|…`, and the unprefixed legacy forms with
 * passwordsalt; a successful login through UserService re-hashes with Coffer's argon2id.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { hash as argon2Hash } from '@node-rs/argon2';
import type { Algorithm } from '@node-rs/argon2';
import SQLite from 'better-sqlite3';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { UserService } from '../../src/auth/user-service.ts';
import { openTestDatabase } from '../support/test-database.ts';
import { storedHash } from '../../src/import/nextcloud-importer.ts';
import { unpack } from './nc-fixture.ts';

const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
const SALT = 'c7M+ItVsDt+3WgPtf+4f+4IoHWz2Jy';

describe('Nextcloud password hashes', () => {
  test('the fixture\'s 3|$argon2id$ hashes verify with the manifest passwords, and not with others', async () => {
    const nc = unpack('master-key');
    try {
      const db = new SQLite(join(nc.data, 'owncloud.db'), { readonly: true });
      const rows = db.prepare('select uid, password from oc_users').all() as { uid: string; password: string }[];
      db.close();
      for (const u of [...nc.manifest.users, nc.manifest.admin]) {
        const h = storedHash(rows.find((r) => r.uid === u.uid)!.password, SALT);
        assert.match(h, /^3\|\$argon2id\$/);
        assert.equal(await hasher.verify(h, u.password), true, u.uid);
        assert.equal(await hasher.verify(h, `${u.password}!`), false);
        assert.equal(hasher.needsRehash(h), true);
      }
    } finally {
      nc.cleanup();
    }
  });

  test('1|$2y$ bcrypt and 2|$argon2i$', async () => {
    const b = '1|' + (await bcrypt.hash('correct horse', 4)).replace(/^\$2[ab]\$/, '$2y$');
    assert.equal(await hasher.verify(b, 'correct horse'), true);
    assert.equal(await hasher.verify(b, 'correct horsf'), false);
    const a = '2|' + await argon2Hash('battery staple', { algorithm: 1 as Algorithm, memoryCost: 1024, timeCost: 1 });
    assert.match(a, /^2\|\$argon2i\$/);
    assert.equal(await hasher.verify(a, 'battery staple'), true);
    assert.equal(await hasher.verify(a, 'battery stapl'), false);
  });

  test('2|$2y$ bcrypt (the form the issue names): kept as it is by the import, verified, a wrong password refused', async () => {
    const b = '2|' + (await bcrypt.hash('tr0ub4dor&3', 4)).replace(/^\$2[ab]\$/, '$2y$');
    assert.match(b, /^2\|\$2y\$04\$/);
    assert.equal(storedHash(b, SALT), b);
    assert.equal(await hasher.verify(b, 'tr0ub4dor&3'), true);
    assert.equal(await hasher.verify(b, 'tr0ub4dor&4'), false);
    assert.equal(await hasher.verify(b, ''), false);
    assert.equal(hasher.needsRehash(b), true);
  });

  test('legacy unprefixed: bcrypt of password . passwordsalt, bcrypt without salt, sha1', async () => {
    const withSalt = storedHash((await bcrypt.hash('pw-one' + SALT, 4)).replace(/^\$2[ab]\$/, '$2y$'), SALT);
    assert.match(withSalt, /^0\|/);
    assert.equal(await hasher.verify(withSalt, 'pw-one'), true);
    assert.equal(await hasher.verify(withSalt, 'pw-two'), false);
    const noSalt = storedHash(await bcrypt.hash('pw-three', 4), SALT);
    assert.equal(await hasher.verify(noSalt, 'pw-three'), true);
    const sha1 = storedHash(createHash('sha1').update('pw-four').digest('hex'), SALT);
    assert.equal(await hasher.verify(sha1, 'pw-four'), true);
    assert.equal(await hasher.verify(sha1, 'pw-fou'), false);
    assert.equal(await hasher.verify('9|whatever', 'x'), false);
  });

  const dir = mkdtempSync(join(tmpdir(), 'nc-hash-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a login with a carried-over hash succeeds once and leaves Coffer\'s argon2id behind', async () => {
    const { db, drop } = await openTestDatabase('sqlite', dir);
    try {
      const users = new UserService({ db, hasher });
      const nc = '1|' + (await bcrypt.hash('old-nextcloud-pass', 4)).replace(/^\$2[ab]\$/, '$2y$');
      await users.createImported({ uid: 'dave', displayName: 'Dave', email: null, passwordHash: nc, quota: null, enabled: true, isAdmin: false });
      await assert.rejects(users.verifyPassword('dave', 'wrong'));
      await users.verifyPassword('dave', 'old-nextcloud-pass');
      const after = await users.passwordHash('dave');
      assert.match(after, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
      await users.verifyPassword('dave', 'old-nextcloud-pass');
      // the same with `2|$2y$`
      const nc2 = '2|' + (await bcrypt.hash('other-nextcloud-pass', 4)).replace(/^\$2[ab]\$/, '$2y$');
      await users.createImported({ uid: 'erin', displayName: 'Erin', email: null, passwordHash: nc2, quota: null, enabled: true, isAdmin: false });
      await assert.rejects(users.verifyPassword('erin', 'old-nextcloud-pass'));
      await users.verifyPassword('erin', 'other-nextcloud-pass');
      assert.match(await users.passwordHash('erin'), /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    } finally {
      await db.destroy();
      await drop();
    }
  });
});
