import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, SqliteDialect } from 'kysely';
import SQLite from 'better-sqlite3';
import { join } from 'node:path';
import { PasswordHasher, OWASP_ARGON2ID } from '../../src/auth/password-hasher.ts';
import { UserService } from '../../src/auth/user-service.ts';
import { AppPasswordService } from '../../src/auth/app-password-service.ts';
import { migrateToLatest, type Db } from '../../src/db/database.ts';
import type { Database } from '../../src/db/schema.ts';
import { AlreadyExistsError, AuthenticationError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { pgAvailable, pgSchemaDb, tempDir } from './helpers.ts';

const FAST = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('PasswordHasher', () => {
  it('produces argon2id PHC strings with the OWASP parameters and verifies them', async () => {
    const h = new PasswordHasher();
    const phc = await h.hash('correct horse');
    assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.equal(await h.verify(phc, 'correct horse'), true);
    assert.equal(await h.verify(phc, 'correct horse '), false);
    assert.equal(await h.verify('not a hash', 'x'), false);
    assert.notEqual(await h.hash('correct horse'), phc, 'random salt');
    assert.equal(h.needsRehash(phc), false);
    assert.equal(new PasswordHasher(FAST).needsRehash(phc), true);
    assert.deepEqual(OWASP_ARGON2ID, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });
});

function suite(name: string, open: () => Promise<{ db: Db; close: () => Promise<void> }>) {
  describe(`UserService on ${name}`, () => {
    let db: Db;
    let close: () => Promise<void>;
    let users: UserService;
    before(async () => {
      ({ db, close } = await open());
      users = new UserService({ db, hasher: new PasswordHasher(FAST) });
    });
    after(async () => { await close(); });

    it('creates, gets and lists users', async () => {
      const u = await users.create({ uid: 'alice', password: 'pw-alice', displayName: 'Alice A', email: 'a@example.org', quota: 1000 });
      assert.equal(u.uid, 'alice');
      assert.equal(u.displayName, 'Alice A');
      assert.equal(u.quota, 1000);
      assert.equal(u.isAdmin, false);
      assert.equal(u.enabled, true);
      const got = await users.get('alice');
      assert.deepEqual(got, u);
      await users.create({ uid: "bob o'neil@x.org", password: 'pw', isAdmin: true });
      const b = await users.get("bob o'neil@x.org");
      assert.equal(b.displayName, "bob o'neil@x.org");
      assert.equal(b.isAdmin, true);
      assert.equal(b.quota, null);
      assert.deepEqual((await users.list()).map((x) => x.uid), ['alice', "bob o'neil@x.org"]);
      assert.deepEqual((await users.list({ search: 'ALI' })).map((x) => x.uid), ['alice']);
      assert.deepEqual((await users.list({ search: '_' })).map((x) => x.uid), [], 'LIKE wildcards are literal');
      assert.deepEqual((await users.list({ search: "o'n" })).map((x) => x.uid), ["bob o'neil@x.org"]);
      assert.deepEqual((await users.list({ limit: 1, offset: 1 })).map((x) => x.uid), ["bob o'neil@x.org"]);
      assert.equal(await users.count(), 2);
      const row = await db.selectFrom('users').select('password_hash').where('uid', '=', 'alice').executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$/);
    });

    it('rejects invalid and duplicate uids', async () => {
      for (const bad of ['', 'a/b', 'x'.repeat(65), 'ä', '..', ' lead', 'tab\t']) {
        await assert.rejects(users.create({ uid: bad, password: 'pw' }), ValidationError, bad);
      }
      await assert.rejects(users.create({ uid: 'alice', password: 'pw' }), AlreadyExistsError);
      await assert.rejects(users.create({ uid: 'ALICE', password: 'pw' }), AlreadyExistsError);
      await assert.rejects(users.create({ uid: 'carol', password: '' }), ValidationError);
      await assert.rejects(users.get('nobody'), NotFoundError);
    });

    it('verifies passwords and records the last login', async () => {
      const u = await users.verifyPassword('alice', 'pw-alice');
      assert.equal(u.uid, 'alice');
      assert.ok(u.lastLogin && u.lastLogin > 0);
      await assert.rejects(users.verifyPassword('alice', 'wrong'), AuthenticationError);
      await assert.rejects(users.verifyPassword('nobody', 'pw-alice'), AuthenticationError);
      await users.setPassword('alice', 'new-pw');
      await assert.rejects(users.verifyPassword('alice', 'pw-alice'), AuthenticationError);
      await users.verifyPassword('alice', 'new-pw');
      await users.setEnabled('alice', false);
      await assert.rejects(users.verifyPassword('alice', 'new-pw'), AuthenticationError);
      await users.setEnabled('alice', true);
      await assert.rejects(users.setPassword('nobody', 'x'), NotFoundError);
    });

    it('edits display name, email, quota and admin flag', async () => {
      await users.setDisplayName('alice', 'Alice B');
      await users.setEmail('alice', 'b@example.org');
      await users.setQuota('alice', 5 * 2 ** 40);
      await users.setAdmin('alice', true);
      let a = await users.get('alice');
      assert.equal(a.displayName, 'Alice B');
      assert.equal(a.email, 'b@example.org');
      assert.equal(a.quota, 5 * 2 ** 40);
      assert.equal(a.isAdmin, true);
      await users.setQuota('alice', null);
      await users.setEmail('alice', null);
      await users.setAdmin('alice', false);
      a = await users.get('alice');
      assert.equal(a.quota, null);
      assert.equal(a.email, null);
      assert.equal(a.isAdmin, false);
      await assert.rejects(users.setEmail('alice', 'not-an-email'), ValidationError);
      await assert.rejects(users.setQuota('alice', -1), ValidationError);
      await assert.rejects(users.setDisplayName('alice', '  '), ValidationError);
      await assert.rejects(users.setDisplayName('nobody', 'x'), NotFoundError);
    });

    it('stores preferences', async () => {
      await users.setPreference('alice', 'core', 'lang', 'de');
      await users.setPreference('alice', 'core', 'lang', 'fr');
      await users.setPreference('alice', 'files', 'show_hidden', '1');
      assert.equal(await users.getPreference('alice', 'core', 'lang'), 'fr');
      assert.equal(await users.getPreference('alice', 'core', 'nope'), undefined);
      assert.deepEqual(await users.listPreferences('alice'), { core: { lang: 'fr' }, files: { show_hidden: '1' } });
      assert.deepEqual(await users.listPreferences('alice', 'files'), { files: { show_hidden: '1' } });
      await users.deletePreference('alice', 'core', 'lang');
      await assert.rejects(users.deletePreference('alice', 'core', 'lang'), NotFoundError);
      await assert.rejects(users.setPreference('nobody', 'core', 'k', 'v'), NotFoundError);
      await assert.rejects(users.setPreference('alice', 'bad app', 'k', 'v'), ValidationError);
    });

    it('deleteRecord removes the users row (the rest is UserDeletionService\'s job)', async () => {
      await users.deleteRecord(db, 'alice');
      await assert.rejects(users.get('alice'), NotFoundError);
      await assert.rejects(users.deleteRecord(db, 'alice'), NotFoundError);
    });

    it('app passwords: 72 chars, stored as SHA-256, listed, revoked', async () => {
      await users.create({ uid: 'dave', password: 'pw' });
      const aps = new AppPasswordService({ db });
      const a = await aps.create('dave', 'desktop');
      const b = await aps.create('dave', 'phone');
      assert.match(a.token, /^[A-Za-z0-9]{72}$/);
      const rows = await db.selectFrom('app_passwords').select('token_hash').where('uid', '=', 'dave').execute();
      assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash)));
      assert.ok(rows.every((r) => r.token_hash !== a.token && r.token_hash !== b.token));
      assert.deepEqual((await aps.list('dave')).map((x) => x.name), ['desktop', 'phone']);
      assert.equal(await aps.find('dave', a.token), a.info.id);
      assert.equal(await aps.find('alice', a.token), undefined, 'bound to its user');
      await aps.revoke('dave', a.info.id);
      assert.equal(await aps.find('dave', a.token), undefined);
      await assert.rejects(aps.revoke('dave', a.info.id), NotFoundError);
      await aps.revokeToken('dave', b.token);
      assert.deepEqual(await aps.list('dave'), []);
    });
  });
}

suite('SQLite', async () => {
  const { dir, cleanup } = tempDir();
  const sqlite = new SQLite(join(dir, 'u.db'));
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateToLatest(db);
  return { db, close: async () => { await db.destroy(); cleanup(); } };
});

if (await pgAvailable()) {
  suite('PostgreSQL', async () => {
    const { db, drop } = await pgSchemaDb();
    return { db, close: drop };
  });
} else {
  it('UserService on PostgreSQL', { skip: 'PostgreSQL at 127.0.0.1:5432 not reachable' }, () => {});
}
