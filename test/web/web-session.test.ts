/**
 * The web UI's server side without a browser: login form (CSRF, cookie attributes, redirects),
 * security headers, session API and CSRF on writes, `authenticateSession`, logout, assets, expiry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SessionService } from '../../src/auth/session-service.ts';
import { authenticateSession, cookieHeader, isSecureRequest } from '../../src/web/session-auth.ts';
import { ADMIN, startTestInstance, writeTestConfig, type TestInstance } from '../support/test-instance.ts';
import { rmSync } from 'node:fs';
import { openApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';
import { ensureWebBuilt } from './browser-support.ts';

function setCookies(res: Response): string[] {
  return res.headers.getSetCookie();
}
function cookieValue(list: string[], name: string): string | undefined {
  const c = list.find((x) => x.startsWith(`${name}=`));
  return c?.slice(name.length + 1).split(';')[0];
}

/** GET /login, then POST the form; returns the response of the POST. */
async function postLogin(t: TestInstance, user: string, password: string, redirectUrl = '/'): Promise<Response> {
  const page = await fetch(`${t.url}/login`);
  const html = await page.text();
  const csrf = /name="requesttoken" value="([^"]+)"/.exec(html)![1]!;
  const nonce = cookieValue(setCookies(page), 'coffer_login_csrf')!;
  return fetch(`${t.url}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `coffer_login_csrf=${nonce}` },
    body: new URLSearchParams({ user, password, requesttoken: csrf, redirect_url: redirectUrl }).toString(),
  });
}

function fakeReq(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage;
}

describe('web UI server side', { timeout: 120_000 }, () => {
  let t: TestInstance;
  before(async () => { ensureWebBuilt(); t = await startTestInstance(); });
  after(async () => { await t?.stop(); });

  test('the login page carries the security headers and a login CSRF cookie', async () => {
    const res = await fetch(`${t.url}/login`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy')!, /default-src 'self'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const html = await res.text();
    assert.match(html, /<label for="user">Username<\/label>/);
    assert.match(html, /<label for="password">Password<\/label>/);
    assert.match(html, />Log in<\/button>/);
    assert.doesNotMatch(html, /<script|style=/, 'no inline code under the CSP');
    const c = setCookies(res).find((x) => x.startsWith('coffer_login_csrf='))!;
    assert.match(c, /HttpOnly/);
    assert.match(c, /SameSite=Strict/);
  });

  test('a login POST without the CSRF token is refused', async () => {
    const res = await fetch(`${t.url}/login`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user: ADMIN.uid, password: ADMIN.password }).toString(),
    });
    assert.equal(res.status, 403);
    assert.equal(cookieValue(setCookies(res), 'coffer_session'), undefined);
  });

  test('wrong password: 401 and no session; right password: a hashed 256-bit session cookie', async () => {
    const bad = await postLogin(t, ADMIN.uid, 'nope');
    assert.equal(bad.status, 401);
    assert.match(await bad.text(), /Wrong login or password/);
    const ok = await postLogin(t, ADMIN.uid, ADMIN.password, '/settings/apps');
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/settings/apps');
    const raw = setCookies(ok).find((x) => x.startsWith('coffer_session='))!;
    assert.match(raw, /; Path=\//);
    assert.match(raw, /; HttpOnly/);
    assert.match(raw, /; SameSite=Lax/);
    assert.doesNotMatch(raw, /Secure/, 'no Secure flag over plain HTTP');
    const token = cookieValue([raw], 'coffer_session')!;
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    const rows = await t.app.db.selectFrom('web_sessions').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.token_hash, createHash('sha256').update(token).digest('hex'));
    assert.ok(!JSON.stringify(rows).includes(token), 'the cookie value is not stored');
  });

  test('redirect targets stay on this site', async () => {
    for (const evil of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
      const res = await postLogin(t, ADMIN.uid, ADMIN.password, evil);
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/');
    }
  });

  test('the session API and CSRF on every write', async () => {
    const res = await postLogin(t, ADMIN.uid, ADMIN.password);
    const token = cookieValue(setCookies(res), 'coffer_session')!;
    const cookie = `coffer_session=${token}`;
    const s = await fetch(`${t.url}/web/api/session`, { headers: { cookie } });
    assert.equal(s.status, 200);
    assert.equal(s.headers.get('cache-control'), 'no-store');
    const body = await s.json() as { user: { uid: string; isAdmin: boolean }; csrfToken: string };
    assert.equal(body.user.uid, ADMIN.uid);
    assert.equal(body.user.isAdmin, true);
    const mk = (headers: Record<string, string>) => fetch(`${t.url}/web/api/files/mkdir`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ path: 'Docs' }),
    });
    assert.equal((await mk({})).status, 403);
    assert.equal((await mk({ requesttoken: 'x'.repeat(43) })).status, 403);
    assert.equal((await mk({ requesttoken: body.csrfToken })).status, 201);
    assert.equal((await t.app.files.stat(ADMIN.uid, 'Docs')).kind, 'dir');
    assert.equal((await fetch(`${t.url}/web/api/session`)).status, 401);
    assert.equal((await fetch(`${t.url}/web/api/session`, { headers: { cookie: 'coffer_session=' + 'A'.repeat(43) } })).status, 401);

    // authenticateSession: what the DAV and OCS adapters will call.
    assert.equal((await authenticateSession(t.app, fakeReq('PROPFIND', { cookie })))?.uid, undefined);
    assert.equal((await authenticateSession(t.app, fakeReq('GET', { cookie })))?.uid, ADMIN.uid);
    const u = await authenticateSession(t.app, fakeReq('PUT', { cookie, requesttoken: body.csrfToken }));
    assert.equal(u?.uid, ADMIN.uid);
    assert.equal(u?.via, 'session');
    assert.equal(await authenticateSession(t.app, fakeReq('GET', {})), undefined);

    // A disabled user's session stops working.
    await t.app.users.setEnabled(ADMIN.uid, false);
    assert.equal(await authenticateSession(t.app, fakeReq('GET', { cookie })), undefined);
    await t.app.users.setEnabled(ADMIN.uid, true);
  });

  test('logout needs the CSRF token and ends the session', async () => {
    const res = await postLogin(t, ADMIN.uid, ADMIN.password);
    const token = cookieValue(setCookies(res), 'coffer_session')!;
    const cookie = `coffer_session=${token}`;
    const csrf = ((await (await fetch(`${t.url}/web/api/session`, { headers: { cookie } })).json()) as { csrfToken: string }).csrfToken;
    const forged = await fetch(`${t.url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    assert.equal(forged.status, 403);
    const out = await fetch(`${t.url}/logout`, {
      method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: `requesttoken=${encodeURIComponent(csrf)}`,
    });
    assert.equal(out.status, 303);
    assert.match(setCookies(out).find((c) => c.startsWith('coffer_session='))!, /Max-Age=0/);
    assert.equal((await fetch(`${t.url}/web/api/session`, { headers: { cookie } })).status, 401);
  });

  test('pages need a session; assets have content types and cache headers; no path traversal', async () => {
    const spa = await fetch(`${t.url}/settings/users`, { redirect: 'manual' });
    assert.equal(spa.status, 303);
    assert.equal(spa.headers.get('location'), '/login?redirect_url=%2Fsettings%2Fusers');
    const css = await fetch(`${t.url}/web/login.css`);
    assert.equal(css.status, 200);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(css.headers.get('cache-control'), 'no-cache');
    const res = await postLogin(t, ADMIN.uid, ADMIN.password);
    const cookie = `coffer_session=${cookieValue(setCookies(res), 'coffer_session')}`;
    const index = await fetch(`${t.url}/apps/files`, { headers: { cookie } });
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type')!, /^text\/html/);
    assert.equal(index.headers.get('x-frame-options'), 'DENY');
    const html = await index.text();
    const js = /src="(\/web\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${t.url}${js}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    for (const p of ['/web/..%2F..%2Fpackage.json', '/web/%2e%2e/%2e%2e/package.json', '/web/assets/nope.js']) {
      assert.equal((await fetch(`${t.url}${p}`)).status, 404, p);
    }
  });

  test('sessions end after the idle timeout and can be revoked', async () => {
    let now = 1_000_000;
    const svc = new SessionService({ db: t.app.db, secret: 'x'.repeat(32), idleSeconds: 100, maxAgeSeconds: 1000, now: () => now });
    const a = await svc.create('admin');
    const b = await svc.create('admin');
    assert.ok(await svc.lookup(a.token));
    assert.equal(svc.checkCsrf(a.token, a.csrfToken), true);
    assert.equal(svc.checkCsrf(a.token, b.csrfToken), false);
    now += 99;
    assert.ok(await svc.lookup(a.token), 'activity refreshes the idle timer');
    now += 99;
    assert.ok(await svc.lookup(a.token));
    assert.equal(await svc.lookup(b.token), undefined, 'idle session gone');
    await svc.revoke('admin', a.info.id);
    assert.equal(await svc.lookup(a.token), undefined);
    const c = await svc.create('admin');
    for (let i = 0; i < 12; i++) { now += 90; await svc.lookup(c.token); }
    assert.equal(await svc.lookup(c.token), undefined, 'absolute lifetime');
  });

  test('the login form is throttled like every other login path (429 with Retry-After)', async () => {
    const { dir, configPath } = await writeTestConfig();
    const app = await openApp(loadConfig(configPath), {
      logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
      throttle: { baseDelayMs: 1, maxDelayMs: 2, maxIpAttempts: 3 },
    });
    await app.users.create({ uid: 'zoe', password: 'zoe-password-123' });
    const server = await startServer(app, { host: '127.0.0.1', port: 0 });
    try {
      const inst = { url: server.url } as TestInstance;
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await postLogin(inst, 'zoe', `guess-${i}`)).status);
      assert.deepEqual(codes, [401, 401, 401, 429]);
      const right = await postLogin(inst, 'zoe', 'zoe-password-123');
      assert.equal(right.status, 429, 'even the right password waits');
      assert.ok(Number(right.headers.get('retry-after')) > 0);
      assert.match(await right.text(), /Too many failed attempts/);
      assert.equal(await app.db.selectFrom('web_sessions').selectAll().execute().then((r) => r.length), 0);
    } finally {
      await server.close(1000);
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('failures on WebDAV, OCS and the login form count against one shared throttle', async () => {
    const { dir, configPath } = await writeTestConfig();
    const app = await openApp(loadConfig(configPath), {
      logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
      throttle: { baseDelayMs: 1, maxDelayMs: 2, maxIpAttempts: 3 },
    });
    await app.users.create({ uid: 'yan', password: 'yan-password-123' });
    const server = await startServer(app, { host: '127.0.0.1', port: 0 });
    try {
      const inst = { url: server.url } as TestInstance;
      const basic = `Basic ${Buffer.from('yan:wrong-dav-password').toString('base64')}`;
      const dav = await fetch(`${server.url}/remote.php/dav/files/yan/`, { method: 'PROPFIND', headers: { authorization: basic, depth: '0' } });
      assert.equal(dav.status, 401);
      const ocs = await fetch(`${server.url}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: basic, 'ocs-apirequest': 'true' } });
      assert.equal(ocs.status, 401);
      assert.equal((await postLogin(inst, 'yan', 'wrong-form-password')).status, 401, 'third failure, on the form');
      const right = await postLogin(inst, 'yan', 'yan-password-123');
      assert.equal(right.status, 429, 'the form is throttled by the failures on the other paths');
      assert.match(await right.text(), /Too many failed attempts/);
      const davRight = await fetch(`${server.url}/remote.php/dav/files/yan/`, { method: 'PROPFIND', headers: { authorization: `Basic ${Buffer.from('yan:yan-password-123').toString('base64')}`, depth: '0' } });
      assert.notEqual(davRight.status, 207, 'and WebDAV is throttled by them too');
    } finally {
      await server.close(1000);
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cookies get Secure behind TLS (directly, or X-Forwarded-Proto from a trusted proxy only)', () => {
    assert.equal(cookieHeader('coffer_session', 'v', { secure: true }), 'coffer_session=v; Path=/; HttpOnly; SameSite=Lax; Secure');
    const app = { config: { trustedProxies: ['10.0.0.1'] } } as never;
    const req = (encrypted: boolean, peer: string, proto?: string) =>
      ({ socket: { encrypted, remoteAddress: peer }, headers: proto ? { 'x-forwarded-proto': proto } : {} }) as unknown as IncomingMessage;
    assert.equal(isSecureRequest(app, req(true, '127.0.0.1')), true);
    assert.equal(isSecureRequest(app, req(false, '127.0.0.1')), false);
    assert.equal(isSecureRequest(app, req(false, '127.0.0.1', 'https')), false, 'untrusted peer');
    assert.equal(isSecureRequest(app, req(false, '10.0.0.1', 'https')), true);
  });
});
