/**
 * The single-page app logged an error ("headers already sent") on every page
 * load: its Cache-Control was set after the page had gone out. Real HTTP on loopback, the server's
 * own log captured, and the page loaded in Chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext } from '../web/browser-support.ts';

describe('SPA page loads', { timeout: 180_000 }, () => {
  let t: TestInstance;
  const lines: { level: number; msg: string; err?: { message?: string } }[] = [];
  before(async () => {
    ensureWebBuilt();
    const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); cb(); } });
    t = await startTestInstance({ logger: pino({ level: 'info' }, sink) });
  });
  after(async () => { await t?.stop(); });

  const errors = () => lines.filter((l) => l.level >= 40).map((l) => `${l.msg}: ${l.err?.message ?? ''}`);

  test('GET and HEAD of the SPA pages: no-store, and nothing in the error log', async () => {
    const s = await t.app.sessions.create(ADMIN.uid);
    for (const path of ['/', '/apps/files', '/settings/personal', '/index.php']) {
      for (const method of ['GET', 'HEAD']) {
        const r = await fetch(`${t.url}${path}`, { method, headers: { cookie: `coffer_session=${s.token}` } });
        assert.equal(r.status, 200, `${method} ${path}`);
        assert.equal(r.headers.get('cache-control'), 'no-store', `${method} ${path}`);
        await r.arrayBuffer();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(errors(), []);
  });

  test('Chromium: logging in and loading the files app logs no server error', { skip: browserSkipReason() }, async () => {
    const browser = await launchBrowser();
    try {
      const page = await (await newContext(browser)).newPage();
      await login(page, t.url, ADMIN.uid, ADMIN.password);
      await page.reload();
      await page.getByRole('navigation', { name: 'Breadcrumbs' }).waitFor();
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(errors(), []);
    } finally {
      await browser.close();
    }
  });
});
