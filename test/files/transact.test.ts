/**
 * transact(): a transaction that PostgreSQL rolls back as a deadlock victim runs again instead of
 * failing. The deadlock is real: two transactions lock two rows in opposite orders, held at a
 * barrier so that each holds its first row when it asks for the second; PostgreSQL detects the cycle
 * after deadlock_timeout (1 s) and fails one of them with 40P01.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { isRetryableTransactionError, transact, type Db } from '../../src/db/database.ts';
import { openTestDatabase } from '../support/test-database.ts';

describe('transact on PostgreSQL', () => {
  let db: Db;
  let drop: () => Promise<void>;
  const dir = mkdtempSync(join(tmpdir(), 'coffer-transact-'));
  before(async () => {
    ({ db, drop } = await openTestDatabase('pgsql', dir));
    await db.insertInto('app_config').values([{ app: 't', key: 'a', value: '0' }, { app: 't', key: 'b', value: '0' }]).execute();
  });
  after(async () => { await db.destroy(); await drop(); rmSync(dir, { recursive: true, force: true }); });

  /** Two transactions that lock rows a and b in opposite orders, meeting at a barrier on their first run. */
  async function race(run: typeof transact): Promise<{ results: PromiseSettledResult<unknown>[]; runs: number[] }> {
    const runs = [0, 0];
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((r) => { release = r; });
    const bump = (key: string) => sql`update app_config set value = (value::int + 1)::text where app = 't' and key = ${key}`;
    const one = (i: number, first: string, second: string) => run(db, async (trx) => {
      runs[i]++;
      await bump(first).execute(trx);
      if (runs[i] === 1) { if (++arrived === 2) release(); await barrier; }
      await bump(second).execute(trx);
    });
    const results = await Promise.allSettled([one(0, 'a', 'b'), one(1, 'b', 'a')]);
    return { results, runs };
  }

  test('a plain transaction loses the race with 40P01 (the staging is a real deadlock)', async () => {
    const plain = (<T>(d: Db, fn: Parameters<typeof transact<T>>[1]) => d.transaction().execute(fn)) as typeof transact;
    const { results } = await race(plain);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(failed.length, 1);
    assert.ok(isRetryableTransactionError(failed[0]!.reason), String(failed[0]!.reason));
  });

  test('with transact both commit: the victim ran twice, every update counted once', async () => {
    const before = await db.selectFrom('app_config').select(['key', 'value']).where('app', '=', 't').orderBy('key').execute();
    const { results, runs } = await race(transact);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled']);
    assert.deepEqual([...runs].sort(), [1, 2]);
    const rows = await db.selectFrom('app_config').select(['key', 'value']).where('app', '=', 't').orderBy('key').execute();
    assert.deepEqual(rows.map((r) => Number(r.value)), before.map((r) => Number(r.value) + 2));
  });

  test('other errors are not retried', async () => {
    let calls = 0;
    await assert.rejects(transact(db, async () => { calls++; throw new Error('boom'); }), /boom/);
    assert.equal(calls, 1);
  });
});
