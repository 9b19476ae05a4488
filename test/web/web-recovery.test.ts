/**
 * Browser end-to-end for password recovery (per-user-key mode): the admin enables the module,
 * server-side encryption and the recovery key on the security page and changes its password; a user
 * opts into recovery on the personal page (the checkbox stays checked after a reload) and app.userKeys
 * agrees; a locked key is refused with a clear message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertNamedControls, browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext, row, shot } from './browser-support.ts';

const skip = browserSkipReason();
const OCC = fileURLToPath(new URL('../../occ', import.meta.url));
const run = promisify(execFile);

describe('web UI: recovery key and password recovery opt-in', { skip, timeout: 300_000 }, () => {
  let t: TestInstance;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;

  before(async () => {
    ensureWebBuilt();
    t = await startTestInstance();
    await t.addUser('erin', 'erin-password-123');
    // Per-user keys (Nextcloud's non-default mode): the recovery key only matters there.
    await run(OCC, ['encryption:disable-master-key', '-n'], { env: { ...process.env, COFFER_CONFIG: t.configPath } });
    await t.restart(); // the server chooses its key policy when it starts
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

  test('security page: per-user keys; enable the recovery key, then change its password', async () => {
    await page.goto(`${t.url}/settings/apps`);
    const r = page.getByRole('row', { name: /Default encryption module/ });
    await r.getByRole('button', { name: 'Enable' }).click();
    await r.getByRole('button', { name: 'Disable' }).waitFor();

    await page.goto(`${t.url}/settings/admin/security`);
    const box = page.getByLabel('Enable server-side encryption');
    await box.waitFor();
    await box.click();
    await page.getByRole('alertdialog', { name: 'Enable server-side encryption?' }).getByRole('button', { name: 'Enable encryption' }).click();
    await page.getByText('Server-side encryption is enabled. It cannot be turned off here.').waitFor();
    await page.getByText(/Per-user keys — each user's files/).waitFor();
    await page.getByText('No recovery key is set.').waitFor();
    assert.equal(await t.app.userKeys.recovery.current(), undefined);

    // Mismatched confirmation: refused in the page, nothing created.
    await page.getByLabel('Recovery key password', { exact: true }).fill('recovery-secret-1');
    await page.getByLabel('Confirm recovery key password').fill('something-else');
    await page.getByRole('button', { name: 'Enable recovery key' }).click();
    await page.getByText('The passwords do not match.').waitFor();
    assert.equal(await t.app.userKeys.recovery.current(), undefined);

    await page.getByLabel('Confirm recovery key password').fill('recovery-secret-1');
    await page.getByRole('button', { name: 'Enable recovery key' }).click();
    await page.getByText('The recovery key is enabled.').waitFor();
    assert.notEqual(await t.app.userKeys.recovery.current(), undefined);
    await t.app.userKeys.recovery.unlock('recovery-secret-1');

    // Change the password: a wrong current one is refused, the right one works.
    await page.getByLabel('Current recovery key password', { exact: true }).fill('not-the-password');
    await page.getByLabel('New recovery key password', { exact: true }).fill('recovery-secret-2');
    await page.getByLabel('Confirm new recovery key password').fill('recovery-secret-2');
    await page.getByRole('button', { name: 'Change recovery key password' }).click();
    await page.getByText('The current recovery key password is wrong.').waitFor();
    await page.getByLabel('Current recovery key password', { exact: true }).fill('recovery-secret-1');
    await page.getByRole('button', { name: 'Change recovery key password' }).click();
    await page.getByText('Recovery key password changed.').waitFor();
    await t.app.userKeys.recovery.unlock('recovery-secret-2');
    await assert.rejects(t.app.userKeys.recovery.unlock('recovery-secret-1'));
    await page.getByText('Server-side encryption enabled', { exact: true }).waitFor({ state: 'detached' }); // the toast
    await shot(page, '40-security-recovery');
    await assertNamedControls(page, 'security page with the recovery key');
  });

  test('personal page: the user opts into password recovery; it sticks after a reload', async () => {
    const uctx = await newContext(browser);
    try {
      const up = await uctx.newPage();
      await login(up, t.url, 'erin', 'erin-password-123'); // the password login creates erin's key pair
      await up.goto(`${t.url}/settings/user`);
      const box = up.getByLabel('Enable password recovery');
      await box.waitFor();
      assert.equal(await box.isDisabled(), false);
      assert.equal(await box.isChecked(), false);
      await box.check();
      await up.getByText('Password recovery enabled.').waitFor();
      assert.equal(await t.app.userKeys.isRecoveryEnabledFor('erin'), true);
      assert.equal((await t.app.userKeys.resetImpact('erin')).optedIn, true);

      await up.reload();
      await box.waitFor();
      assert.equal(await box.isChecked(), true);
      await shot(up, '41-personal-recovery');
      await assertNamedControls(up, 'personal page with password recovery');

      // Opt out, then opting in with a locked key is refused with a clear message (403). The web
      // session holds a wrapping of the key (so that other server processes can unlock it): without
      // it — a session older than the key pair, say — the key stays locked.
      await box.uncheck();
      await up.getByText('Password recovery disabled.').waitFor();
      assert.equal(await t.app.userKeys.isRecoveryEnabledFor('erin'), false);
      const keyDir = join(t.dataDir, 'erin', 'files_encryption', 'OC_DEFAULT_MODULE');
      const wrappings = readdirSync(keyDir).filter((n) => n.startsWith('appPassword_'));
      assert.ok(wrappings.length >= 1, 'the web session stored a wrapping of the key');
      for (const n of wrappings) rmSync(join(keyDir, n));
      t.app.userKeys.session.lock('erin');
      await box.click();
      await up.getByText(/Your encryption key is locked\. Log out and log in again/).waitFor();
      assert.equal(await box.isChecked(), false);
      assert.equal(await t.app.userKeys.isRecoveryEnabledFor('erin'), false);
    } finally {
      await uctx.close();
    }
  });

  test('per-user keys: change your password and still read your files; the admin resets it with the recovery key', async () => {
    await t.addUser('frank', 'frank-password-123');
    const content = Buffer.from('frank\'s diary, locked by his own key\n'.repeat(40));
    const fctx = await newContext(browser);
    try {
      const fp = await fctx.newPage();
      await login(fp, t.url, 'frank', 'frank-password-123');
      await fp.getByLabel('Upload').setInputFiles({ name: 'diary.txt', mimeType: 'text/plain', buffer: content });
      await row(fp, 'diary.txt').waitFor();
      assert.notEqual((await t.app.files.stat('frank', 'diary.txt')).blobCodec, 'plain', 'stored encrypted');

      await fp.goto(`${t.url}/settings/user`);
      await fp.getByLabel('Enable password recovery').check();
      await fp.getByText('Password recovery enabled.').waitFor();
      await fp.getByLabel('Current password').fill('frank-password-123');
      await fp.getByLabel('New password', { exact: true }).fill('frank-password-456');
      await fp.getByLabel('Confirm new password').fill('frank-password-456');
      await fp.getByRole('button', { name: 'Change password' }).click();
      await fp.getByText(/^Password changed\./).waitFor();

      await fp.goto(`${t.url}/apps/files`);
      const [dl] = await Promise.all([fp.waitForEvent('download'), row(fp, 'diary.txt').getByRole('link', { name: 'diary.txt' }).click()]);
      assert.deepEqual(readFileSync((await dl.path())!), content, 'readable after the password change');
    } finally {
      await fctx.close();
    }

    // The admin resets frank's password: the dialog asks for the recovery key password.
    await page.goto(`${t.url}/settings/users`);
    await page.getByRole('button', { name: 'Reset password of frank' }).click();
    const dlg = page.getByRole('dialog', { name: /Reset password of frank/ });
    await dlg.getByText('opted into password recovery').waitFor();
    await dlg.getByLabel('New password').fill('frank-password-789');
    await dlg.getByLabel('Recovery key password').fill('not-the-recovery-password');
    await dlg.getByRole('button', { name: 'Reset password' }).click();
    await dlg.getByText('The recovery key password is wrong.').waitFor();
    await t.app.auth.authenticatePassword('frank', 'frank-password-456', '127.0.0.7'); // unchanged
    await dlg.getByLabel('Recovery key password').fill('recovery-secret-2');
    await shot(page, '42-users-reset-with-recovery');
    await assertNamedControls(page, 'reset dialog with the recovery key');
    await dlg.getByRole('button', { name: 'Reset password' }).click();
    await page.getByText('Password of frank reset').waitFor();

    const f2 = await newContext(browser);
    try {
      const fp = await f2.newPage();
      await login(fp, t.url, 'frank', 'frank-password-789');
      const [dl] = await Promise.all([fp.waitForEvent('download'), row(fp, 'diary.txt').getByRole('link', { name: 'diary.txt' }).click()]);
      assert.deepEqual(readFileSync((await dl.path())!), content, 'readable after the admin reset through the recovery key');
    } finally {
      await f2.close();
    }
  });

  test('per-user keys: resetting the password of a user who did not opt in needs the loss confirmed', async () => {
    await t.addUser('gina', 'gina-password-123');
    const gctx = await newContext(browser);
    try {
      await login(await gctx.newPage(), t.url, 'gina', 'gina-password-123'); // creates her key pair
    } finally {
      await gctx.close();
    }
    assert.equal((await t.app.userKeys.resetImpact('gina')).hasKeys, true);
    await page.goto(`${t.url}/settings/users`);
    await page.getByRole('button', { name: 'Reset password of gina' }).click();
    const dlg = page.getByRole('dialog', { name: /Reset password of gina/ });
    await dlg.getByText('has not opted into password recovery').waitFor();
    await dlg.getByLabel('New password').fill('gina-password-456');
    const go = dlg.getByRole('button', { name: 'Reset password' });
    assert.equal(await go.isDisabled(), true, 'no reset before the loss is confirmed');
    await dlg.getByLabel('I understand that gina\'s encrypted files will be lost').check();
    await shot(page, '43-users-reset-confirm-loss');
    await go.click();
    await page.getByText('Password of gina reset').waitFor();
    await t.app.auth.authenticatePassword('gina', 'gina-password-456', '127.0.0.7');
  });

  test('without a recovery key the checkbox is disabled and says why', async () => {
    await t.app.userKeys.disableRecoveryKey('recovery-secret-2');
    await page.goto(`${t.url}/settings/user`);
    const box = page.getByLabel('Enable password recovery');
    await box.waitFor();
    assert.equal(await box.isDisabled(), true);
    await page.getByText('Not available yet: your administrator has not set up a recovery key.').waitFor();
  });
});
