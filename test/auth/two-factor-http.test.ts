/**
 * Two-factor login over real HTTP: TOTP enrolment through the personal-settings API (a verified
 * code before it counts, the secret sealed in the database), the second step of the web login
 * (codes once, backup codes once, wrong codes throttled), Login Flow v2's browser grant, password-
 * only Basic auth refused for enrolled and enforced users while app passwords work, and the occ
 * commands twofactorauth:enforce/state/disable as real processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { occ } from '../cli/occ-harness.ts';
import { perUserInstance } from '../user-keys/helpers.ts';
import { formToken, Jar, Phone, postCode, postPassword } from './two-factor-support.ts';

const BOB = { uid: 'bob', password: 'bob-password-123' };
const CAROL = { uid: 'carol', password: 'carol-password-123' };
const DAVE = { uid: 'dave', password: 'dave-password-123' };

/** A logged-in web session (no second factor yet) with its CSRF token. */
async function webSession(t: TestInstance, u: { uid: string; password: string }): Promise<{ jar: Jar; api: (path: string, body?: unknown) => Promise<Response> }> {
  const jar = new Jar();
  const r = await postPassword(jar, t.url, u.uid, u.password);
  assert.equal(r.status, 303);
  assert.ok(jar.get('coffer_session'), 'session cookie');
  const s = await (await jar.fetch(`${t.url}/web/api/session`)).json() as { csrfToken: string };
  const api = (path: string, body?: unknown) => jar.fetch(`${t.url}/web/api/${path}`, body === undefined
    ? { method: 'GET' }
    : { method: 'POST', headers: { 'content-type': 'application/json', requesttoken: s.csrfToken }, body: JSON.stringify(body) });
  return { jar, api };
}

/** Enrols `u` through the web API; returns the phone holding the secret. */
async function enrol(t: TestInstance, u: { uid: string; password: string }): Promise<Phone> {
  const { api } = await webSession(t, u);
  const begin = await (await api('me/two-factor/totp', {})).json() as { secret: string };
  const phone = new Phone(begin.secret);
  assert.equal((await api('me/two-factor/totp/verify', { code: await phone.code() })).status, 200);
  return phone;
}

const propfind = (t: TestInstance, uid: string, password: string) => fetch(`${t.url}/remote.php/dav/files/${uid}/`, {
  method: 'PROPFIND', headers: { authorization: t.basic(uid, password), depth: '0' },
});
const ocsUser = (t: TestInstance, uid: string, password: string) => fetch(`${t.url}/ocs/v2.php/cloud/user?format=json`, {
  headers: { authorization: t.basic(uid, password), 'OCS-APIREQUEST': 'true' },
});

