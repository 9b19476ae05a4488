/**
 * Two-factor login in Chromium: enrol TOTP on the personal page (the secret read from the page, the
 * code computed as a phone would), generate backup codes, log out, log in with a code, with a
 * backup code, grant a Login Flow v2 client (the flow page asks for the second factor), and wrong
 * codes refused, then throttled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { Phone } from '../auth/two-factor-support.ts';
import { assertNamedControls, browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext, shot } from './browser-support.ts';

const skip = browserSkipReason();
const ERIN = { uid: 'erin', password: 'erin-password-123' };

describe('web UI: two-factor authentication (TOTP)', { skip, timeout: 300_000 }, () => {
  let t: TestInstance;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let phone: Phone;
  let backupCodes: string[];

  before(async () => {
    ensureWebBuilt();
    // A low limit, so that the wrong-code case reaches 429 in a few tries.
    t = await startTestInstance({ throttle: { maxIpAttempts: 3, maxClientAttempts: 3, baseDelayMs: 1 } });
    await t.addUser(ERIN.uid, ERIN.password);
    browser = await launchBrowser();
    ctx = await newContext(browser);
    page = await ctx.newPage();
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await t?.stop();
  });

  async function logout(): Promise<void> {
    await page.getByRole('button', { name: 'User menu' }).click();
    await page.getByRole('menuitem', { name: 'Log out' }).click();
    await page.getByText('You have been logged out.').waitFor();
  }

  async function password(): Promise<void> {
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Username').fill(ERIN.uid);
    await page.getByLabel('Password').fill(ERIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
  }

  test('enrol on the personal page: QR code and secret, a verified code turns it on, backup codes shown once', async () => {
    await login(page, t.url, ERIN.uid, ERIN.password);
    await page.goto(`${t.url}/settings/user`);
    await page.getByRole('button', { name: 'Enable TOTP' }).click();
    const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
    await qr.waitFor();
    assert.ok(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 100), 'the QR code renders');
    const secret = (await page.locator('#totp-secret').textContent())!.trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    phone = new Phone(secret);
    await assertNamedControls(page, 'two-factor setup');
    await shot(page, '2fa-01-enrol');
    await page.getByLabel('Authentication code').fill(phone.wrongCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(/Wrong code/).waitFor();
    assert.equal(await t.app.twoFactor.isEnabled('erin'), false);
    await page.getByLabel('Authentication code').fill(await phone.code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(/TOTP is enabled\./).waitFor();
    assert.equal(await t.app.twoFactor.isEnabled('erin'), true);

    await page.getByRole('button', { name: 'Generate backup codes' }).click();
    const list = page.getByRole('list', { name: 'Backup codes' });
    await list.waitFor();
    backupCodes = (await list.locator('code').allTextContents()).map((s) => s.trim());
    assert.equal(backupCodes.length, 10);
    await page.getByText('10 of 10 backup codes left.').waitFor();
    await shot(page, '2fa-02-backup-codes');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await page.getByText('10 of 10 backup codes left.').waitFor();
    assert.equal(await page.getByRole('list', { name: 'Backup codes' }).count(), 0, 'codes are shown once');
  });

  test('log out, log in with password and a code from the phone', async () => {
    await logout();
    await password();
    assert.equal((await ctx.cookies()).find((c) => c.name === 'coffer_session'), undefined, 'no session before the second factor');
    await assertNamedControls(page, 'two-factor challenge');
    await shot(page, '2fa-03-challenge');
    await page.getByLabel('Authentication code').fill(await phone.code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('navigation', { name: 'Breadcrumbs' }).waitFor();
  });

  test('log out, log in with a backup code (once)', async () => {
    await logout();
    await password();
    await page.getByLabel('Authentication code').fill(backupCodes[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('navigation', { name: 'Breadcrumbs' }).waitFor();
    await page.goto(`${t.url}/settings/user`);
    await page.getByText('9 of 10 backup codes left.').waitFor();
  });

  test('Login Flow v2: the browser grant asks for the second factor', async () => {
    await logout();
    const flow = await (await fetch(`${t.url}/login/v2`, { method: 'POST', headers: { 'user-agent': 'Desktop client test' } })).json() as { login: string; poll: { token: string; endpoint: string } };
    await page.goto(flow.login);
    await page.getByLabel('Username').fill(ERIN.uid);
    await page.getByLabel('Password').fill(ERIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await page.getByLabel('Authentication code').fill(await phone.code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Connect to your account' }).waitFor();
    await page.getByRole('button', { name: 'Grant access' }).click();
    await page.getByRole('heading', { name: 'Account connected' }).waitFor();
    const polled = await (await fetch(flow.poll.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${flow.poll.token}` })).json() as { appPassword: string };
    const dav = (pw: string) => fetch(`${t.url}/remote.php/dav/files/erin/`, { method: 'PROPFIND', headers: { authorization: t.basic('erin', pw), depth: '0' } });
    assert.equal((await dav(polled.appPassword)).status, 207, 'the app password works');
    assert.equal((await dav(ERIN.password)).status, 401, 'the password alone does not');
  });

  test('wrong codes are refused, then throttled', async () => {
    await page.goto(`${t.url}/apps/files`);
    await logout();
    await password();
    // The budget (3 here) also holds the wrong code of the enrolment test, from this browser's
    // address: wrong codes are refused as wrong until it is used up, then throttled.
    let refusedAsWrong = 0;
    for (let i = 0; i < 4; i++) {
      await page.getByLabel('Authentication code').fill(phone.wrongCode());
      await page.getByRole('button', { name: 'Verify' }).click();
      const alert = page.getByRole('alert').filter({ hasText: /Wrong or already used code\.|Too many failed attempts/ });
      await alert.waitFor();
      if (/Too many/.test(await alert.innerText())) break;
      refusedAsWrong++;
    }
    assert.ok(refusedAsWrong >= 1 && refusedAsWrong <= 3, `wrong codes refused as wrong before the throttle: ${refusedAsWrong}`);
    await page.getByLabel('Authentication code').fill(await phone.code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: /Too many failed attempts\. Try again in \d+ seconds\./ }).waitFor();
    await shot(page, '2fa-04-throttled');
    assert.equal((await ctx.cookies()).find((c) => c.name === 'coffer_session'), undefined);
  });
});
