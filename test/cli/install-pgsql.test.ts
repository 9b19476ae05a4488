import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.ts';
import { occ, tempInstance } from './occ-harness.ts';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const dbName = `coffer_t_${randomBytes(5).toString('hex')}`;
const inst = tempInstance();

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...PG, database: 'postgres' });
  await c.connect();
  try { return await fn(c); } finally { await c.end(); }
}

before(async () => { await admin((c) => c.query(`CREATE DATABASE ${dbName}`)); });
after(async () => {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  inst.cleanup();
});

test('maintenance:install on PostgreSQL: config, schema, admin user, apps', async () => {
  const r = await occ(['maintenance:install', '--admin-user', 'root', '--admin-pass', 'pg-admin-pass', '--data-dir', inst.dataDir,
    '--database', 'pgsql', '--database-host', '127.0.0.1', '--database-port', '5432', '--database-name', dbName, '--database-user', 'postgres'], inst.env);
  assert.equal(r.code, 0, r.stderr);
  const cfg = loadConfig(inst.configPath);
  assert.deepEqual({ ...cfg.database }, { type: 'pgsql', host: '127.0.0.1', port: 5432, name: dbName, user: 'postgres', password: '' });
  const users = await new Promise<{ uid: string; is_admin: number }[]>((resolve, reject) => {
    const c = new pg.Client({ ...PG, database: dbName });
    c.connect().then(() => c.query('SELECT uid, is_admin FROM users')).then((q) => { void c.end(); resolve(q.rows); }, reject);
  });
  assert.deepEqual(users.map((u) => [u.uid, Number(u.is_admin)]), [['root', 1]]);
  const s = await occ(['app:list', '--output=json'], inst.env);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(JSON.parse(s.stdout).disabled.encryption);
});

test('maintenance:install on PostgreSQL says clearly what is wrong and writes no config', async () => {
  const other = tempInstance();
  try {
    const refused = await occ(['maintenance:install', '--admin-user', 'a', '--admin-pass', 'p', '--data-dir', other.dataDir,
      '--database', 'pgsql', '--database-host', '127.0.0.1:1', '--database-name', 'x', '--database-user', 'postgres'], other.env);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /^error: Cannot connect to PostgreSQL at 127\.0\.0\.1:1: connection refused/m);
    const badUser = await occ(['maintenance:install', '--admin-user', 'a', '--admin-pass', 'p', '--data-dir', other.dataDir,
      '--database', 'pgsql', '--database-name', dbName, '--database-user', 'no_such_role_x'], other.env);
    assert.equal(badUser.code, 3);
    assert.match(badUser.stderr, /no_such_role_x/);
    const noUser = await occ(['maintenance:install', '--admin-pass', 'p', '--database', 'pgsql'], other.env);
    assert.equal(noUser.code, 2);
    assert.match(noUser.stderr, /--database-user/);
    assert.equal((await import('node:fs')).existsSync(other.configPath), false);
  } finally {
    other.cleanup();
  }
});
