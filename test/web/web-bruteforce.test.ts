/**
 * Chromium: the known-device cookie (docs/BRUTEFORCE.md). A browser that logged in once keeps a
 * signed device cookie (HttpOnly, SameSite=Strict, Path=/login) and logs in again at once while an
 * attacker has used up its office address and hammered the account from elsewhere; a colleague's
 * first login from that address (an unknown client there) is told to wait.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';
import { writeTestConfig } from '../support/test-instance.ts';
import { browserSkipReason, ensureWebBuilt, launchBrowser, login, newContext } from './browser-support.ts';

const skip = browserSkipReason();
const OFFICE = '203.0.113.50';
const VICTIM = { uid: 'victim', password: 'victim-password-123' };
const COLLEAGUE = { uid: 'colleague', password: 'colleague-password-123' };

describe('web UI: known-device login under attack', { skip, timeout: 180_000 }, () => {
  let app: App;
  let srv: RunningServer;
  let dir = '';
  let browser: Browser;

  before(async () => {
    ensureWebBuilt();
    const c = await writeTestConfig();
    dir = c.dir;
    const json = JSON.parse(readFileSync(c.configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(c.configPath, JSON.stringify({ ...json, trustedProxies: ['127.0.0.1'] }));
    app = await openApp(loadConfig(c.configPath), {
      logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
      throttle: { baseDelayMs: 50, maxDelayMs: 1000, maxIpAttempts: 10 },
    });
    await app.users.create(VICTIM);
    await app.users.create(COLLEAGUE);
    srv = await startServer(app, { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await srv?.close(500);
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const guess = async (ip: string, uid: string, password: string) => {
    const r = await fetch(`${srv.url}/remote.php/dav/files/${uid}/`, {
      method: 'PROPFIND', headers: { depth: '0', 'x-forwarded-for': ip, authorization: 'Basic ' + Buffer.from(`${uid}:${password}`).toString('base64') },
    });
    await r.arrayBuffer();
    return r.status;
  };

  test('the browser that logged in before gets in at once; a first login from that address waits', async () => {
    // Monday: the victim logs in from the office browser; it keeps the device cookie
    const first = await newContext(browser);
    await first.setExtraHTTPHeaders({ 'x-forwarded-for': OFFICE });
    await login(await first.newPage(), srv.url, VICTIM.uid, VICTIM.password);
    const device = (await first.cookies()).find((c) => c.name === 'coffer_device');
    assert.ok(device, 'device cookie set');
    assert.equal(device.httpOnly, true);
    assert.equal(device.sameSite, 'Strict');
    assert.equal(device.path, '/login');
    assert.ok(device.expires > Date.now() / 1000 + 90 * 86_400, 'long-lived');
    // the session ends (logout, expiry); only the device cookie stays in the browser
    const state = await first.storageState();
    await first.close();

    // the attacker fills the office address's budget and hammers the account from elsewhere
    const office: number[] = [];
    for (let i = 0; i < 11; i++) office.push(await guess(OFFICE, `someone-${i}`, 'wrong'));
    assert.equal(office.at(-1), 429);
    const far = await Promise.all(Array.from({ length: 20 }, (_, i) => guess(`100.64.${i}.1`, VICTIM.uid, `guess-${i}`)));
    assert.ok(far.every((s) => s === 401), far.join(','));

    // the office browser, with its device cookie: straight in
    const back = await browser.newContext({ storageState: { ...state, cookies: state.cookies.filter((c) => c.name === 'coffer_device') } });
    await back.setExtraHTTPHeaders({ 'x-forwarded-for': OFFICE });
    const page = await back.newPage();
    const t0 = performance.now();
    await login(page, srv.url, VICTIM.uid, VICTIM.password);
    assert.ok(performance.now() - t0 < 20_000);
    await back.close();

    // a colleague's first login at the office (new browser, never logged in from there) is an
    // unknown client of a throttled address: told to wait
    const fresh = await newContext(browser);
    await fresh.setExtraHTTPHeaders({ 'x-forwarded-for': OFFICE });
    const p2 = await fresh.newPage();
    await p2.goto(`${srv.url}/login`);
    await p2.getByLabel('Username').fill(COLLEAGUE.uid);
    await p2.getByLabel('Password').fill(COLLEAGUE.password);
    await p2.getByRole('button', { name: 'Log in' }).click();
    await p2.getByRole('alert').filter({ hasText: /Too many failed attempts\. Try again in \d+ seconds\./ }).waitFor();
    await fresh.close();
  });
});
