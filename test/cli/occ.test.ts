import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { loadConfig } from '../../src/config/config.ts';
import { openApp } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { UserService } from '../../src/auth/user-service.ts';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { installSqlite, occ, tempInstance } from './occ-harness.ts';
import { userActor } from '../../src/actor.ts';

describe('occ framework', () => {
  const inst = tempInstance();
  after(() => inst.cleanup());

  test('no arguments prints the command list and the exit codes, exit 0', async () => {
    const r = await occ([], inst.env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /maintenance:install/);
    assert.match(r.stdout, /app:list/);
    assert.match(r.stdout, /Exit codes:/);
  });

  test('--help on a command describes its options, exit 0', async () => {
    const r = await occ(['maintenance:install', '--help'], inst.env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--admin-user/);
    assert.match(r.stdout, /--database-host/);
  });

  test('unknown command: exit 2 with a hint', async () => {
    const r = await occ(['no:such-command'], inst.env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'no:such-command'/);
    assert.match(r.stderr, /--help/);
  });

  test('unknown option and bad --output value: exit 2', async () => {
    assert.equal((await occ(['status', '--bogus'], inst.env)).code, 2);
    const r = await occ(['status', '--output=xml'], inst.env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /json/);
  });

  test('status before install: installed false, exit 0; commands needing an instance exit 3', async () => {
    const r = await occ(['status', '--output=json'], inst.env);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.installed, false);
    assert.equal(s.maintenance, false);
    assert.equal(s.productname, 'Coffer');
    assert.match(s.version, /^\d+\.\d+\.\d+\.\d+$/);
    const a = await occ(['app:list'], inst.env);
    assert.equal(a.code, 3);
    assert.match(a.stderr, /^error: Coffer is not installed/m);
    assert.doesNotMatch(a.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('occ on an installed SQLite instance', () => {
  const inst = tempInstance();
  before(async () => { await installSqlite(inst, 'first-admin-pass'); });
  after(() => inst.cleanup());
  /** Reads app config straight from the database (no extra process). */
  const appConfig = (app: string, key: string): string | undefined => {
    const db = new SQLite((loadConfig(inst.configPath).database as { path: string }).path, { readonly: true });
    try {
      return (db.prepare('SELECT value FROM app_config WHERE app = ? AND key = ?').get(app, key) as { value: string } | undefined)?.value;
    } finally {
      db.close();
    }
  };

  test('maintenance:install writes a valid config (absolute paths, secret, 0600) and a 0700 data dir', async () => {
    const cfg = loadConfig(inst.configPath);
    assert.equal(cfg.installed, true);
    assert.equal(cfg.datadirectory, inst.dataDir);
    assert.equal(cfg.database.type, 'sqlite');
    assert.ok(cfg.secret.length >= 32);
    const raw = JSON.parse(readFileSync(inst.configPath, 'utf8'));
    assert.ok(raw.datadirectory.startsWith('/'));
    assert.ok(raw.database.path.startsWith('/'));
    // the default SQLite database lives beside the config file, outside the data directory, owner-only
    assert.equal(raw.database.path, join(dirname(inst.configPath), 'coffer.db'));
    assert.ok(!raw.database.path.startsWith(inst.dataDir + '/'));
    assert.equal(statSync(raw.database.path).mode & 0o777, 0o600);
    assert.equal(statSync(inst.configPath).mode & 0o777, 0o600);
    assert.equal(statSync(inst.dataDir).mode & 0o777, 0o700);
  });

  test('the admin user exists, is admin and has the given password', async () => {
    const app = await openApp(loadConfig(inst.configPath), { logger: silentLogger() });
    try {
      const users = new UserService({ db: app.db, hasher: new PasswordHasher() });
      const u = await users.verifyPassword('admin', 'first-admin-pass');
      assert.equal(u.isAdmin, true);
      await assert.rejects(users.verifyPassword('admin', 'wrong'));
    } finally {
      await app.close();
    }
  });

  test('a second install is refused with exit 5 and changes nothing', async () => {
    const before = readFileSync(inst.configPath, 'utf8');
    const r = await occ(['maintenance:install', '--admin-user', 'other', '--admin-pass', 'x', '--data-dir', inst.dataDir + '2'], inst.env);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /already installed/);
    assert.equal(readFileSync(inst.configPath, 'utf8'), before);
    assert.equal(existsSync(inst.dataDir + '2'), false);
  });

  test('status after install: installed true, plain and json', async () => {
    const j = await occ(['status', '--output=json'], inst.env);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).installed, true);
    const p = await occ(['status'], inst.env);
    assert.match(p.stdout, /^ - installed: true$/m);
  });

  test('app:list shows Nextcloud\'s shape; encryption disabled on a fresh install', async () => {
    const r = await occ(['app:list', '--output=json'], inst.env);
    assert.equal(r.code, 0, r.stderr);
    const l = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(l).sort(), ['disabled', 'enabled']);
    assert.ok(l.enabled.files && l.enabled.dav);
    assert.ok(l.disabled.encryption);
    assert.equal(l.enabled.encryption, undefined);
  });

  test('app:enable / app:disable encryption round trip', async () => {
    const e = await occ(['app:enable', 'encryption'], inst.env);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /encryption .*enabled/);
    assert.equal(appConfig('encryption', 'enabled'), 'yes');
    const d = await occ(['app:disable', 'encryption'], inst.env);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(appConfig('encryption', 'enabled'), 'no');
  });

  test('app:disable refuses always-enabled apps (exit 5), unknown apps exit 4', async () => {
    const f = await occ(['app:disable', 'files'], inst.env);
    assert.equal(f.code, 5);
    assert.match(f.stderr, /always enabled/);
    const u = await occ(['app:enable', 'no_such_app'], inst.env);
    assert.equal(u.code, 4);
    assert.equal(appConfig('files', 'enabled'), 'yes');
    assert.equal(appConfig('no_such_app', 'enabled'), undefined);
  });

  test('app:disable encryption is refused while server-side encryption is enabled, naming encryption:disable', async () => {
    assert.equal((await occ(['app:enable', 'encryption'], inst.env)).code, 0);
    const db = new SQLite((loadConfig(inst.configPath).database as { path: string }).path);
    db.prepare("INSERT INTO app_config (app, key, value) VALUES ('core', 'encryption_enabled', 'yes')").run();
    try {
      const r = await occ(['app:disable', 'encryption'], inst.env);
      assert.equal(r.code, 5);
      assert.match(r.stderr, /encryption:disable/);
      assert.equal(appConfig('encryption', 'enabled'), 'yes');
    } finally {
      db.prepare("DELETE FROM app_config WHERE app = 'core' AND key = 'encryption_enabled'").run();
      db.close();
    }
  });

  test('config:list hides the secret; config:system:get reads values; missing key exit 4', async () => {
    const cfg = loadConfig(inst.configPath);
    const l = await occ(['config:list', '--output=json'], inst.env);
    assert.equal(l.code, 0, l.stderr);
    assert.ok(!l.stdout.includes(cfg.secret));
    const parsed = JSON.parse(l.stdout);
    assert.equal(parsed.system.secret, '***REMOVED SENSITIVE VALUE***');
    assert.equal(parsed.system.instanceid, cfg.instanceid);
    assert.equal(parsed.apps.files.enabled, 'yes');
    const g = await occ(['config:system:get', 'database', 'type'], inst.env);
    assert.equal(g.stdout, 'sqlite\n');
    assert.equal((await occ(['config:system:get', 'nope'], inst.env)).code, 4);
  });

  test('maintenance:mode --on/--off is stored and reported by status', async () => {
    const on = await occ(['maintenance:mode', '--on'], inst.env);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(appConfig('core', 'maintenance'), '1');
    assert.equal(JSON.parse((await occ(['status', '--output=json'], inst.env)).stdout).maintenance, true);
    assert.equal((await occ(['maintenance:mode', '--off'], inst.env)).code, 0);
    assert.equal(appConfig('core', 'maintenance'), '0');
    assert.match((await occ(['maintenance:mode'], inst.env)).stdout, /currently disabled/);
    assert.equal((await occ(['maintenance:mode', '--on', '--off'], inst.env)).code, 2);
  });

  test('info:file prints the node, unencrypted, with the blob\'s local path; missing file exit 4', async () => {
    const app = await openApp(loadConfig(inst.configPath), { logger: silentLogger() });
    try {
      await app.files.ensureHome('admin');
      await app.files.mkdir('admin', 'Docs');
      await app.files.writeFile(userActor('admin', 'password'), 'admin', 'Docs/a b.txt', Readable.from([Buffer.from('hello coffer')]), { mtime: 1_700_000_000 });
    } finally {
      await app.close();
    }
    const r = await occ(['info:file', 'admin/files/Docs/a b.txt', '--output=json'], inst.env);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.path, '/admin/files/Docs/a b.txt');
    assert.equal(info.name, 'a b.txt');
    assert.equal(info.size, 12);
    assert.equal(info.mtime, 1_700_000_000);
    assert.equal(info.mimetype, 'text/plain');
    assert.equal(info.encrypted, false);
    assert.equal(typeof info.fileid, 'number');
    assert.equal(typeof info.etag, 'string');
    assert.ok(info.blobPath.startsWith(inst.dataDir + '/'));
    assert.equal(readFileSync(info.blobPath, 'utf8'), 'hello coffer');
    assert.ok(!info.blobPath.includes('a b.txt'));
    const byId = JSON.parse((await occ(['info:file', String(info.fileid), '--output=json'], inst.env)).stdout);
    assert.equal(byId.path, info.path);
    assert.equal((await occ(['info:file', 'admin/files/Docs/missing.txt'], inst.env)).code, 4);
    assert.equal((await occ(['info:file', 'admin/Docs'], inst.env)).code, 2);
  });
});