describe('two-factor login over HTTP', { timeout: 300_000 }, () => {
  let t: TestInstance;
  let bob: Phone;
  before(async () => {
    t = await startTestInstance();
    for (const u of [BOB, CAROL, DAVE]) await t.addUser(u.uid, u.password);
  });
  after(async () => { await t?.stop(); });

  test('enrolment: QR and secret, nothing counts before a verified code, the secret is stored sealed', async () => {
    const { api } = await webSession(t, BOB);
    const begin = await (await api('me/two-factor/totp', {})).json() as { secret: string; uri: string; qr: string };
    assert.match(begin.secret, /^[A-Z2-7]{32}$/);
    assert.ok(begin.uri.startsWith('otpauth://totp/Coffer:bob?'), begin.uri);
    assert.match(begin.uri, new RegExp(`secret=${begin.secret}`));
    assert.match(begin.qr, /^data:image\/gif;base64,/);
    let st = await (await api('me/two-factor')).json() as { totp: boolean; totpPending: boolean };
    assert.deepEqual([st.totp, st.totpPending], [false, true]);
    // Pending only: the password still works everywhere (and is now in the credential cache).
    assert.equal((await propfind(t, BOB.uid, BOB.password)).status, 207);

    const phone = new Phone(begin.secret);
    const wrong = await api('me/two-factor/totp/verify', { code: phone.wrongCode() });
    assert.equal(wrong.status, 400);
    assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'wrong-code');
    assert.equal((await api('me/two-factor/totp/verify', { code: '12345x' })).status, 400);
    st = await (await api('me/two-factor')).json() as typeof st;
    assert.equal(st.totp, false, 'a wrong code enables nothing');

    assert.equal((await api('me/two-factor/totp/verify', { code: await phone.code() })).status, 200);
    st = await (await api('me/two-factor')).json() as typeof st;
    assert.deepEqual([st.totp, st.totpPending], [true, false]);
    assert.equal((await api('me/two-factor/totp', {})).status, 409, 'no silent re-enrolment while enabled');
    bob = phone;

    const row = await t.app.db.selectFrom('two_factor_totp').selectAll().where('uid', '=', 'bob').executeTakeFirstOrThrow();
    assert.ok(!row.secret_sealed.includes(begin.secret), 'secret not stored in clear');
    assert.ok(!Buffer.from(row.secret_sealed.slice(3), 'base64url').toString('latin1').includes(begin.secret));
    const audit = readFileSync(join(t.dataDir, 'audit.log'), 'utf8');
    assert.match(audit, /twofactor\.enabled/);
    assert.ok(!audit.includes(begin.secret), 'secret never in the audit log');
  });

  test('password-only Basic auth is refused for an enrolled user (DAV, OCS, login flow grant); an app password works', async () => {
    // The password was cached by the PROPFIND before enrolment: the cache must not let it in either.
    const dav = await propfind(t, BOB.uid, BOB.password);
    assert.equal(dav.status, 401);
    assert.equal((await ocsUser(t, BOB.uid, BOB.password)).status, 401);
    // Answered exactly like a wrong password (no oracle for the password or the enrolment).
    const wrongPw = await propfind(t, BOB.uid, 'not-the-password');
    assert.equal(wrongPw.status, 401);
    assert.equal(await dav.text(), await wrongPw.text());

    const flow = await (await fetch(`${t.url}/login/v2`, { method: 'POST' })).json() as { login: string };
    const loginToken = flow.login.split('/').pop()!;
    const grant = await fetch(`${t.url}/login/v2/grant`, {
      method: 'POST', headers: { authorization: t.basic(BOB.uid, BOB.password), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: loginToken }).toString(),
    });
    assert.equal(grant.status, 401);

    const { token } = await t.app.appPasswords.create('bob', 'test client');
    assert.equal((await propfind(t, BOB.uid, token)).status, 207);
    assert.equal((await ocsUser(t, BOB.uid, token)).status, 200);
    // Others are unaffected.
    assert.equal((await propfind(t, DAVE.uid, DAVE.password)).status, 207);
  });

  test('web login: no session after the password; a right code once; a wrong or replayed code refused', async () => {
    const jar = new Jar();
    const r = await postPassword(jar, t.url, BOB.uid, BOB.password, '/apps/files');
    assert.equal(r.status, 303);
    const loc = r.headers.get('location')!;
    assert.equal(loc, '/login/challenge?redirect_url=%2Fapps%2Ffiles');
    assert.equal(jar.get('coffer_session'), undefined, 'no session before the second factor');
    assert.equal(jar.get('coffer_device'), undefined, 'no known-device cookie before the second factor');
    assert.equal((await jar.fetch(`${t.url}/web/api/session`)).status, 401);
    const challenge = await (await jar.fetch(t.url + loc)).text();
    assert.match(challenge, /<label for="code">Authentication code<\/label>/);
    assert.doesNotMatch(challenge, /<script|style=/);

    const bad = await postCode(jar, t.url, loc, bob.wrongCode());
    assert.equal(bad.status, 401);
    assert.match(await bad.text(), /Wrong or already used code/);
    assert.equal(jar.get('coffer_session'), undefined);
    // The form token is bound to the pending cookie: without it, nothing is checked.
    const noToken = await jar.post(t.url + loc, { code: '000000' });
    assert.equal(noToken.status, 403);

    const code = await bob.code();
    const ok = await postCode(jar, t.url, loc, code);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/apps/files');
    assert.ok(jar.get('coffer_session'));
    assert.equal(jar.get('coffer_2fa'), undefined, 'pending cookie cleared');
    assert.ok(jar.get('coffer_device'), 'the browser is a known device once both factors passed (docs/BRUTEFORCE.md)');
    assert.equal((await jar.fetch(`${t.url}/web/api/session`)).status, 200);

    // The same code again (same time step) from another browser: refused.
    const jar2 = new Jar();
    const loc2 = (await postPassword(jar2, t.url, BOB.uid, BOB.password)).headers.get('location')!;
    assert.equal((await postCode(jar2, t.url, loc2, code)).status, 401);
    assert.equal(jar2.get('coffer_session'), undefined);
    // A forged pending cookie gets nowhere.
    const forged = new Jar();
    const res = await forged.fetch(`${t.url}/login/challenge`, { headers: { cookie: `coffer_2fa=${Buffer.from('{"u":"bob","e":9999999999}').toString('base64url')}.AAAA` } });
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location')!, /^\/login/);
  });

  test('backup codes: generated once, stored hashed, each usable once; regenerating invalidates the old set', async () => {
    // A web session of bob (password + code), to generate codes.
    const jar = new Jar();
    const loc = (await postPassword(jar, t.url, BOB.uid, BOB.password)).headers.get('location')!;
    assert.equal((await postCode(jar, t.url, loc, await bob.code())).status, 303);
    const csrf = ((await (await jar.fetch(`${t.url}/web/api/session`)).json()) as { csrfToken: string }).csrfToken;
    const gen = () => jar.fetch(`${t.url}/web/api/me/two-factor/backup-codes`, { method: 'POST', headers: { requesttoken: csrf } });
    const first = (await (await gen()).json() as { codes: string[] }).codes;
    assert.equal(first.length, 10);
    assert.equal(new Set(first).size, 10);
    const rows = await t.app.db.selectFrom('two_factor_backup_codes').select('code_hash').where('uid', '=', 'bob').execute();
    assert.equal(rows.length, 10);
    for (const c of first) assert.ok(!rows.some((r) => r.code_hash.includes(c)));

    const useBackup = async (code: string) => {
      const j = new Jar();
      const l = (await postPassword(j, t.url, BOB.uid, BOB.password)).headers.get('location')!;
      const r = await postCode(j, t.url, l, code);
      return { status: r.status, session: j.get('coffer_session') };
    };
    // As typed by a person: lower case, with a dash.
    const typed = `${first[0]!.slice(0, 6).toLowerCase()}-${first[0]!.slice(6).toLowerCase()}`;
    const used = await useBackup(typed);
    assert.equal(used.status, 303);
    assert.ok(used.session);
    assert.equal((await useBackup(first[0]!)).status, 401, 'a backup code works once');
    const st = await (await jar.fetch(`${t.url}/web/api/me/two-factor`)).json() as { backupCodes: { total: number; remaining: number } };
    assert.deepEqual(st.backupCodes, { total: 10, remaining: 9 });

    const second = (await (await gen()).json() as { codes: string[] }).codes;
    assert.equal((await useBackup(first[1]!)).status, 401, 'the old set is gone');
    assert.equal((await useBackup(second[0]!)).status, 303);
  });

  test('Login Flow v2: the browser grant asks for the second factor; the client gets a working app password', async () => {
    const flow = await (await fetch(`${t.url}/login/v2`, { method: 'POST' })).json() as { login: string; poll: { token: string; endpoint: string } };
    const flowPath = new URL(flow.login).pathname;
    const jar = new Jar();
    const page = await jar.fetch(t.url + flowPath);
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), `/login?redirect_url=${encodeURIComponent(flowPath)}`);
    const pw = await postPassword(jar, t.url, BOB.uid, BOB.password, flowPath);
    const loc = pw.headers.get('location')!;
    assert.ok(loc.startsWith('/login/challenge?'), loc);
    assert.equal((await jar.fetch(t.url + flowPath)).status, 303, 'no grant page before the code');
    const ok = await postCode(jar, t.url, loc, await bob.code());
    assert.equal(ok.headers.get('location'), flowPath);
    const grantPage = await (await jar.fetch(t.url + flowPath)).text();
    const granted = await jar.post(t.url + flowPath, { requesttoken: formToken(grantPage) });
    assert.equal(granted.status, 200);
    const polled = await (await fetch(flow.poll.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${flow.poll.token}` })).json() as { loginName: string; appPassword: string };
    assert.equal(polled.loginName, 'bob');
    assert.equal((await propfind(t, 'bob', polled.appPassword)).status, 207);
  });

  test('occ twofactorauth:state/enforce/disable (Nextcloud output); enforcement refuses password-only Basic auth and makes the web login set TOTP up', async () => {
    const env = { COFFER_CONFIG: t.configPath };
    let r = await occ(['twofactorauth:state', 'bob'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Two-factor authentication is enabled for user bob\n\nEnabled providers:\n- totp\n- backup_codes\n');
    r = await occ(['twofactorauth:state', 'dave'], env);
    assert.equal(r.stdout, 'Two-factor authentication is not enabled for user dave\n\nDisabled providers:\n- totp\n- backup_codes\n');
    r = await occ(['twofactorauth:state', 'bob', '--output=json'], env);
    assert.deepEqual(JSON.parse(r.stdout).providers, { totp: true, backup_codes: true });
    r = await occ(['twofactorauth:state', 'nobody'], env);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /Invalid UID/);

    r = await occ(['twofactorauth:enforce'], env);
    assert.equal(r.stdout, 'Two-factor authentication is not enforced\n');
    r = await occ(['twofactorauth:enforce', '--on', '--off'], env);
    assert.equal(r.code, 2);
    r = await occ(['twofactorauth:enforce', '--on', '--group', 'nosuch'], env);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /Group "nosuch" does not exist/);
    assert.equal((await occ(['twofactorauth:enforce'], env)).stdout, 'Two-factor authentication is not enforced\n', 'bad input changes nothing');

    await t.app.groups.create('staff');
    await t.app.groups.create('interns');
    await t.app.groups.addUser('staff', 'carol');
    await t.app.groups.addUser('staff', 'dave');
    await t.app.groups.addUser('interns', 'dave');
    r = await occ(['twofactorauth:enforce', '--on', '--group', 'staff', '--exclude', 'interns'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Two-factor authentication is enforced for members of the group(s) staff, except members of interns\n');

    // carol is covered and has not enrolled: no password-only Basic auth; dave is excluded.
    assert.equal((await propfind(t, CAROL.uid, CAROL.password)).status, 401);
    assert.equal((await propfind(t, DAVE.uid, DAVE.password)).status, 207);
    // carol's web login: the second step is the TOTP setup; a verified code enables it and logs her in.
    const jar = new Jar();
    const loc = (await postPassword(jar, t.url, CAROL.uid, CAROL.password)).headers.get('location')!;
    const setup = await (await jar.fetch(t.url + loc)).text();
    assert.match(setup, /Set up two-factor authentication/);
    assert.match(setup, /<img class="qr" src="data:image\/gif;base64,/);
    const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(setup)![1]!;
    const carol = new Phone(secret);
    const wrong = await jar.post(t.url + loc, { code: carol.wrongCode(), requesttoken: formToken(setup) });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), new RegExp(`<code id="totp-secret">${secret}</code>`), 'the same secret is shown again');
    const ok = await postCode(jar, t.url, loc, await carol.code());
    assert.equal(ok.status, 303);
    assert.ok(jar.get('coffer_session'));
    assert.equal(await t.app.twoFactor.isEnabled('carol'), true);

    r = await occ(['twofactorauth:enforce', '--on'], env);
    assert.equal(r.stdout, 'Two-factor authentication is enforced for all users\n');
    r = await occ(['twofactorauth:enforce', '--off'], env);
    assert.equal(r.stdout, 'Two-factor authentication is not enforced\n');
    assert.equal((await propfind(t, DAVE.uid, DAVE.password)).status, 207);

    r = await occ(['twofactorauth:disable', 'bob', 'sms'], env);
    assert.equal(r.code, 2);
    assert.equal((await propfind(t, BOB.uid, BOB.password)).status, 401, 'unknown provider changed nothing');
    const midway = new Jar();
    const midLoc = (await postPassword(midway, t.url, BOB.uid, BOB.password)).headers.get('location')!;
    r = await occ(['twofactorauth:disable', 'bob', 'totp'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Two-factor provider totp disabled for user bob.\n');
    // A login that passed the password before: no setup forced on bob, he logs in again.
    const mid = await midway.fetch(t.url + midLoc);
    assert.equal(mid.status, 303);
    assert.equal(mid.headers.get('location'), '/login?redirect_url=%2F');
    assert.equal(await t.app.twoFactor.isEnabled('bob'), false);
    assert.equal((await propfind(t, BOB.uid, BOB.password)).status, 207, 'the password works again');
    r = await occ(['twofactorauth:disable', 'carol'], env);
    assert.equal(r.stdout, 'Two-factor authentication disabled for user carol (totp).\n');
    r = await occ(['twofactorauth:disable', 'nobody'], env);
    assert.equal(r.code, 4);
  });
});

describe('two-factor: wrong codes count in the brute-force throttle', { timeout: 120_000 }, () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance({ throttle: { maxIpAttempts: 3, maxClientAttempts: 3, baseDelayMs: 1 } });
    await t.addUser(BOB.uid, BOB.password);
  });
  after(async () => { await t?.stop(); });

  test('three wrong codes, then even the right code gets 429 with Retry-After', async () => {
    const phone = await enrol(t, BOB);
    const jar = new Jar();
    const loc = (await postPassword(jar, t.url, BOB.uid, BOB.password)).headers.get('location')!;
    for (let i = 0; i < 3; i++) assert.equal((await postCode(jar, t.url, loc, phone.wrongCode())).status, 401);
    const r = await postCode(jar, t.url, loc, await phone.code());
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.match(await r.text(), /Too many failed attempts/);
    assert.equal(jar.get('coffer_session'), undefined);
    const audit = readFileSync(join(t.dataDir, 'audit.log'), 'utf8');
    assert.match(audit, /"reason":"wrong-code"/);
  });
});

describe('two-factor on PostgreSQL: enrolment, a code accepted once even in parallel, backup codes once', { timeout: 180_000 }, () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance({ db: 'pgsql' });
    await t.addUser(BOB.uid, BOB.password);
  });
  after(async () => { await t?.stop(); });

  test('the conditional updates hold on PostgreSQL', async () => {
    const { api } = await webSession(t, BOB);
    // Two enrolment starts: the second replaces the pending secret.
    await api('me/two-factor/totp', {});
    const begin = await (await api('me/two-factor/totp', {})).json() as { secret: string };
    const phone = new Phone(begin.secret);
    assert.equal((await api('me/two-factor/totp/verify', { code: await phone.code() })).status, 200);
    assert.equal((await api('me/two-factor/totp', {})).status, 409, 'an enabled secret is not replaced');
    assert.equal((await propfind(t, BOB.uid, BOB.password)).status, 401);

    // Three browsers passed the password; the same fresh code is posted by all at once: one wins.
    const jars = [new Jar(), new Jar(), new Jar()];
    const pages: { jar: Jar; loc: string; token: string }[] = [];
    for (const jar of jars) {
      const loc = (await postPassword(jar, t.url, BOB.uid, BOB.password)).headers.get('location')!;
      pages.push({ jar, loc, token: formToken(await (await jar.fetch(t.url + loc)).text()) });
    }
    const code = await phone.code();
    const results = await Promise.all(pages.map((p) => p.jar.post(t.url + p.loc, { code, requesttoken: p.token })));
    assert.deepEqual(results.map((r) => r.status).sort(), [303, 401, 401]);

    const s = await webSession(t, BOB).catch(() => undefined);
    assert.equal(s, undefined, 'no session from the password alone');
    const jar = pages[results.findIndex((r) => r.status === 303)]!.jar;
    const csrf = ((await (await jar.fetch(`${t.url}/web/api/session`)).json()) as { csrfToken: string }).csrfToken;
    const codes = ((await (await jar.fetch(`${t.url}/web/api/me/two-factor/backup-codes`, { method: 'POST', headers: { requesttoken: csrf } })).json()) as { codes: string[] }).codes;
    const two = [new Jar(), new Jar()];
    const locs = await Promise.all(two.map(async (j) => (await postPassword(j, t.url, BOB.uid, BOB.password)).headers.get('location')!));
    const tokens = await Promise.all(two.map(async (j, i) => formToken(await (await j.fetch(t.url + locs[i])).text())));
    const both = await Promise.all(two.map((j, i) => j.post(t.url + locs[i], { code: codes[0]!, requesttoken: tokens[i]! })));
    assert.deepEqual(both.map((r) => r.status).sort(), [303, 401], 'a backup code works once, also in parallel');

    // Turning it off in settings needs the password; a wrong one changes nothing.
    const off = (password: string) => jar.fetch(`${t.url}/web/api/me/two-factor/disable`, {
      method: 'POST', headers: { requesttoken: csrf, 'content-type': 'application/json' }, body: JSON.stringify({ password }),
    });
    assert.equal((await jar.fetch(`${t.url}/web/api/me/two-factor/disable`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: BOB.password }) })).status, 403, 'CSRF');
    assert.equal((await off('wrong-password')).status, 403);
    assert.equal((await off('')).status, 400);
    assert.equal(await t.app.twoFactor.isEnabled('bob'), true);
    const done = await off(BOB.password);
    assert.equal(done.status, 200);
    assert.deepEqual(((await done.json()) as { disabled: string[] }).disabled, ['totp', 'backup_codes']);
    assert.equal((await propfind(t, BOB.uid, BOB.password)).status, 207, 'the password works again');
    const rows = await t.app.db.selectFrom('two_factor_backup_codes').select('id').where('uid', '=', 'bob').execute();
    assert.equal(rows.length, 0);
  });
});

describe('two-factor with per-user encryption keys', { timeout: 180_000 }, () => {
  let t: TestInstance;
  before(async () => {
    t = await perUserInstance();
    await t.addUser(BOB.uid, BOB.password);
  });
  after(async () => { await t?.stop(); });

  test('a session that passed the second factor reads the files (the key unlocked by the password step)', async () => {
    const put = await t.fetch('/remote.php/dav/files/bob/notes.txt', { method: 'PUT', body: 'secret notes', as: BOB });
    assert.equal(put.status, 201);
    const phone = await enrol(t, BOB);
    t.app.userKeys.session.lock('bob'); // as after a restart: nothing unlocked in memory
    const jar = new Jar();
    const loc = (await postPassword(jar, t.url, BOB.uid, BOB.password)).headers.get('location')!;
    assert.equal((await postCode(jar, t.url, loc, await phone.code())).status, 303);
    const read = await jar.fetch(`${t.url}/remote.php/dav/files/bob/notes.txt`);
    assert.equal(read.status, 200);
    assert.equal(await read.text(), 'secret notes');
  });
});
