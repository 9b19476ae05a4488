/**
 * Browser end-to-end (issue #15, web UI): the Versions panel (list with sizes, label, download,
 * restore, delete) and the Deleted files view (original location, browse into a folder, restore,
 * delete for good, empty) at desktop width on a plain instance and at phone width on an
 * encrypted one, with the accessible-name check, no horizontal overflow, and screenshots.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { SYSTEM } from '../../src/actor.ts';
import { assertNamedControls, browserSkipReason, ensureWebBuilt, launchBrowser, login, row, shot } from './browser-support.ts';

const skip = browserSkipReason();
const ALICE = { uid: 'alice', password: 'alice-password-123' };
const DAV = `/remote.php/dav/files/${ALICE.uid}`;
const T1 = 1_700_000_000;
const T2 = 1_700_000_100;

/** Every file under `dir` (to look for plaintext on disk). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p)); else out.push(p);
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const v of [
  { name: 'desktop 1280×800, plain', tag: 'desktop', viewport: { width: 1280, height: 800 }, encrypted: false },
  { name: 'phone 390×844, encrypted', tag: 'phone', viewport: { width: 390, height: 844 }, encrypted: true },
]) {
  describe(`web UI: versions and deleted files (${v.name})`, { skip, timeout: 240_000 }, () => {
    let t: TestInstance;
    let browser: Browser;
    let ctx: BrowserContext;
    let page: Page;
    const dir = mkdtempSync(join(tmpdir(), 'coffer-versions-ui-'));
    const v1 = Buffer.from('VERSION-ONE-MARKER first draft of the notes. '.repeat(34)); // 1.5 KB
    const v2 = Buffer.from('second draft, shorter: v2\n'.repeat(10)); // 260 B
    const report = Buffer.from('the quarterly report, deleted from Projects\n');

    const get = async (path: string) => {
      const r = await t.fetch(`${DAV}/${path}`, { as: ALICE });
      return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
    };
    const noOverflow = async (where: string) => {
      const o = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(o <= 0, `${where}: no horizontal scrolling at ${v.viewport.width} px (overflow ${o}px)`);
    };
    const focused = (label: string) => page.waitForFunction((l) => document.activeElement?.getAttribute('aria-label') === l, label, { timeout: 5000 });
    const uploadVersion = async (content: Buffer, mtime: number) => {
      const p = join(dir, 'notes.txt');
      writeFileSync(p, content);
      utimesSync(p, mtime, mtime);
      await page.getByLabel('Upload', { exact: true }).setInputFiles(p);
      await until('the upload', async () => (await t.app.files.tryStat(ALICE.uid, 'notes.txt'))?.size === content.length);
    };

    before(async () => {
      ensureWebBuilt();
      t = await startTestInstance();
      if (v.encrypted) await enableEncryption(t);
      await t.addUser(ALICE.uid, ALICE.password);
      for (const [m, p, body] of [['MKCOL', 'Projects'], ['PUT', 'Projects/report.txt', report], ['MKCOL', 'Archive'],
        ['PUT', 'Archive/inside.txt', 'kept in a trashed folder'], ['PUT', 'scratch.txt', 'scratch']] as const) {
        const r = await t.fetch(`${DAV}/${p}`, { method: m, body, as: ALICE });
        assert.ok(r.status === 201, `${m} ${p}: ${r.status}`);
      }
      browser = await launchBrowser();
      ctx = await browser.newContext({ acceptDownloads: true, viewport: v.viewport, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'UTC' });
      ctx.setDefaultTimeout(60_000);
      page = await ctx.newPage();
    });
    after(async () => {
      await ctx?.close();
      await browser?.close();
      await t?.stop();
    });

    test('Versions: two entries with their sizes; label, download, restore, delete', async () => {
      await login(page, t.url, ALICE.uid, ALICE.password);
      await uploadVersion(v1, T1);
      await uploadVersion(v2, T2);
      await page.reload();
      await row(page, 'notes.txt').getByRole('button', { name: 'Actions for notes.txt' }).click();
      await page.getByRole('menuitem', { name: 'Versions' }).click();
      const panel = page.getByRole('dialog', { name: 'Versions of “notes.txt”' });
      const entries = panel.getByRole('list', { name: 'Versions' }).getByRole('listitem');
      await entries.nth(1).waitFor();
      assert.equal(await entries.count(), 2);
      const current = (await entries.nth(0).textContent())!;
      const old = (await entries.nth(1).textContent())!;
      assert.match(current, /Current version/);
      assert.match(current, /260 B/);
      assert.match(old, /1\.5 KB/);
      assert.match(old, /alice/, 'the author');
      assert.match(old, /14 Nov 2023, 22:13:20/, 'the version\'s date (its mtime, to the second)');
      await noOverflow('versions panel');
      await shot(page, `versions-01-panel-${v.tag}`);
      await assertNamedControls(page, 'versions panel');

      // label the old version
      await panel.getByRole('button', { name: /^Label version from/ }).click();
      await panel.getByLabel('Version label').fill('First draft');
      await assertNamedControls(page, 'versions panel, label form');
      await panel.getByRole('button', { name: 'Save label' }).click();
      await entries.nth(1).getByText('First draft').waitFor();
      const fileId = (await t.app.files.stat(ALICE.uid, 'notes.txt')).fileId;
      assert.deepEqual((await t.app.versions.repo.list(t.app.db, fileId)).map((x) => x.label), ['First draft']);
      await shot(page, `versions-02-labelled-${v.tag}`);

      // download it: the old bytes
      const [dl] = await Promise.all([page.waitForEvent('download'), panel.getByRole('link', { name: /^Download version from/ }).click()]);
      assert.equal(dl.suggestedFilename(), 'notes.txt');
      assert.deepEqual(readFileSync((await dl.path())!), v1);

      // restore it: the current content over HTTP is the old one; the overwritten one became a version
      await panel.getByRole('button', { name: /^Restore version from/ }).click();
      await page.getByText(/^Restored the version from/).waitFor();
      await until('the panel to reload', async () => /1\.5 KB/.test((await entries.nth(0).textContent()) ?? ''));
      const now = await get('notes.txt');
      assert.equal(now.status, 200);
      assert.deepEqual(now.body, v1);
      assert.equal((await t.app.files.stat(ALICE.uid, 'notes.txt')).fileId, fileId, 'the file keeps its id');
      assert.equal(await entries.count(), 2);
      assert.match((await entries.nth(1).textContent())!, /260 B/);

      // delete that version
      await panel.getByRole('button', { name: /^Delete version from/ }).click();
      await page.getByText(/^Deleted the version from/).waitFor();
      await until('the version to go', async () => (await entries.count()) === 1);
      assert.equal((await t.app.versions.repo.list(t.app.db, fileId)).length, 0);
      await focused('Download current version'); // the focused button went with its row: focus stays in the panel
      assert.deepEqual((await get('notes.txt')).body, v1);
      await panel.getByRole('button', { name: 'Close' }).first().click();
      await panel.waitFor({ state: 'detached' });
      if (v.encrypted) {
        // versions and trash stay encrypted: no plaintext of the first draft anywhere on disk
        const marker = Buffer.from('VERSION-ONE-MARKER');
        for (const f of filesUnder(t.dataDir)) assert.equal(readFileSync(f).includes(marker), false, `plaintext in ${f}`);
      }
    });

    test('Deleted files: original location, browse, restore, delete for good, empty', async () => {
      // delete a file from a subfolder, a folder and a file at the root through the UI
      await page.goto(`${t.url}/apps/files?dir=${encodeURIComponent('/Projects')}`);
      for (const [name, back] of [['report.txt', false], ['Archive', true], ['scratch.txt', false]] as const) {
        if (back) await page.goto(`${t.url}/apps/files`);
        await row(page, name).getByRole('button', { name: `Actions for ${name}` }).click();
        await page.getByRole('menuitem', { name: 'Delete' }).click();
        await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
        await row(page, name).waitFor({ state: 'detached' });
      }
      await page.getByRole('navigation', { name: 'Apps' }).getByRole('link', { name: 'Deleted files' }).click();
      await row(page, 'report.txt').waitFor();
      assert.match(page.url(), /\/apps\/files\/trashbin$/);
      assert.equal(await page.locator('table.files-table tbody tr').count(), 3);
      // where it was deleted from (a column at desktop width, under the name on phones)
      const where = v.tag === 'desktop' ? row(page, 'report.txt').locator('td.col-origin') : row(page, 'report.txt').locator('.trash-sub');
      assert.ok(await where.isVisible());
      assert.match((await where.textContent())!, /^Projects/);
      await noOverflow('deleted files');
      await shot(page, `trash-01-list-${v.tag}`);
      await assertNamedControls(page, 'deleted files');

      // into the trashed folder
      await row(page, 'Archive').getByRole('link', { name: 'Archive' }).click();
      await row(page, 'inside.txt').waitFor();
      assert.match((await row(page, 'inside.txt').textContent())!, /Archive/);
      await noOverflow('a trashed folder');
      await shot(page, `trash-01b-folder-${v.tag}`);
      await assertNamedControls(page, 'a trashed folder');
      await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: 'Deleted files' }).click();
      await row(page, 'report.txt').waitFor();

      // restore one: back where it was with the same content
      await page.getByRole('button', { name: 'Restore report.txt' }).click();
      await row(page, 'report.txt').waitFor({ state: 'detached' });
      await focused('Restore Archive'); // the next row's button, not the page
      const back = await get('Projects/report.txt');
      assert.equal(back.status, 200);
      assert.deepEqual(back.body, report);

      // delete one for good
      await page.getByRole('button', { name: 'Delete Archive permanently' }).click();
      const confirm = page.getByRole('alertdialog', { name: 'Delete “Archive” permanently?' });
      await confirm.getByText('and everything in it will be deleted for good').waitFor();
      await assertNamedControls(page, 'delete permanently confirmation');
      await confirm.getByRole('button', { name: 'Delete permanently' }).click();
      await row(page, 'Archive').waitFor({ state: 'detached' });
      assert.deepEqual((await t.app.trash.list(SYSTEM, ALICE.uid)).map((i) => i.item.name), ['scratch.txt']);

      // empty, after a confirmation
      await page.getByRole('button', { name: 'Empty deleted files' }).click();
      const empty = page.getByRole('alertdialog', { name: 'Empty deleted files?' });
      await empty.getByText('The deleted item will be deleted for good, with its versions.').waitFor();
      await noOverflow('empty confirmation');
      await shot(page, `trash-02-empty-confirm-${v.tag}`);
      await assertNamedControls(page, 'empty confirmation');
      await empty.getByRole('button', { name: 'Empty deleted files' }).click();
      await page.getByText('No deleted files').waitFor();
      assert.equal((await t.app.trash.usage(ALICE.uid)).count, 0);
      assert.equal((await get('scratch.txt')).status, 404);
      await shot(page, `trash-03-empty-${v.tag}`);
      await assertNamedControls(page, 'empty deleted files');
    });
  });
}
