/**
 * DbThrottleStore (the default store without Redis) on SQLite and PostgreSQL: reserve counts and
 * adds atomically (parallel reservations admit exactly the limit; on PostgreSQL over several pooled
 * connections, as several processes would), release / removeTag / clear / marks, window and cap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { DbThrottleStore } from '../../src/auth/db-throttle-store.ts';
import { migrateToLatest, type Db } from '../../src/db/database.ts';
import type { Database } from '../../src/db/schema.ts';
import { pgAvailable, pgSchemaDb, tempDir } from './helpers.ts';

async function exercise(db: Db, other: Db): Promise<void> {
  const a = new DbThrottleStore(db);
  const b = new DbThrottleStore(other, { maxPerKey: 5 });
  const t0 = 1_000_000;
  const r1 = await a.reserve('ip:1', 'alice', t0, 10_000, 2);
  assert.deepEqual([r1.admitted, r1.count], [true, 0]);
  await a.reserve('ip:1', 'bob', t0 + 1, 10_000, 2);
  assert.deepEqual(await a.reserve('ip:1', 'carol', t0 + 2, 10_000, 2), { admitted: false, count: 2, freeAt: t0 + 10_000 });
  await a.release('ip:1', r1.id!);
  assert.deepEqual(await a.peek('ip:1', 0, 10_000, 0), { count: 1 });
  await a.reserve('ip:1', 'bob', t0 + 10_002, 10_000, 0);
  assert.deepEqual(await a.peek('ip:1', 0, 10_000, 0), { count: 1 }, 'the window dropped the old entry');
  await a.removeTag('ip:1', 'bob');
  assert.deepEqual(await a.peek('ip:1', 0, 10_000, 0), { count: 0 });
  for (let i = 0; i < 8; i++) await b.reserve('user:x', 't', t0 + i, 60_000, 0);
  assert.deepEqual(await b.peek('user:x', 0, 60_000, 5), { count: 5, freeAt: t0 + 3 + 60_000 }, 'capped per key');
  await b.clear('user:x');
  assert.deepEqual(await b.peek('user:x', 0, 60_000, 0), { count: 0 });
  assert.equal(await a.marked('known:a:1', t0), false);
  await a.mark('known:a:1', t0, 1000);
  await b.mark('known:a:1', t0, 2000);
  assert.equal(await a.marked('known:a:1', t0 + 1500), true);
  assert.equal(await a.marked('known:a:1', t0 + 2500), false);
  // parallel reservations through both handles: exactly the limit is admitted
  const now = Date.now();
  const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : new DbThrottleStore(other)).reserve('ip:race', `u${i}`, now, 60_000, 17)));
  assert.equal(rs.filter((r) => r.admitted).length, 17);
  assert.deepEqual(rs.filter((r) => r.admitted).map((r) => r.count).sort((x, y) => x - y), Array.from({ length: 17 }, (_, i) => i));
}

const PG_SKIP = !(await pgAvailable()) && process.env.CI !== 'true' ? 'no PostgreSQL at 127.0.0.1:5432' : false;

describe('DbThrottleStore', () => {
  it('SQLite', async () => {
    const t = tempDir();
    const open = () => new Kysely<Database>({ dialect: new SqliteDialect({ database: (() => { const s = new SQLite(join(t.dir, 'a.db')); s.pragma('journal_mode = WAL'); s.pragma('busy_timeout = 10000'); return s; })() }) });
    const db = open();
    await migrateToLatest(db);
    // One handle, as a Coffer process has one SQLite connection (Kysely serialises its
    // transactions). Two synchronous better-sqlite3 connections in one thread would only block each
    // other; another process (./occ) is covered by bruteforce-http.test.ts.
    try { await exercise(db, db); } finally { await db.destroy(); t.cleanup(); }
  });

  it('PostgreSQL (pooled connections race for real)', { skip: PG_SKIP }, async () => {
    const { db, drop } = await pgSchemaDb();
    try { await exercise(db, db); } finally { await drop(); }
  });
});
