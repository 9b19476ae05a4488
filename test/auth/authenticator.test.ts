import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import SQLite from 'better-sqlite3';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { AppPasswordService } from '../../src/auth/app-password-service.ts';
import { Authenticator } from '../../src/auth/authenticator.ts';
import { parseBasicAuth } from '../../src/auth/basic-auth.ts';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { MemoryThrottleStore } from '../../src/auth/throttle-store.ts';
import { Throttler } from '../../src/auth/throttler.ts';
import { UserService } from '../../src/auth/user-service.ts';
import { migrateToLatest, type Db } from '../../src/db/database.ts';
import type { Database } from '../../src/db/schema.ts';
import { AuthenticationError, ThrottledError } from '../../src/errors.ts';
import { basic, tempDir } from './helpers.ts';

describe('parseBasicAuth', () => {
  it('parses UTF-8 credentials with colons in the password; rejects malformed ones', () => {
    assert.deepEqual(parseBasicAuth(basic('jörg', 'a:b:c')), { user: 'jörg', password: 'a:b:c' });
    assert.deepEqual(parseBasicAuth('basic ' + Buffer.from('u:').toString('base64')), { user: 'u', password: '' });
    assert.equal(parseBasicAuth(undefined), undefined);
    assert.equal(parseBasicAuth('Bearer abc'), undefined);
    assert.equal(parseBasicAuth('Basic ' + Buffer.from('nocolon').toString('base64')), null);
    assert.equal(parseBasicAuth('Basic ' + Buffer.from(':pw').toString('base64')), null);
    assert.equal(parseBasicAuth('Basic !!!'), null);
  });
});

describe('Authenticator', () => {
  let db: Db;
  let cleanup: () => void;
  let users: UserService;
  let appPasswords: AppPasswordService;
  let throttle: Throttler;
  let audit: AuditLog;
  let auth: Authenticator;
  before(async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(join(t.dir, 'a.db')) }) });
    await migrateToLatest(db);
    users = new UserService({ db, hasher: new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }) });
    appPasswords = new AppPasswordService({ db });
    throttle = new Throttler(new MemoryThrottleStore(), { baseDelayMs: 1, maxDelayMs: 2, maxIpAttempts: 3 });
    audit = new AuditLog(join(t.dir, 'audit.log'));
    auth = new Authenticator({ users, appPasswords, throttle, audit });
    await users.create({ uid: 'alice', password: 'pw', isAdmin: true, displayName: 'Alice' });
  });
  after(async () => { await audit.close(); await db.destroy(); cleanup(); });

  it('authenticates the login password (carrying it for per-user keys) and app passwords', async () => {
    const u = await auth.authenticateBasic(basic('alice', 'pw'), '127.0.0.1');
    assert.deepEqual(u, { uid: 'alice', displayName: 'Alice', isAdmin: true, via: 'password', loginPassword: 'pw' });
    const again = await auth.authenticateBasic(basic('alice', 'pw'), '127.0.0.1');
    assert.deepEqual(again, u, 'cached answer is the same');
    const { token, info } = await appPasswords.create('alice', 'x');
    const a = await auth.authenticateBasic(basic('alice', token), '127.0.0.1');
    assert.equal(a.via, 'app-password');
    assert.equal(a.appPasswordId, info.id);
    assert.equal(a.loginPassword, undefined, 'no login password with an app password');
    assert.equal((await auth.authenticateBasic(basic('ALICE', 'pw'), '127.0.0.1')).uid, 'alice', 'login names ignore case');
    assert.equal((await auth.authenticateBasic(basic('Alice', token), '127.0.0.1')).uid, 'alice');
    await assert.rejects(auth.authenticatePassword('alice', token, '127.0.0.1', { allowAppPassword: false }), AuthenticationError,
      'the web form takes only the login password');
    await throttle.registerSuccess('127.0.0.1', 'alice');
  });

  it('rejects missing, malformed and wrong credentials and a disabled account', async () => {
    await assert.rejects(auth.authenticateBasic(undefined, '127.0.0.2'), AuthenticationError);
    await assert.rejects(auth.authenticateBasic('Basic %%%', '127.0.0.2'), AuthenticationError);
    await assert.rejects(auth.authenticateBasic(basic('alice', 'nope'), '127.0.0.2'), AuthenticationError);
    await assert.rejects(auth.authenticateBasic(basic('ghost', 'pw'), '127.0.0.2'), AuthenticationError);
    await throttle.registerSuccess('127.0.0.2', 'alice');
    await auth.authenticateBasic(basic('alice', 'pw'), '127.0.0.2');
    await users.setEnabled('alice', false);
    await assert.rejects(auth.authenticateBasic(basic('alice', 'pw'), '127.0.0.2'), AuthenticationError, 'cache does not outlive disabling');
    await users.setEnabled('alice', true);
    await throttle.registerSuccess('127.0.0.2', 'alice');
  });

  it('a valid app password still works from an address that is blocked by guessing', async () => {
    const { token } = await appPasswords.create('alice', 'sync client');
    for (let i = 0; i < 3; i++) {
      await assert.rejects(auth.authenticateBasic(basic(`user${i}`, `guess${i}`), '10.9.0.1'), AuthenticationError);
    }
    await assert.rejects(auth.authenticateBasic(basic('alice', 'pw'), '10.9.0.1'), ThrottledError, 'login password of an unknown client blocked');
    const u = await auth.authenticateBasic(basic('alice', token), '10.9.0.1');
    assert.equal(u.via, 'app-password');
    await assert.rejects(auth.authenticateBasic(basic('alice', 'x'.repeat(72)), '10.9.0.1'), ThrottledError,
      'a wrong app-password-shaped guess is still throttled');
    const events: string[] = [];
    for await (const e of audit.read({ user: 'alice' })) events.push(e.event);
    assert.ok(events.includes('login.throttled'));
  });
});
