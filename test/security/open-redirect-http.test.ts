/**
 * Open redirect through `redirect_url`. Every redirect goes through one helper
 * that resolves the target against the origin and requires it to stay there. Over HTTP on loopback,
 * and in Chromium (the browser is what turns `/%09/evil.example` into `//evil.example`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { browserSkipReason, launchBrowser, newContext } from '../web/browser-support.ts';

/** Targets that would leave the origin in some browser. */
const EVIL = [
  '/\t/evil.example', '/\n/evil.example', '/\r\n/evil.example', '/ /evil.example', '/\u00a0/evil.example', '/\u200b/evil.example',
  '//evil.example', '/\\evil.example', '\\\\evil.example', '/\\/evil.example', '/.//evil.example', '/..//evil.example', '/%2e//evil.example',
  'https://evil.example/', 'http:evil.example', 'javascript:alert(1)', 'data:text/html,x', 'evil.example', '///evil.example',
];

function cookieValue(list: string[], name: string): string | undefined {
  return list.find((x) => x.startsWith(`${name}=`))?.slice(name.length + 1).split(';')[0];
}

describe('open redirect', { timeout: 120_000 }, () => {
  let t: TestInstance;
  let session: string;
  before(async () => {
    t = await startTestInstance();
    session = (await t.app.sessions.create(ADMIN.uid)).token;
  });
  after(async () => { await t?.stop(); });

  async function loginPost(redirectUrl: string): Promise<Response> {
    const page = await fetch(`${t.url}/login`);
    const csrf = /name="requesttoken" value="([^"]+)"/.exec(await page.text())![1]!;
    const nonce = cookieValue(page.headers.getSetCookie(), 'coffer_login_csrf')!;
    return fetch(`${t.url}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `coffer_login_csrf=${nonce}` },
      body: new URLSearchParams({ user: ADMIN.uid, password: ADMIN.password, requesttoken: csrf, redirect_url: redirectUrl }).toString(),
    });
  }

  test('GET /login?redirect_url=… with a session and POST /login redirect only within the origin', async () => {
    for (const evil of EVIL) {
      const r = await fetch(`${t.url}/login?redirect_url=${encodeURIComponent(evil)}`, { redirect: 'manual', headers: { cookie: `coffer_session=${session}` } });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), '/', `GET ${JSON.stringify(evil)}`);
      const p = await loginPost(evil);
      assert.equal(p.status, 303);
      assert.equal(p.headers.get('location'), '/', `POST ${JSON.stringify(evil)}`);
    }
    // the raw query of the report: a tab, percent-encoded once
    const r = await fetch(`${t.url}/login?redirect_url=/%09/evil.example`, { redirect: 'manual', headers: { cookie: `coffer_session=${session}` } });
    assert.equal(r.headers.get('location'), '/');
    // the login form does not carry it either
    const form = await (await fetch(`${t.url}/login?redirect_url=/%09/evil.example`)).text();
    assert.match(form, /name="redirect_url" value="\/"/);
  });

  test('same-origin targets survive, query and fragment included', async () => {
    for (const [given, want] of [['/apps/files?dir=/Photos', '/apps/files?dir=/Photos'], ['/settings/personal#password', '/settings/personal#password'], ['/apps/../settings', '/settings']]) {
      const r = await fetch(`${t.url}/login?redirect_url=${encodeURIComponent(given)}`, { redirect: 'manual', headers: { cookie: `coffer_session=${session}` } });
      assert.equal(r.headers.get('location'), want, given);
      await r.arrayBuffer();
    }
  });

  test('Chromium: logging in with redirect_url=/%09/evil.example stays on the instance', { skip: browserSkipReason() }, async () => {
    const browser = await launchBrowser();
    try {
      const ctx = await newContext(browser);
      const page = await ctx.newPage();
      const requested: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      await page.goto(`${t.url}/login?redirect_url=/%09/evil.example`);
      await page.getByLabel('Username').fill(ADMIN.uid);
      await page.getByLabel('Password').fill(ADMIN.password);
      await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.getByRole('button', { name: 'Log in' }).click()]);
      assert.equal(new URL(page.url()).origin, t.url);
      assert.ok(!requested.some((u) => u.includes('evil.example') && !u.startsWith(t.url)), requested.join('\n'));
    } finally {
      await browser.close();
    }
  });
});
