/**
 * Shared pieces of the web UI browser tests: Debian's chromium through playwright-core, a fresh
 * Coffer instance, logging in, screenshots into test-artifacts/screenshots.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOTS = join(ROOT, 'test-artifacts', 'screenshots');

/**
 * Why browser tests cannot run here, or undefined when they can. Under CI=true a missing chromium
 * is an error (thrown), elsewhere the tests skip with this message.
 */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const msg = `chromium not found at ${CHROMIUM} (apt-get install -y chromium); skipping browser tests`;
  if (process.env.CI === 'true') throw new Error(msg);
  return msg;
}

function newestMtime(dir: string): number {
  let max = 0;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = statSync(p);
    max = Math.max(max, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return max;
}

/** Builds web/dist when it is missing or older than web/src (so tests never run stale assets). */
export function ensureWebBuilt(): void {
  const index = join(ROOT, 'web', 'dist', 'index.html');
  const fresh = () => {
    const srcNewest = Math.max(newestMtime(join(ROOT, 'web', 'src')), newestMtime(join(ROOT, 'web', 'public')));
    return existsSync(index) && statSync(index).mtimeMs >= srcNewest;
  };
  if (fresh()) return;
  // Test files run in parallel processes: one builds, the others wait for it.
  const lock = join(ROOT, 'web', '.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try { mkdirSync(lock); break; } catch { /* held by another process */ }
    if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) { rmSync(lock, { recursive: true, force: true }); continue; }
    if (Date.now() > deadline) throw new Error('timed out waiting for another web build');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
  try {
    if (fresh()) return;
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'error'],
      { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('vite build failed');
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export async function newContext(browser: Browser, opts: { phone?: boolean } = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({
    acceptDownloads: true,
    viewport: opts.phone ? { width: 375, height: 740 } : { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    locale: 'en-GB',
    // The share dialog's copy button writes the clipboard; tests read it back.
    permissions: ['clipboard-read', 'clipboard-write'],
    timezoneId: 'UTC',
  });
  ctx.setDefaultTimeout(60_000);
  return ctx;
}

/** Saves a full-page screenshot as test-artifacts/screenshots/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Logs in through the form and waits for the files view. */
export async function login(page: Page, baseUrl: string, user: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Breadcrumbs' }).waitFor();
}

/** The files table row of `name`. */
export function row(page: Page, name: string) {
  return page.locator('table.files-table tbody tr').filter({ has: page.locator('.name-text', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });
}

interface AXNode { ignored?: boolean; role?: { value?: string }; name?: { value?: string }; backendDOMNodeId?: number }
/** Roles of controls (what a screen reader lets you operate): each needs an accessible name. */
const CONTROL_ROLES = new Set([
  'button', 'link', 'textbox', 'searchbox', 'checkbox', 'radio', 'combobox', 'listbox', 'menuitem', 'menuitemcheckbox',
  'switch', 'slider', 'spinbutton', 'tab', 'progressbar', 'Date', 'DateTime', 'PopUpButton',
]);

/**
 * Fails when a control on the page has no accessible name, as Chromium's accessibility tree
 * computes it (labels, aria-label, text content): names the role and the element's HTML.
 */
export async function assertNamedControls(page: Page, where: string): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree') as unknown as { nodes: AXNode[] };
    const controls = nodes.filter((n) => !n.ignored && CONTROL_ROLES.has(n.role?.value ?? ''));
    const unnamed: string[] = [];
    for (const n of controls) {
      if (String(n.name?.value ?? '').trim() !== '') continue;
      let html = '';
      if (n.backendDOMNodeId !== undefined) {
        const { object } = await cdp.send('DOM.resolveNode', { backendNodeId: n.backendDOMNodeId });
        const r = await cdp.send('Runtime.callFunctionOn', { objectId: object.objectId!, functionDeclaration: 'function () { return this.outerHTML ? this.outerHTML.slice(0, 160) : String(this.nodeName); }', returnByValue: true });
        html = String(r.result.value);
      }
      unnamed.push(`${n.role?.value}: ${html}`);
    }
    // Chromium names an unlabelled file input "Choose File": require a real label or aria-label.
    const files = await page.evaluate(() => [...document.querySelectorAll<HTMLInputElement>('input[type=file]')]
      .filter((i) => !i.getAttribute('aria-label') && !i.getAttribute('aria-labelledby') && (i.labels?.length ?? 0) === 0).map((i) => i.outerHTML));
    unnamed.push(...files.map((h) => `file input: ${h}`));
    if (unnamed.length) throw new Error(`${where}: controls without an accessible name:\n${unnamed.join('\n')}`);
    if (controls.length === 0) throw new Error(`${where}: no controls found (page not loaded?)`);
    return controls.length;
  } finally {
    await cdp.detach();
  }
}
