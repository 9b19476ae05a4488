/**
 * Short form of `npm run loadtest` for CI: 8 keep-alive clients × 5 s of mixed PUT/GET/PROPFIND/
 * MOVE/COPY/DELETE on an encrypted instance, then contended PUTs and LOCK/PUT/UNLOCK, on SQLite
 * and PostgreSQL. No 5xx, no unexpected status, no corrupted byte.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResult, runLoad } from '../../bench/loadtest-core.ts';
import { encryptionSkipReason } from '../support/encryption-enabler.ts';

const skip = await encryptionSkipReason();

describe('load (short form)', { skip, timeout: 180_000 }, () => {
  for (const db of ['sqlite', 'pgsql'] as const) {
    test(`${db}: 8 clients × 5 s, no error, no corrupted byte`, async () => {
      const r = await runLoad({ db, clients: 8, seconds: 5 });
      console.log(formatResult(r).split('\n').map((l) => `# ${l}`).join('\n'));
      assert.deepEqual(r.errors, []);
      assert.ok(r.perMethod.GET && r.perMethod.GET.count > 0 && r.perMethod.PUT!.count > 0);
      assert.equal(r.contendedRounds, 5);
      assert.ok(r.lockChecks > 0);
    });
  }
});
