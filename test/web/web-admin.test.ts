/**
 * Browser end-to-end for the admin and personal pages: enable the Default encryption module and
 * server-side encryption (then `./occ encryption:status` agrees), key backup, users, change
 * password and still read files, app passwords, sessions, Login Flow v2.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { assertNamedControls, browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext, row, shot } from './browser-support.ts';
import { SYSTEM } from '../../src/actor.ts';

const skip = browserSkipReason();
const OCC = fileURLToPath(new URL('../../occ', import.meta.url));
const run = promisify(execFile);

describe('web UI: admin and personal settings', { skip, timeout: 300_000 }, () => {
  let t: TestInstance;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let password: string = ADMIN.password;
  const content = Buffer.from('secret plans, encrypted at rest\n'.repeat(50));

  before(async () => {
    ensureWebBuilt();
    t = await startTestInstance();
    await t.addUser('dave', 'dave-password-123');
    browser = await launchBrowser();
    ctx = await newContext(browser);
    page = await ctx.newPage();
    await login(page, t.url, ADMIN.uid, ADMIN.password);
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await t?.stop();
  });

  test('the encryption checkbox is disabled until the module is enabled', async () => {
    await page.goto(`${t.url}/settings/admin/security`);
    const box = page.getByLabel('Enable server-side encryption');
    await box.waitFor();
    assert.equal(await box.isDisabled(), true);
    assert.equal(await box.isChecked(), false);
    await page.getByText('Enable the “Default encryption module” under').waitFor();
    await shot(page, '20-security-module-off');
    await assertNamedControls(page, 'security page (module off)');
  });

  test('apps page: enable the Default encryption module', async () => {
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Apps' }).click();
    const r = page.getByRole('row', { name: /Default encryption module/ });
    await r.getByText('Disabled').waitFor();
    await shot(page, '21-apps');
    await assertNamedControls(page, 'apps page');
    await r.getByRole('button', { name: 'Enable' }).click();
    await r.getByText('Enabled', { exact: true }).waitFor();
    await r.getByRole('button', { name: 'Disable' }).waitFor();
    assert.equal((await t.app.encryption.status()).appEnabled, true);
    await shot(page, '22-apps-enabled');
  });

  test('security page: enable server-side encryption after the confirmation; occ agrees', async () => {
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Security & encryption' }).click();
    const box = page.getByLabel('Enable server-side encryption');
    await box.waitFor();
    assert.equal(await box.isDisabled(), false);
    await box.click();
    const dialog = page.getByRole('alertdialog', { name: 'Enable server-side encryption?' });
    await dialog.waitFor();
    const text = await dialog.innerText();
    assert.match(text, /Only new files are encrypted/);
    assert.match(text, /\.\/occ encryption:encrypt-all/);
    assert.match(text, /Back up the encryption keys/);
    assert.match(text, /cannot be turned off here/);
    await shot(page, '23-security-confirm');
    await assertNamedControls(page, 'encryption confirmation dialog');
    // Cancel changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await box.isChecked(), false);
    assert.equal((await t.app.encryption.status()).enabled, false);

    await box.click();
    await dialog.getByRole('button', { name: 'Enable encryption' }).click();
    await page.getByText('Server-side encryption is enabled. It cannot be turned off here.').waitFor();
    assert.equal(await box.isChecked(), true);
    assert.equal(await box.isDisabled(), true);
    await page.getByText(/Master key — one server key/).waitFor();
    await page.getByText('The encryption keys have not been backed up.').waitFor();
    // Still on and locked after a reload.
    await page.reload();
    await page.getByText('Server-side encryption is enabled. It cannot be turned off here.').waitFor();
    assert.equal(await box.isChecked(), true);
    assert.equal(await box.isDisabled(), true);
    await shot(page, '24-security-enabled');
    await assertNamedControls(page, 'security page (enabled)');

    const { stdout } = await run(OCC, ['encryption:status', '--output=json'], { env: { ...process.env, COFFER_CONFIG: t.configPath } });
    const st = JSON.parse(stdout);
    assert.equal(st.enabled, true);
    assert.equal(st.appEnabled, true);

    // The module cannot be disabled under enabled encryption: a clear refusal, nothing changes.
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Apps' }).click();
    const r = page.getByRole('row', { name: /Default encryption module/ });
    await r.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('alert').filter({ hasText: 'cannot be disabled while server-side encryption is enabled' }).waitFor();
    await r.getByText('Enabled', { exact: true }).waitFor();
    assert.equal((await t.app.encryption.status()).appEnabled, true);
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Security & encryption' }).click();
    await page.getByLabel('Enable server-side encryption').waitFor();
  });

  test('download key backup with a password; the warning goes away', async () => {
    await page.getByRole('button', { name: 'Download key backup' }).click();
    const dialog = page.getByRole('dialog', { name: 'Download key backup' });
    await dialog.getByLabel('Backup password', { exact: true }).fill('backup-password-123');
    await dialog.getByLabel('Repeat backup password').fill('backup-password-123');
    await shot(page, '25-key-backup-dialog');
    await assertNamedControls(page, 'key backup dialog');
    const [dl] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Download' }).click()]);
    assert.match(dl.suggestedFilename(), /^coffer-keys-\d{4}-\d{2}-\d{2}\.backup$/);
    const archive = readFileSync((await dl.path())!);
    assert.ok(archive.length > 100, 'a non-empty archive');
    assert.ok(!archive.includes(Buffer.from(t.app.config.secret)), 'the archive does not hold the config secret in clear');
    await page.getByText('The encryption keys have not been backed up.').waitFor({ state: 'detached' });
    assert.notEqual((await t.app.encryption.status()).keysBackedUpAt, null);
  });

  test('a file uploaded now is stored encrypted and downloads identical', async () => {
    await page.getByRole('navigation', { name: 'Apps' }).getByRole('link', { name: 'Files', exact: true }).click();
    await page.getByLabel('Upload').setInputFiles({ name: 'plans.txt', mimeType: 'text/plain', buffer: content });
    await row(page, 'plans.txt').waitFor();
    const node = await t.app.files.stat(ADMIN.uid, 'plans.txt');
    assert.notEqual(node.blobCodec, 'plain');
    const raw = await t.app.rawBlobs.get(node.blobId!, 'plain', { fileId: node.fileId, owner: ADMIN.uid, actor: SYSTEM }).then(async (s) => {
      const parts: Buffer[] = [];
      for await (const c of s) parts.push(c as Buffer);
      return Buffer.concat(parts);
    }).catch(() => undefined);
    if (raw) assert.ok(!raw.includes(Buffer.from('secret plans')), 'ciphertext at rest');
    const [dl] = await Promise.all([page.waitForEvent('download'), row(page, 'plans.txt').getByRole('link', { name: 'plans.txt' }).click()]);
    assert.deepEqual(readFileSync((await dl.path())!), content);
  });

  test('users page: add a user with a quota, change the quota, reset a password, delete a user', async () => {
    await page.goto(`${t.url}/settings/users`);
    await page.getByLabel('Username').fill('carol');
    await page.getByLabel('Display name').fill('Carol Example');
    await page.getByLabel('Password', { exact: true }).fill('carol-password-123');
    await page.getByLabel('Quota', { exact: true }).selectOption({ label: '1 GB' });
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('row', { name: /Carol Example/ }).waitFor();
    assert.equal((await t.app.users.get('carol')).quota, 1024 ** 3);

    await page.getByLabel('Quota for carol').selectOption({ label: '5 GB' });
    await page.getByText('Quota of carol changed').waitFor();
    assert.equal((await t.app.users.get('carol')).quota, 5 * 1024 ** 3);

    await page.getByRole('button', { name: 'Reset password of carol' }).click();
    const dlg = page.getByRole('dialog', { name: /Reset password of Carol Example/ });
    await dlg.getByLabel('New password').fill('carol-new-password-456');
    await shot(page, '26-users-reset-password');
    await assertNamedControls(page, 'reset password dialog');
    await dlg.getByRole('button', { name: 'Reset password' }).click();
    await page.getByText('Password of carol reset').waitFor();
    await t.app.auth.authenticatePassword('carol', 'carol-new-password-456', '127.0.0.9');

    await page.getByRole('button', { name: 'Delete dave' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete user' }).click();
    await page.getByText('User dave deleted').waitFor();
    assert.equal(await t.app.users.exists('dave'), false);
    await shot(page, '27-users');
    await assertNamedControls(page, 'users page');
  });

  test('personal page: app password for a client, sessions, change password and still read files', async () => {
    // A second browser session that the password change will end.
    const other = await newContext(browser);
    const otherPage = await other.newPage();
    await login(otherPage, t.url, ADMIN.uid, password);
    const otherCookie = (await other.cookies()).find((c) => c.name === 'coffer_session')!.value;

    // A third browser session, revoked from the list.
    const third = await newContext(browser);
    await login(await third.newPage(), t.url, ADMIN.uid, password);
    const thirdCookie = (await third.cookies()).find((c) => c.name === 'coffer_session')!.value;
    await third.close();
    const thirdId = (await t.app.sessions.list(ADMIN.uid)).reduce((a, b) => (b.id > a.id ? b : a)).id;

    await page.goto(`${t.url}/settings/user`);
    const sessions = page.getByRole('list', { name: 'Active sessions' });
    await sessions.getByText('(this browser)').waitFor();
    await sessions.getByRole('listitem').nth(2).waitFor();
    assert.equal(await sessions.getByRole('listitem').count(), 3);
    await sessions.getByRole('button', { name: `Revoke session ${thirdId}:` }).click();
    await page.getByText('Session ended').waitFor();
    await sessions.getByRole('button', { name: `Revoke session ${thirdId}:` }).waitFor({ state: 'detached' });
    assert.equal(await sessions.getByRole('listitem').count(), 2);
    assert.equal((await fetch(`${t.url}/web/api/session`, { headers: { cookie: `coffer_session=${thirdCookie}` } })).status, 401, 'the revoked session ended');

    await page.getByLabel('App name').fill('Laptop');
    await page.getByRole('button', { name: 'Create new app password' }).click();
    const token = await page.getByLabel('App password', { exact: true }).inputValue();
    assert.equal(token.length, 72);
    const dav = await fetch(`${t.url}/remote.php/dav/files/${ADMIN.uid}/`, { method: 'PROPFIND', headers: { authorization: t.basic(ADMIN.uid, token), depth: '0' } });
    assert.equal(dav.status, 207);
    await shot(page, '28-personal-app-password');
    await assertNamedControls(page, 'personal page with a new app password');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Revoke Laptop' }).click();
    await page.getByText('No app passwords yet.').waitFor();

    await page.getByLabel('Current password').fill('not-my-password');
    await page.getByLabel('New password', { exact: true }).fill('admin-new-password-789');
    await page.getByLabel('Confirm new password').fill('admin-new-password-789');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The current password is wrong.').waitFor();

    await page.getByLabel('Current password').fill(password);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText(/Password changed\. 1 other session/).waitFor();
    password = 'admin-new-password-789';
    await shot(page, '29-personal');
    await assertNamedControls(page, 'personal page');
    const res = await fetch(`${t.url}/web/api/session`, { headers: { cookie: `coffer_session=${otherCookie}` } });
    assert.equal(res.status, 401, 'the other session ended');
    await other.close();

    // Files stay readable (this session, a fresh login with the new password, and WebDAV).
    await page.goto(`${t.url}/apps/files`);
    const [dl] = await Promise.all([page.waitForEvent('download'), row(page, 'plans.txt').getByRole('link', { name: 'plans.txt' }).click()]);
    assert.deepEqual(readFileSync((await dl.path())!), content);
    const get = await fetch(`${t.url}/remote.php/dav/files/${ADMIN.uid}/plans.txt`, { headers: { authorization: t.basic(ADMIN.uid, password) } });
    assert.equal(get.status, 200);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), content);
  });

  test('Login Flow v2: the page grants a client an app password', async () => {
    const start = await fetch(`${t.url}/login/v2`, { method: 'POST', headers: { 'user-agent': 'Nextcloud desktop test' } });
    assert.equal(start.status, 200);
    const flow = await start.json() as { login: string; poll: { token: string; endpoint: string } };
    await page.goto(flow.login);
    await page.getByText('Nextcloud desktop test').waitFor();
    await shot(page, '30-login-flow');
    await assertNamedControls(page, 'login flow page');
    await page.getByRole('button', { name: 'Grant access' }).click();
    await page.getByText('Account connected').waitFor();
    await shot(page, '31-login-flow-granted');
    const poll = await fetch(flow.poll.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${flow.poll.token}` });
    assert.equal(poll.status, 200);
    const creds = await poll.json() as { loginName: string; appPassword: string };
    assert.equal(creds.loginName, ADMIN.uid);
    const dav = await fetch(`${t.url}/remote.php/dav/files/${ADMIN.uid}/`, { method: 'PROPFIND', headers: { authorization: t.basic(ADMIN.uid, creds.appPassword), depth: '0' } });
    assert.equal(dav.status, 207);
  });

  test('settings pages at phone width', async () => {
    const phoneCtx = await newContext(browser, { phone: true });
    const phone = await phoneCtx.newPage();
    try {
      await login(phone, t.url, ADMIN.uid, password);
      for (const [path, name] of [['/settings/admin/security', '32-security-phone'], ['/settings/users', '33-users-phone'], ['/settings/user', '34-personal-phone'], ['/settings/apps', '35-apps-phone']] as const) {
        await phone.goto(`${t.url}${path}`);
        await phone.locator('main h1').waitFor();
        await phone.waitForLoadState('networkidle');
        const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${path}: no horizontal scrolling at 375 px (overflow ${overflow}px)`);
        await shot(phone, name);
        await assertNamedControls(phone, `${path} at phone width`);
      }
    } finally {
      await phoneCtx.close();
    }
  });

  test('a non-admin sees no admin pages and the admin API refuses', async () => {
    const c = await newContext(browser);
    const p = await c.newPage();
    try {
      await login(p, t.url, 'carol', 'carol-new-password-456');
      await p.goto(`${t.url}/settings/apps`);
      await p.getByText('Page not found').waitFor();
      assert.equal(await p.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Apps' }).count(), 0);
      const status = await p.evaluate(async () => (await fetch('/web/api/apps')).status);
      assert.equal(status, 403);
    } finally {
      await c.close();
    }
  });
});
