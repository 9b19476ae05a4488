/**
 * Browser end-to-end: the file list shows thumbnails of images (and the file icon for others), the
 * public link page shows the shared image's preview and the folder's thumbnails; screenshots.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext, row, shot } from './browser-support.ts';
import { scene, upload } from '../previews/helpers.ts';
import { share } from '../sharing/helpers.ts';

const skip = browserSkipReason();

describe('web UI: thumbnails', { skip, timeout: 180_000 }, () => {
  let t: TestInstance;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;

  before(async () => {
    ensureWebBuilt();
    t = await startTestInstance();
    await t.fetch(`/remote.php/dav/files/${ADMIN.uid}/Photos`, { method: 'MKCOL' });
    await upload(t, ADMIN, 'Photos/sunset.jpg', await scene(640, 400, 'jpeg', '#f06a1a', '#ffd23f', '#5a2a0a'));
    await upload(t, ADMIN, 'Photos/sea.png', await scene(300, 300, 'png', '#1f6fd0', '#ffffff', '#0a3a7a'));
    await upload(t, ADMIN, 'Photos/leaf.webp', await scene(200, 300, 'webp', '#3aa84a', '#f5f06a', '#1d5a22'));
    await upload(t, ADMIN, 'Photos/readme.txt', 'not an image');
    browser = await launchBrowser();
    ctx = await newContext(browser);
    page = await ctx.newPage();
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await t?.stop();
  });

  /** The natural size and mean colour of the thumbnail the browser loaded for `name`. */
  async function thumbOf(name: string): Promise<{ w: number; h: number; rgb: number[] }> {
    const img = row(page, name).locator('img.thumb');
    await img.waitFor();
    await page.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await img.elementHandle(), { timeout: 30_000 });
    const src = await img.getAttribute('src');
    const data = await page.evaluate(async (u) => { const r = await fetch(u!); return [...new Uint8Array(await r.arrayBuffer())]; }, src);
    const stats = await sharp(Buffer.from(data)).stats();
    const meta = await sharp(Buffer.from(data)).metadata();
    return { w: meta.width!, h: meta.height!, rgb: stats.channels.slice(0, 3).map((c) => Math.round(c.mean)) };
  }

  test('the file list shows a thumbnail per image, the file icon for the rest', async () => {
    await login(page, t.url, ADMIN.uid, ADMIN.password);
    await page.goto(`${t.url}/apps/files/?dir=/Photos`);
    await row(page, 'sunset.jpg').waitFor();
    const sunset = await thumbOf('sunset.jpg');
    assert.deepEqual([sunset.w, sunset.h], [64, 64]);
    assert.ok(sunset.rgb[0]! > 180 && sunset.rgb[2]! < sunset.rgb[0]! - 60, `an orange thumbnail, got ${sunset.rgb}`);
    const sea = await thumbOf('sea.png');
    assert.ok(sea.rgb[2]! > sea.rgb[0]! + 40, `a blue thumbnail, got ${sea.rgb}`);
    await thumbOf('leaf.webp');
    assert.equal(await row(page, 'readme.txt').locator('img.thumb').count(), 0);
    assert.equal(await row(page, 'readme.txt').locator('svg.icon.file').count(), 1);
    await shot(page, 'previews-01-file-list');
  });

  test('the public link page shows the image and a folder\'s thumbnails', async () => {
    const file = await share(t, ADMIN, { path: '/Photos/sunset.jpg', shareType: 3 });
    const anon = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    try {
      const p = await anon.newPage();
      await p.goto(`${t.url}/s/${file.token}`);
      const img = p.locator('img.share-preview');
      await p.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await img.elementHandle(), { timeout: 30_000 });
      assert.equal(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth), 512);
      await shot(p, 'previews-02-link-file');
      const folder = await share(t, ADMIN, { path: '/Photos', shareType: 3, password: 'pw-for-the-link-1' });
      await p.goto(`${t.url}/s/${folder.token}`);
      await p.getByLabel('Password').fill('pw-for-the-link-1');
      await p.getByRole('button', { name: 'Open' }).click();
      const thumbs = p.locator('.file-list img.thumb');
      await thumbs.first().waitFor();
      assert.equal(await thumbs.count(), 3);
      for (const el of await thumbs.elementHandles()) {
        await p.waitForFunction((e) => (e as HTMLImageElement).complete && (e as HTMLImageElement).naturalWidth > 0, el, { timeout: 30_000 });
      }
      await shot(p, 'previews-03-link-folder');
    } finally {
      await anon.close();
    }
  });
});
