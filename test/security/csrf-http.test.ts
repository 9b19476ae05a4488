/**
 * CSRF through cached Basic credentials. Every state-changing OCS request needs
 * `OCS-APIREQUEST: true` whatever the authentication, and the Login Flow v2 grant needs the web
 * session and its request token, never Basic credentials. Real HTTP on loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';

const ALICE = { uid: 'alice', password: 'alice-password-1' };
const MALLORY = { uid: 'mallory', password: 'mallory-password-1' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('CSRF: OCS and the Login Flow v2 grant', { timeout: 60_000 }, () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await t.addUser(ALICE.uid, ALICE.password);
    await t.addUser(MALLORY.uid, MALLORY.password);
    await t.app.files.mkdir(ALICE.uid, 'Docs');
  });
  after(async () => { await t?.stop(); });

  /** What a cross-site form post looks like: cached Basic credentials, a form body, no custom header. */
  const forged = (path: string, as: { uid: string; password: string }, body: Record<string, string>, method = 'POST') =>
    t.fetch(path, { method, as, headers: FORM, body: new URLSearchParams(body).toString() });

  test('addUser with the admin\'s Basic credentials but no OCS-APIREQUEST: 412, no user', async () => {
    const r = await forged('/ocs/v2.php/cloud/users?format=json', ADMIN, { userid: 'evil', password: 'evil-password-1', 'groups[]': 'admin' });
    assert.equal(r.status, 412);
    assert.match((await r.json()).ocs.meta.message, /CSRF/);
    assert.equal(await t.app.users.exists('evil'), false);
    // v1 answers a real 412 too, and still creates nothing
    const r1 = await forged('/ocs/v1.php/cloud/users?format=json', ADMIN, { userid: 'evil', password: 'evil-password-1' });
    assert.equal(r1.status, 412);
    await r1.arrayBuffer();
    assert.equal(await t.app.users.exists('evil'), false);
    // the same request from a real client (with the header) works
    const ok = await t.fetch('/ocs/v2.php/cloud/users?format=json', { method: 'POST', headers: { ...FORM, 'OCS-APIREQUEST': 'true' }, body: 'userid=legit&password=legit-password-1' });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    assert.equal(await t.app.users.exists('legit'), true);
  });

  test('sharing a folder to the attacker, changing a password, the recovery endpoint: all 412 without the header', async () => {
    const share = await forged('/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json', ALICE, { path: '/Docs', shareType: '0', shareWith: MALLORY.uid, permissions: '31' });
    assert.equal(share.status, 412);
    await share.arrayBuffer();
    assert.deepEqual(await t.app.shares.list(ALICE.uid, {}), []);
    const pw = await forged(`/ocs/v2.php/cloud/users/${ALICE.uid}?format=json`, ALICE, { key: 'password', value: 'attacker-chosen-1' }, 'PUT');
    assert.equal(pw.status, 412);
    await pw.arrayBuffer();
    await t.app.users.verifyPassword(ALICE.uid, ALICE.password); // unchanged
    const rec = await forged('/ocs/v2.php/apps/encryption/api/v1/recovery?format=json', ALICE, { enabled: '1' });
    assert.equal(rec.status, 412);
    await rec.arrayBuffer();
    const del = await t.fetch('/ocs/v2.php/core/apppassword?format=json', { method: 'DELETE', as: ALICE });
    assert.equal(del.status, 412);
    await del.arrayBuffer();
    // a GET that creates an app password counts as a write (a cross-site <img> could trigger it)
    const gap = await t.fetch('/ocs/v2.php/core/getapppassword?format=json', { as: ALICE });
    assert.equal(gap.status, 412);
    await gap.arrayBuffer();
    assert.deepEqual(await t.app.appPasswords.list(ALICE.uid), []);
    // reads stay open to Basic clients that do not send the header
    const get = await t.fetch('/ocs/v2.php/cloud/user?format=json', { as: ALICE });
    assert.equal(get.status, 200);
    await get.arrayBuffer();
  });

  test('a session cookie counts in OCS only with OCS-APIREQUEST (and its request token for writes)', async () => {
    const s = await t.app.sessions.create(ALICE.uid);
    const cookie = `coffer_session=${s.token}`;
    let r = await fetch(`${t.url}/ocs/v2.php/cloud/user?format=json`, { headers: { cookie } });
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    r = await fetch(`${t.url}/ocs/v2.php/cloud/user?format=json`, { headers: { cookie, 'OCS-APIREQUEST': 'true' } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await fetch(`${t.url}/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json`, { method: 'POST', headers: { cookie, ...FORM }, body: `path=/Docs&shareType=0&shareWith=${MALLORY.uid}` });
    assert.equal(r.status, 412);
    await r.arrayBuffer();
    assert.deepEqual(await t.app.shares.list(ALICE.uid, {}), []);
  });

  test('/login/v2/grant refuses Basic credentials; needs the session and its request token', async () => {
    const start = await (await fetch(`${t.url}/login/v2`, { method: 'POST' })).json();
    const loginToken = /\/login\/v2\/flow\/([A-Za-z0-9_-]+)$/.exec(start.login)![1]!;
    const body = new URLSearchParams({ token: loginToken }).toString();
    // the attack: the victim's browser replays cached Basic credentials on a cross-site form post
    let r = await fetch(`${t.url}/login/v2/grant`, { method: 'POST', headers: { ...FORM, authorization: t.basic(ALICE.uid, ALICE.password), 'OCS-APIREQUEST': 'true' }, body });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), null, 'no Basic challenge: the browser must not be asked for Basic credentials here');
    await r.arrayBuffer();
    const s = await t.app.sessions.create(ALICE.uid);
    const cookie = `coffer_session=${s.token}`;
    r = await fetch(`${t.url}/login/v2/grant`, { method: 'POST', headers: { ...FORM, cookie }, body });
    assert.equal(r.status, 403, 'session without its request token');
    await r.arrayBuffer();
    r = await fetch(`${t.url}/login/v2/grant`, { method: 'POST', headers: { ...FORM, cookie, requesttoken: 'x'.repeat(43) }, body });
    assert.equal(r.status, 403, 'wrong request token');
    await r.arrayBuffer();
    const poll = () => fetch(`${t.url}/login/v2/poll`, { method: 'POST', headers: FORM, body: new URLSearchParams({ token: start.poll.token }).toString() });
    r = await poll();
    assert.equal(r.status, 404, 'nothing was granted');
    await r.arrayBuffer();
    assert.deepEqual(await t.app.appPasswords.list(ALICE.uid), []);
    r = await fetch(`${t.url}/login/v2/grant`, { method: 'POST', headers: { ...FORM, cookie, requesttoken: s.csrfToken }, body });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await poll();
    assert.equal(r.status, 200);
    assert.equal((await r.json()).loginName, ALICE.uid);
  });
});
