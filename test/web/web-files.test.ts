/**
 * Browser end-to-end: log in, upload (small and chunked), see it listed, download it identical,
 * folder operations, sharing with a user and by link, logout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { assertNamedControls, browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext, row, shot } from './browser-support.ts';

const skip = browserSkipReason();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** 2020-09-13: an old modification time for hello.txt (sorting by Modified). */
const OLD_MTIME = 1_600_000_000;

describe('web UI: files', { skip, timeout: 240_000 }, () => {
  let t: TestInstance;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  const small = Buffer.from('Hello from the Coffer web UI test.\n'.repeat(100));
  const big = randomBytes(12 * 1024 * 1024 + 12345);
  const foreign: string[] = [];

  before(async () => {
    ensureWebBuilt();
    t = await startTestInstance();
    await t.addUser('bob', 'bob-password-123');
    browser = await launchBrowser();
    ctx = await newContext(browser);
    // Everything the pages load comes from Coffer itself (no CDN, no external fonts).
    const own = new URL(t.url).host;
    ctx.on('request', (r) => { const u = new URL(r.url()); if (/^https?:$/.test(u.protocol) && u.host !== own) foreign.push(r.url()); });
    page = await ctx.newPage();
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await t?.stop();
  });

  test('the login page refuses a wrong password and lets the right one in', async () => {
    await page.goto(`${t.url}/`);
    assert.match(page.url(), /\/login$/);
    await shot(page, '01-login');
    await assertNamedControls(page, 'login page');
    await page.getByLabel('Username').fill(ADMIN.uid);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Wrong login or password.').waitFor();
    await shot(page, '02-login-error');
    await login(page, t.url, ADMIN.uid, ADMIN.password);
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'coffer_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    await page.getByText('No files in here').waitFor();
    await shot(page, '03-files-empty');
    await assertNamedControls(page, 'empty files view');
  });

  test('upload through the Upload control, see it listed, download it identical', async () => {
    // Real files (a path is handed to the local browser; no 12 MB transfer over the protocol).
    const dir = mkdtempSync(join(tmpdir(), 'coffer-upload-'));
    writeFileSync(join(dir, 'hello.txt'), small);
    utimesSync(join(dir, 'hello.txt'), OLD_MTIME, OLD_MTIME); // the upload keeps the file's own modification time
    writeFileSync(join(dir, 'big.bin'), big);
    // The big file goes up in chunks: count them, and hold its final "assemble" request until the
    // progress bar has been seen (no race with a fast local upload).
    const chunkPuts: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => { if (r.method() === 'PUT' && /\/web\/api\/files\/chunked\/[^/]+\/\d+/.test(r.url())) chunkPuts.push(r.url()); };
    page.on('request', onRequest);
    let release!: () => void;
    const released = new Promise<void>((ok) => { release = ok; });
    await page.route('**/web/api/files/chunked/*/finish', async (route) => { await released; await route.continue(); });
    await page.getByLabel('Upload').setInputFiles([join(dir, 'hello.txt'), join(dir, 'big.bin')]);
    const bar = page.getByRole('progressbar', { name: 'Upload progress' });
    await bar.waitFor();
    await page.getByText(/Uploading 2 of 2: “big\.bin”/).waitFor();
    await page.waitForFunction(() => {
      const p = document.querySelector<HTMLProgressElement>('progress[aria-label="Upload progress"]');
      return !!p && p.value >= p.max - 1;
    });
    assert.equal(Number(await bar.getAttribute('max')), small.length + big.length);
    await shot(page, '03b-upload-progress');
    release();
    await row(page, 'hello.txt').waitFor();
    await row(page, 'big.bin').waitFor({ timeout: 60_000 });
    await page.getByText('Uploaded 2 files').waitFor();
    await bar.waitFor({ state: 'detached' });
    await page.unroute('**/web/api/files/chunked/*/finish');
    page.off('request', onRequest);
    assert.equal(chunkPuts.length, 2, `12 MB in two 8 MB chunks (${chunkPuts.length} PUTs)`);
    // What the server stored is what we sent (the big one went up in chunks).
    const stored = await t.app.files.stat(ADMIN.uid, 'big.bin');
    assert.equal(stored.size, big.length);
    assert.equal(await t.app.uploads.list(ADMIN.uid).then((l) => l.length), 0, 'chunked upload cleaned up');

    const [dl] = await Promise.all([page.waitForEvent('download'), row(page, 'hello.txt').getByRole('link', { name: 'hello.txt' }).click()]);
    assert.equal(dl.suggestedFilename(), 'hello.txt');
    assert.equal(sha(readFileSync((await dl.path())!)), sha(small));
    const [dl2] = await Promise.all([page.waitForEvent('download'), row(page, 'big.bin').getByRole('link', { name: 'big.bin' }).click()]);
    assert.equal(sha(readFileSync((await dl2.path())!)), sha(big));
    await shot(page, '04-files-uploaded');
    await assertNamedControls(page, 'files list');
  });

  test('sorting: by size, biggest first when descending; by modified, oldest first', async () => {
    await page.getByRole('button', { name: 'Size' }).click();
    await page.getByRole('button', { name: 'Size' }).click();
    const names = await page.locator('table.files-table tbody .name-text').allTextContents();
    assert.deepEqual(names, ['big.bin', 'hello.txt']);
    assert.equal(await page.locator('th.col-size').getAttribute('aria-sort'), 'descending');
    // Modified: the upload kept hello.txt's old time, so it comes first ascending.
    assert.equal((await t.app.files.stat(ADMIN.uid, 'hello.txt')).mtime, OLD_MTIME);
    await page.getByRole('button', { name: 'Modified' }).click();
    assert.deepEqual(await page.locator('table.files-table tbody .name-text').allTextContents(), ['hello.txt', 'big.bin']);
    assert.equal(await page.locator('th.col-mtime').getAttribute('aria-sort'), 'ascending');
    await row(page, 'hello.txt').getByText(/^13 Sept? 2020$/).waitFor();
    await page.getByRole('button', { name: 'Name' }).click();
  });

  test('new folder, rename, move into it, open it, delete', async () => {
    await page.getByRole('button', { name: 'New folder' }).click();
    await page.getByLabel('Folder name').fill('Projects');
    await assertNamedControls(page, 'new folder dialog');
    await page.getByRole('button', { name: 'Create' }).click();
    await row(page, 'Projects').waitFor();
    assert.equal((await t.app.files.stat(ADMIN.uid, 'Projects')).kind, 'dir');

    await page.getByRole('button', { name: 'Actions for hello.txt' }).click();
    await page.getByRole('menuitem', { name: 'Rename' }).click();
    await page.getByLabel('New name').fill('notes.txt');
    await page.getByRole('button', { name: 'Rename' }).click();
    await row(page, 'notes.txt').waitFor();

    await page.getByRole('button', { name: 'Actions for notes.txt' }).click();
    await page.getByRole('menuitem', { name: 'Move' }).click();
    const dialog = page.getByRole('dialog', { name: 'Move “notes.txt”' });
    await dialog.getByRole('button', { name: 'Projects' }).click();
    await shot(page, '05-move-dialog');
    await assertNamedControls(page, 'move dialog');
    await dialog.getByRole('button', { name: 'Move here' }).click();
    await row(page, 'notes.txt').waitFor({ state: 'detached' });
    assert.equal((await t.app.files.stat(ADMIN.uid, 'Projects/notes.txt')).size, small.length);

    await row(page, 'Projects').getByRole('link', { name: 'Projects' }).click();
    await row(page, 'notes.txt').waitFor();
    assert.match(page.url(), /dir=%2FProjects/);
    await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: 'Projects' }).waitFor();
    await shot(page, '06-files-subfolder');

    await page.getByRole('button', { name: 'New folder' }).click();
    await page.getByLabel('Folder name').fill('Trash me');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('button', { name: 'Actions for Trash me' }).click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    await shot(page, '07-delete-confirm');
    await assertNamedControls(page, 'delete dialog');
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await row(page, 'Trash me').waitFor({ state: 'detached' });
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'Projects/Trash me'), undefined);
    await page.getByRole('link', { name: 'All files' }).click();
    await row(page, 'big.bin').waitFor();
  });

  test('drag and drop uploads too', async () => {
    const dt = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['dropped content\n'], 'dropped.txt', { type: 'text/plain' }));
      d.items.add(new File(['x'], 'Quarterly report for the board of directors, final version (approved by legal).txt', { type: 'text/plain' }));
      return d;
    });
    const zone = page.locator('section.files-page');
    await zone.dispatchEvent('dragenter', { dataTransfer: dt });
    await page.getByText('Drop files to upload to All files').waitFor();
    await shot(page, '07b-drop-overlay');
    await zone.dispatchEvent('drop', { dataTransfer: dt });
    await row(page, 'dropped.txt').waitFor();
    await row(page, 'Quarterly report for the board of directors, final version (approved by legal).txt').waitFor();
    assert.equal((await t.app.files.stat(ADMIN.uid, 'dropped.txt')).size, 'dropped content\n'.length);
  });

  test('share a folder with a user and by a password-protected link', async () => {
    await page.getByRole('button', { name: 'Share Projects' }).click();
    const dialog = page.getByRole('dialog', { name: 'Share “Projects”' });
    await dialog.getByLabel('Share with users or groups').fill('bo');
    await dialog.getByRole('button', { name: /bob/ }).click();
    await dialog.getByRole('list', { name: 'People with access' }).getByText('bob').waitFor();
    await dialog.getByLabel('Permissions of bob').selectOption('view');
    await page.getByText('bob can only view now').waitFor();
    const bobShare = (await t.app.shares.list(ADMIN.uid, { path: 'Projects' })).find((s) => s.share.shareType === 0)!;
    assert.equal(bobShare.share.permissions & 2, 0, 'view only');
    await dialog.getByLabel('Permissions of bob').selectOption('edit');
    await page.getByText('bob can edit now').waitFor();
    await dialog.getByLabel('Password protect').check();
    await dialog.getByLabel('Link password', { exact: true }).fill('link-secret-42');
    await dialog.getByLabel('Set expiration date').check();
    const day = new Date(Date.now() + 7 * 86400_000).toISOString().slice(0, 10);
    await dialog.getByLabel('Expiration date', { exact: true }).fill(day);
    await dialog.getByRole('button', { name: 'Create public link' }).click();
    const link = dialog.getByLabel('Public link');
    await link.waitFor();
    const url = await link.inputValue();
    assert.match(url, /\/s\/[A-Za-z0-9]+$/);
    await dialog.getByText(`Password protected · expires ${day}`).waitFor();
    await dialog.getByRole('button', { name: 'Copy link' }).click();
    await dialog.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url, 'the copy button put the link on the clipboard');
    await shot(page, '08-share-dialog');
    await assertNamedControls(page, 'share dialog');
    const shares = await t.app.shares.list(ADMIN.uid, { path: 'Projects' });
    assert.deepEqual(shares.map((s) => s.share.shareType).sort(), [0, 3]);
    assert.ok(shares.find((s) => s.share.shareType === 3)!.share.hasPassword);
    await dialog.getByRole('button', { name: 'Close' }).first().click();
    await row(page, 'Projects').getByText('Shared link').waitFor();

    // Share a file with a group.
    await t.app.groups.create('staff', 'Staff');
    await t.app.groups.addUser('staff', 'bob');
    await page.getByRole('button', { name: 'Share dropped.txt' }).click();
    const g = page.getByRole('dialog', { name: 'Share “dropped.txt”' });
    await g.getByLabel('Share with users or groups').fill('sta');
    await g.getByRole('button', { name: 'Staff (group)' }).click();
    await g.getByRole('list', { name: 'People with access' }).getByText('Group').waitFor();
    assert.deepEqual((await t.app.shares.list(ADMIN.uid, { path: 'dropped.txt' })).map((s) => [s.share.shareType, s.share.shareWith]), [[1, 'staff']]);
    await g.getByRole('button', { name: 'Close' }).first().click();

    // The link works for someone without an account, with its password.
    const anonCtx = await newContext(browser);
    const anon = await anonCtx.newPage();
    try {
      await anon.goto(url);
      await anon.getByText('This share is password-protected').waitFor();
      await shot(anon, '08b-public-link-password');
      await assertNamedControls(anon, 'public link password page');
      await anon.locator('input[type=password]').fill('link-secret-42');
      await anon.locator('input[type=password]').press('Enter');
      await anon.getByText('notes.txt').first().waitFor();
      await shot(anon, '08c-public-link-folder');
      await assertNamedControls(anon, 'public link folder page');
    } finally {
      await anonCtx.close();
    }

    // bob sees it in his browser and can download from it.
    const bobCtx = await newContext(browser);
    const bob = await bobCtx.newPage();
    try {
      await login(bob, t.url, 'bob', 'bob-password-123');
      await row(bob, 'Projects').getByText('Shared by admin').waitFor();
      await row(bob, 'Projects').getByRole('link', { name: 'Projects' }).click();
      const [dl] = await Promise.all([bob.waitForEvent('download'), row(bob, 'notes.txt').getByRole('link', { name: 'notes.txt' }).click()]);
      assert.equal(sha(readFileSync((await dl.path())!)), sha(small));
      await shot(bob, '09-files-shared-with-bob');
    } finally {
      await bobCtx.close();
    }
  });

  test('the row menu works from the keyboard', async () => {
    const button = page.getByRole('button', { name: 'Actions for big.bin' });
    await button.focus();
    await page.keyboard.press('Enter');
    // Focus moves in an effect after the menu renders: wait for it instead of reading it once.
    const focusIs = (expected: string, what: 'text' | 'label' = 'text') =>
      page.waitForFunction(
        ([want, kind]) => {
          const el = document.activeElement;
          return (kind === 'label' ? el?.getAttribute('aria-label') : el?.textContent) === want;
        },
        [expected, what] as const,
        { timeout: 5000 },
      );
    await focusIs('Download');
    await assertNamedControls(page, 'row menu');
    await page.keyboard.press('ArrowDown');
    await focusIs('Share');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await focusIs('Delete');
    await page.keyboard.press('Escape');
    await focusIs('Actions for big.bin', 'label');
    assert.equal(await page.getByRole('menu').count(), 0);
  });

  test('at phone width the files view still works', async () => {
    const phoneCtx = await newContext(browser, { phone: true });
    const phone = await phoneCtx.newPage();
    try {
      await phone.goto(`${t.url}/login`);
      await phone.getByRole('button', { name: 'Log in' }).waitFor();
      assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'login page fits 375 px');
      await shot(phone, '10a-login-phone');
      await login(phone, t.url, ADMIN.uid, ADMIN.password);
      await row(phone, 'big.bin').waitFor();
      await phone.getByLabel('Upload').waitFor({ state: 'attached' });
      assert.ok(await phone.getByRole('button', { name: 'New folder' }).isVisible());
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px)`);
      await shot(phone, '10-files-phone');
      await assertNamedControls(phone, 'files view at phone width');
      // The share dialog (from the row menu: the share icon is hidden at this width).
      await phone.getByRole('button', { name: 'Actions for Projects' }).click();
      await phone.getByRole('menuitem', { name: 'Share' }).click();
      const dialog = phone.getByRole('dialog', { name: 'Share “Projects”' });
      await dialog.getByLabel('Public link').waitFor();
      const dialogOverflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(dialogOverflow <= 0, `share dialog fits 375 px (overflow ${dialogOverflow}px)`);
      await shot(phone, '10b-share-dialog-phone');
      await dialog.getByRole('button', { name: 'Close' }).first().click();
      await dialog.waitFor({ state: 'detached' });
      await phone.getByRole('button', { name: 'User menu' }).click();
      await phone.getByRole('menuitem', { name: 'Log out' }).waitFor();
      await shot(phone, '11-user-menu-phone');
    } finally {
      await phoneCtx.close();
    }
  });

  test('logout ends the session', async () => {
    const before = (await ctx.cookies()).find((c) => c.name === 'coffer_session')!.value;
    await page.getByRole('button', { name: 'User menu' }).click();
    await assertNamedControls(page, 'user menu');
    await page.getByRole('menuitem', { name: 'Log out' }).click();
    await page.getByText('You have been logged out.').waitFor();
    await shot(page, '12-logged-out');
    const res = await fetch(`${t.url}/web/api/session`, { headers: { cookie: `coffer_session=${before}` } });
    assert.equal(res.status, 401);
    await page.goto(`${t.url}/apps/files`);
    assert.match(page.url(), /\/login\?redirect_url=/);
    assert.deepEqual(foreign, [], 'no request left this server');
  });
});
