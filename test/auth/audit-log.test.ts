import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { tempDir } from './helpers.ts';

describe('AuditLog', () => {
  it('appends JSON lines without secrets and reads them back filtered', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'data', 'audit.log');
      const log = new AuditLog(path);
      assert.deepEqual(await collect(log.read()), [], 'no file yet');
      await log.loginSuccess({ uid: 'alice', ip: '127.0.0.1', method: 'basic' });
      await log.loginFailure({ uid: 'bob', ip: '10.0.0.1', method: 'basic' });
      await new Promise((r) => setTimeout(r, 5));
      const mid = Date.now();
      await new Promise((r) => setTimeout(r, 5));
      await log.record('user.password_changed', { uid: 'alice', by: 'admin', password: 'hunter2', appPassword: 'X', token: 't', secret: 's', loginPassword: 'p', key: 'quota' });
      await log.loginThrottled({ uid: 'bob', ip: '10.0.0.1', method: 'basic', retryAfter: 30 });
      const text = readFileSync(path, 'utf8');
      assert.equal(text.split('\n').filter(Boolean).length, 4);
      for (const secret of ['hunter2', '"X"', '"t"', '"s"', '"p"']) assert.ok(!text.includes(secret), `no ${secret}`);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const all = await collect(log.read());
      assert.deepEqual(all.map((e) => e.event), ['login.success', 'login.failure', 'user.password_changed', 'login.throttled']);
      assert.equal(all[2].key, 'quota');
      assert.ok(!Number.isNaN(Date.parse(all[0].ts)));
      assert.deepEqual((await collect(log.read({ user: 'bob' }))).map((e) => e.event), ['login.failure', 'login.throttled']);
      assert.deepEqual((await collect(log.read({ since: mid }))).map((e) => e.event), ['user.password_changed', 'login.throttled']);
      await log.close();
      // a second writer (another process) appends to the same file
      const log2 = new AuditLog(path);
      await log2.record('admin.command', { uid: 'admin', command: 'user:add' });
      assert.equal((await collect(log2.read())).length, 5);
      await log2.close();
    } finally {
      cleanup();
    }
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
