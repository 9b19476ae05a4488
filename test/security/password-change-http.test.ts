/**
 * Password changes: an app password cannot change the login password, and a password
 * change needs the current one; a password change or reset by any path (web, OCS, ./occ) ends the
 * user's other web sessions. Real HTTP on loopback, real ./occ processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { occ } from '../cli/occ-harness.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded', 'OCS-APIREQUEST': 'true' };

describe('password changes', { timeout: 120_000 }, () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t?.stop(); });

  /** Whether a web session cookie still works. */
  const sessionAlive = async (token: string) => {
    const r = await fetch(`${t.url}/web/api/session`, { headers: { cookie: `coffer_session=${token}` } });
    await r.arrayBuffer();
    return r.status === 200;
  };
  const ocsPassword = (uid: string, as: { uid: string; password: string }, value: string, extra: Record<string, string> = {}) =>
    t.fetch(`/ocs/v2.php/cloud/users/${uid}?format=json`, { method: 'PUT', as, headers: FORM, body: new URLSearchParams({ key: 'password', value, ...extra }).toString() });
  const passwordIs = (uid: string, pw: string) => t.app.users.verifyPassword(uid, pw).then(() => true, () => false);

  test('OCS: an app password cannot change the login password; the login password can', async () => {
    await t.addUser('amy', 'amy-password-1');
    const { token } = await t.app.appPasswords.create('amy', 'phone');
    let r = await ocsPassword('amy', { uid: 'amy', password: token }, 'stolen-phone-pw-1');
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    assert.ok(await passwordIs('amy', 'amy-password-1'), 'unchanged');
    r = await ocsPassword('amy', { uid: 'amy', password: 'amy-password-1' }, 'amy-password-2');
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.ok(await passwordIs('amy', 'amy-password-2'));
    r = await t.fetch('/ocs/v2.php/cloud/user?format=json', { as: { uid: 'amy', password: token } });
    assert.equal(r.status, 200, 'the app password itself stays valid, as in Nextcloud');
    await r.arrayBuffer();
  });

  test('OCS with a web session: the current password is required', async () => {
    await t.addUser('bea', 'bea-password-1');
    const s = await t.app.sessions.create('bea');
    const viaSession = (extra: Record<string, string>) => fetch(`${t.url}/ocs/v2.php/cloud/users/bea?format=json`, {
      method: 'PUT', headers: { ...FORM, cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken },
      body: new URLSearchParams({ key: 'password', value: 'bea-password-2', ...extra }).toString(),
    });
    for (const extra of [{}, { currentPassword: 'wrong-guess' }] as Record<string, string>[]) {
      const r = await viaSession(extra);
      assert.equal(r.status, 403, JSON.stringify(extra));
      await r.arrayBuffer();
      assert.ok(await passwordIs('bea', 'bea-password-1'));
    }
    await t.app.throttle.registerSuccess('127.0.0.1', 'bea');
    const r = await viaSession({ currentPassword: 'bea-password-1' });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.ok(await passwordIs('bea', 'bea-password-2'));
  });

  test('the web admin page cannot set the admin\'s own password without the current one', async () => {
    const s = await t.app.sessions.create(ADMIN.uid);
    const r = await fetch(`${t.url}/web/api/users/${ADMIN.uid}/password`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken },
      body: JSON.stringify({ password: 'taken-over-1' }),
    });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    assert.ok(await passwordIs(ADMIN.uid, ADMIN.password));
  });

  test('an admin reset through OCS ends the user\'s web sessions', async () => {
    await t.addUser('cat', 'cat-password-1');
    const a = await t.app.sessions.create('cat');
    const b = await t.app.sessions.create('cat');
    assert.ok(await sessionAlive(a.token));
    const r = await ocsPassword('cat', ADMIN, 'cat-password-2');
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.equal(await sessionAlive(a.token), false);
    assert.equal(await sessionAlive(b.token), false);
    assert.deepEqual(await t.app.sessions.list('cat'), []);
  });

  test('an own change through OCS ends the web sessions too', async () => {
    await t.addUser('dan', 'dan-password-1');
    const a = await t.app.sessions.create('dan');
    const r = await ocsPassword('dan', { uid: 'dan', password: 'dan-password-1' }, 'dan-password-2');
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.equal(await sessionAlive(a.token), false);
  });

  test('./occ user:resetpassword ends the user\'s web sessions', async () => {
    await t.addUser('eve', 'eve-password-1');
    const a = await t.app.sessions.create('eve');
    assert.ok(await sessionAlive(a.token));
    const res = await occ(['user:resetpassword', '--password-from-env', 'eve'], { COFFER_CONFIG: t.configPath, OC_PASS: 'eve-password-2' });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await sessionAlive(a.token), false);
    assert.ok(await passwordIs('eve', 'eve-password-2'));
  });

  test('the web UI change keeps the current session and ends the others', async () => {
    await t.addUser('fay', 'fay-password-1');
    const mine = await t.app.sessions.create('fay');
    const other = await t.app.sessions.create('fay');
    const r = await fetch(`${t.url}/web/api/me/password`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie: `coffer_session=${mine.token}`, requesttoken: mine.csrfToken },
      body: JSON.stringify({ current: 'fay-password-1', password: 'fay-password-2' }),
    });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).otherSessionsEnded, 1);
    assert.ok(await sessionAlive(mine.token));
    assert.equal(await sessionAlive(other.token), false);
  });
});
