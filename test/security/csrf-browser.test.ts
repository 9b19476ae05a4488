/**
 * CSRF through cached Basic credentials, as an attacker's page does it, in Chromium: the victim's browser holds Basic
 * credentials for Coffer (it opened /remote.php/webdav/ once), then visits an attacker's page on
 * another origin that auto-submits forms to Coffer: create an admin, grant the attacker's Login
 * Flow v2. Neither may work.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { browserSkipReason, launchBrowser } from '../web/browser-support.ts';
import { userActor } from '../../src/actor.ts';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An attacker's page: a form that posts itself to `action` as soon as it loads. */
function autoPost(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
  return `<!doctype html><html><body><form id="f" method="post" action="${esc(action)}">${inputs}</form><script>document.getElementById('f').submit()</script></body></html>`;
}

describe('CSRF in Chromium with cached Basic credentials', { timeout: 180_000, skip: browserSkipReason() }, () => {
  let t: TestInstance;
  let evil: Server;
  let evilUrl: string;
  const pages = new Map<string, string>();
  before(async () => {
    t = await startTestInstance();
    evil = createServer((req, res) => {
      const html = pages.get(req.url ?? '');
      res.statusCode = html ? 200 : 404;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(html ?? '');
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`; // another port: another origin
  });
  after(async () => {
    await new Promise((r) => evil?.close(r));
    await t?.stop();
  });

  test('an auto-submitted form creates no admin and grants no login flow', async () => {
    const flow = await (await fetch(`${t.url}/login/v2`, { method: 'POST' })).json();
    const loginToken = flow.login.split('/').pop();
    pages.set('/add-user', autoPost(`${t.url}/ocs/v2.php/cloud/users`, { userid: 'mallory2', password: 'mallory-password-9', 'groups[]': 'admin' }));
    pages.set('/grant', autoPost(`${t.url}/login/v2/grant`, { token: loginToken }));
    const browser = await launchBrowser();
    try {
      const ctx = await browser.newContext({ httpCredentials: { username: ADMIN.uid, password: ADMIN.password, origin: t.url, send: 'always' } });
      const page = await ctx.newPage();
      // the victim used WebDAV in this browser: the credentials work
      await t.app.files.writeFile(userActor(ADMIN.uid, 'password'), ADMIN.uid, 'hello.txt', Readable.from([Buffer.from('hi')]));
      await page.goto(`${t.url}/login`);
      assert.equal(await page.evaluate(async () => (await fetch('/remote.php/webdav/hello.txt')).status), 200, 'WebDAV with the cached credentials');
      for (const p of ['/add-user', '/grant']) {
        const answered = page.waitForResponse((r) => r.url().startsWith(t.url) && r.request().method() === 'POST');
        await page.goto(`${evilUrl}${p}`);
        const r = await answered;
        assert.ok(r.status() >= 400, `${p}: ${r.status()}`);
      }
    } finally {
      await browser.close();
    }
    assert.equal(await t.app.users.exists('mallory2'), false, 'no admin was created');
    const poll = await fetch(`${t.url}/login/v2/poll`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: flow.poll.token }).toString() });
    assert.equal(poll.status, 404, 'the attacker\'s flow was not granted');
    assert.deepEqual(await t.app.appPasswords.list(ADMIN.uid), []);
  });
});
