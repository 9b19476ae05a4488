/** Runs `./occ` and SIGKILLs it once Coffer's database shows a state, or at a given row (crash tests of the import). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { OCC, ROOT } from '../cli/occ-harness.ts';
import { IMPORT_APP } from '../../src/import/nextcloud-importer.ts';
import type { Coffer } from './nc-fixture.ts';
import { cofferSetting } from './nc-state.ts';

/**
 * Starts `./occ args` on the Coffer installed in `dir` (its SQLite database) with `env`; SIGKILLs
 * it as soon as `when`, polled on that database every 15 ms, holds; resolves how it ended.
 */
export function occKilledWhen(dir: string, env: NodeJS.ProcessEnv, args: string[], when: (db: SQLite.Database) => boolean): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve, reject) => {
    const e = { ...process.env, ...env };
    delete e.NODE_OPTIONS;
    delete e.NODE_TEST_CONTEXT;
    const child = spawn(OCC, args, { cwd: ROOT, env: e, stdio: ['ignore', 'ignore', 'ignore'] });
    const poll = setInterval(() => {
      let db: SQLite.Database | undefined;
      try {
        db = new SQLite(join(dir, 'config', 'coffer.db'), { readonly: true, fileMustExist: true });
        if (when(db)) child.kill('SIGKILL');
      } catch {
        // tables not there yet, or busy: poll again
      } finally {
        db?.close();
      }
    }, 15);
    child.on('error', reject);
    child.on('exit', (code, signal) => { clearInterval(poll); resolve({ killed: signal === 'SIGKILL', code }); });
  });
}

/** Where occKilledAtRow stops a run: the insert that makes `table` hold `nth` rows matching `where` (SQL). */
export interface RowMoment { readonly table: string; readonly nth: number; readonly where?: string }

/**
 * Starts `./occ args` on the Coffer installed in `dir` (its SQLite database) and SIGKILLs it while
 * it inserts the row that makes `at.table` hold `at.nth` rows (matching `at.where`), so exactly
 * nth-1 of them are committed when it dies, however fast or slow the machine. Polling alone cannot
 * promise that when a phase is a handful of rows written within a few milliseconds: here a trigger
 * on that insert runs a long query inside the writer's transaction, which holds the run there
 * (its row uncommitted, the write lock taken) until the poll sees nth-1 rows committed and the lock
 * held for three polls in a row, and kills it. The trigger and its table are dropped afterwards;
 * what the run committed is untouched. Resolves how it ended and the count committed at the kill.
 * @throws Error when the table already holds nth rows or more (the trigger would fire at once)
 */
export async function occKilledAtRow(dir: string, env: NodeJS.ProcessEnv, args: string[], at: RowMoment): Promise<{ killed: boolean; code: number | null; committed: number }> {
  const file = join(dir, 'config', 'coffer.db');
  const db = new SQLite(file, { fileMustExist: true });
  const where = at.where ? ` where ${at.where}` : '';
  const count = () => (db.prepare(`select count(*) as n from "${at.table}"${where}`).get() as { n: number }).n;
  try {
    db.pragma('busy_timeout = 10000');
    const before = count();
    if (before >= at.nth) throw new Error(`${at.table} already holds ${before} rows, the moment (row ${at.nth}) is past`);
    db.exec(`create table kill_hold (x integer);
      insert into kill_hold with recursive s(x) as (select 1 union all select x + 1 from s where x < 1000) select x from s;`);
    // about 10^9 rows to join: tens of seconds, far longer than the poll needs to see the run held
    db.exec(`create trigger kill_hold_at after insert on "${at.table}" when (select count(*) from "${at.table}"${where}) >= ${at.nth}
      begin select count(*) from kill_hold a, kill_hold b, kill_hold c where a.x + b.x + c.x < 0; end;`);
    db.pragma('busy_timeout = 0');
    const writerHeld = () => {
      try {
        db.exec('begin immediate');
        db.exec('rollback');
        return false;
      } catch {
        return true; // SQLITE_BUSY: another connection holds the write lock
      }
    };
    const ended = await new Promise<{ killed: boolean; code: number | null }>((resolve, reject) => {
      const e = { ...process.env, ...env };
      delete e.NODE_OPTIONS;
      delete e.NODE_TEST_CONTEXT;
      const child = spawn(OCC, args, { cwd: ROOT, env: e, stdio: ['ignore', 'ignore', 'ignore'] });
      let held = 0;
      const poll = setInterval(() => {
        try {
          held = count() === at.nth - 1 && writerHeld() ? held + 1 : 0;
        } catch {
          held = 0; // the database busy in a way a read cannot wait for (a checkpoint): poll again
        }
        if (held >= 3) child.kill('SIGKILL');
      }, 15);
      child.on('error', reject);
      child.on('exit', (code, signal) => { clearInterval(poll); resolve({ killed: signal === 'SIGKILL', code }); });
    });
    db.pragma('busy_timeout = 10000');
    db.exec('drop trigger kill_hold_at; drop table kill_hold;');
    return { ...ended, committed: count() };
  } finally {
    db.close();
  }
}

/**
 * Runs `./occ import:nextcloud` (`args`) on `coffer` killed at `at` (occKilledAtRow) and asserts
 * what such a kill must leave: the rows before that one, the import marked as begun (source
 * `instanceId`) and not completed, and maintenance mode on.
 */
export async function killImportAt(coffer: Coffer, args: string[], env: NodeJS.ProcessEnv, at: RowMoment, instanceId: string): Promise<void> {
  const k = await occKilledAtRow(coffer.dir, { ...coffer.env, ...env }, args, at);
  assert.ok(k.killed, `the run was killed at row ${at.nth} of ${at.table} (exit ${k.code})`);
  assert.equal(k.committed, at.nth - 1, `${at.table}: the rows before the held one, and no more`);
  assert.equal(cofferSetting(coffer.dir, IMPORT_APP, 'instanceid'), instanceId, 'the import is marked as begun');
  assert.equal(cofferSetting(coffer.dir, IMPORT_APP, 'completed'), undefined, 'and not completed');
  assert.equal(cofferSetting(coffer.dir, 'core', 'maintenance'), '1', 'maintenance mode on while an import is unfinished');
}
