/**
 * The recovery key password is a password too, and throttled like one: an admin reset with a
 * recovery password is counted as an attempt before the check, so parallel guesses beyond the
 * client's budget are refused unchecked (429), as on every login path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN } from '../support/test-instance.ts';
import { ocs, perUserInstance, put } from './helpers.ts';

const ALICE = { uid: 'alice', password: 'alice-password-1' };

test('recovery key password guesses (OCS admin reset) are throttled: at most the budget is checked', async () => {
  const inst = await perUserInstance();
  try {
    await inst.addUser(ALICE.uid, ALICE.password);
    await inst.app.userKeys.recovery.enable('recovery-pw-1');
    assert.equal((await put(inst, ALICE, 'f.txt', 'content')).status, 201);
    assert.equal((await ocs(inst, ALICE, 'POST', 'apps/encryption/api/v1/recovery', { enabled: '1' })).status, 200);
    assert.equal((await ocs(inst, ADMIN, 'GET', 'cloud/user')).status, 200);
    const budget = 10; // the default budget of a known client (the admin has logged in from here)
    const rs = await Promise.all(Array.from({ length: budget + 6 }, (_, i) =>
      ocs(inst, ADMIN, 'PUT', 'cloud/users/alice', { key: 'password', value: 'second-pw-2', recoveryPassword: `guess-${i}` })));
    const statuses = rs.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 403).length, budget, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 6, statuses.join(','));
    const right = await ocs(inst, ADMIN, 'PUT', 'cloud/users/alice', { key: 'password', value: 'second-pw-2', recoveryPassword: 'recovery-pw-1' });
    assert.equal(right.status, 429, 'the right one after them is refused unchecked');
  } finally {
    await inst.stop();
  }
});
