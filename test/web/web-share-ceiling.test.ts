/**
 * The share ceiling in the browser: the share dialog offers no more than the user holds on the item.
 * mallory received alice's folder with read + reshare only: resharing it, the dialog offers "View
 * only" and no "Can edit"; her own folder still offers both. What the server enforces is covered
 * over HTTP in test/sharing/reshare-ceiling.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, CAROL, share } from '../sharing/helpers.ts';
import { browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext, shot } from './browser-support.ts';

const skip = browserSkipReason();
const MALLORY = { uid: 'mallory', password: 'mallory-password-1' } as const;

describe('web UI: the share dialog stays within the ceiling', { skip, timeout: 180_000 }, () => {
  let t: TestInstance;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;

  before(async () => {
    ensureWebBuilt();
    t = await startTestInstance();
    for (const u of [ALICE, CAROL, MALLORY]) await t.addUser(u.uid, u.password);
    await t.app.files.mkdir(ALICE.uid, 'ro');
    await share(t, ALICE, { path: '/ro', shareType: 0, shareWith: MALLORY.uid, permissions: 17 });
    await t.app.files.ensureHome(MALLORY.uid);
    await t.app.files.mkdir(MALLORY.uid, 'mine');
    browser = await launchBrowser();
    ctx = await newContext(browser);
    page = await ctx.newPage();
    await login(page, t.url, MALLORY.uid, MALLORY.password);
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await t?.stop();
  });

  const optionsOf = (dialog: ReturnType<Page['getByRole']>, who: string) =>
    dialog.getByLabel(`Permissions of ${who}`).locator('option').allTextContents();

  test('resharing a read-only share offers "View only" and no "Can edit"', async () => {
    await page.getByRole('button', { name: 'Share ro' }).click();
    const dialog = page.getByRole('dialog', { name: 'Share “ro”' });
    try {
      await dialog.getByLabel('Share with users or groups').fill('car');
      await dialog.getByRole('button', { name: /carol/ }).click();
      await dialog.getByRole('list', { name: 'People with access' }).getByText('carol').waitFor();
      assert.deepEqual(await optionsOf(dialog, 'carol'), ['View only']);
      await dialog.getByText('You can share it for viewing only.').waitFor();
      await shot(page, '30-share-dialog-read-only-reshare');
      const made = (await t.app.shares.list(MALLORY.uid, { path: 'ro' })).map((s) => s.share.permissions);
      assert.deepEqual(made, [17]);
    } finally {
      await dialog.getByRole('button', { name: 'Close' }).first().click();
    }
  });

  test('her own folder still offers "Can edit"', async () => {
    await page.getByRole('button', { name: 'Share mine' }).click();
    const dialog = page.getByRole('dialog', { name: 'Share “mine”' });
    await dialog.getByLabel('Share with users or groups').fill('car');
    await dialog.getByRole('button', { name: /carol/ }).click();
    await dialog.getByRole('list', { name: 'People with access' }).getByText('carol').waitFor();
    assert.deepEqual(await optionsOf(dialog, 'carol'), ['Can edit', 'View only']);
    await dialog.getByLabel('Permissions of carol').selectOption('view');
    await page.getByText('carol can only view now').waitFor();
    assert.deepEqual((await t.app.shares.list(MALLORY.uid, { path: 'mine' })).map((s) => s.share.permissions), [17]);
    await dialog.getByRole('button', { name: 'Close' }).first().click();
  });
});
