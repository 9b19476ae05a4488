/** Helpers of the two-factor tests: an authenticator "phone" and the web login over plain HTTP. */
import { totpCode, totpStep, TOTP_PERIOD_SECONDS } from '../../src/auth/totp.ts';

/**
 * Computes TOTP codes as an authenticator app would, each for a time step the server has not
 * accepted yet (it refuses a step twice): the current step, or the next one; when both are used,
 * it waits for the clock.
 */
export class Phone {
  #last = -1;
  constructor(readonly secret: string) {}

  /** A fresh valid code. */
  async code(): Promise<string> {
    for (;;) {
      const now = totpStep(Date.now());
      const step = Math.max(this.#last + 1, now);
      if (step <= now + 1) { this.#last = step; return totpCode(this.secret, step); }
      await new Promise((r) => setTimeout(r, (TOTP_PERIOD_SECONDS * 1000) - (Date.now() % (TOTP_PERIOD_SECONDS * 1000)) + 50));
    }
  }

  /** A code that is certainly wrong (not the code of any step in the window). */
  wrongCode(): string {
    const now = totpStep(Date.now());
    const valid = new Set([-1, 0, 1, 2].map((d) => totpCode(this.secret, now + d)));
    for (let i = 0; ; i++) { const c = String(123456 + i * 7919).padStart(6, '0').slice(-6); if (!valid.has(c)) return c; }
  }
}

/** A tiny cookie jar for fetch with redirects handled by hand. */
export class Jar {
  readonly #c = new Map<string, string>();
  take(res: Response): void {
    for (const sc of res.headers.getSetCookie()) {
      const [kv] = sc.split(';');
      const i = kv!.indexOf('=');
      const k = kv!.slice(0, i);
      const v = kv!.slice(i + 1);
      if (v === '' || /Max-Age=0/i.test(sc)) this.#c.delete(k); else this.#c.set(k, v);
    }
  }
  get(name: string): string | undefined { return this.#c.get(name); }
  header(): string { return [...this.#c].map(([k, v]) => `${k}=${v}`).join('; '); }
  /** fetch without following redirects, cookies in and out. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#c.size) headers.set('cookie', this.header());
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.take(res);
    return res;
  }
  /** POSTs an urlencoded form. */
  post(url: string, form: Record<string, string>): Promise<Response> {
    return this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }
}

/** The value of the hidden `requesttoken` field of a page. */
export function formToken(html: string): string {
  const m = /name="requesttoken" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no requesttoken in page');
  return m[1]!;
}

/** GET /login then POST it: the response of the POST (303 to the challenge or the target, 401, 429…). */
export async function postPassword(jar: Jar, base: string, user: string, password: string, redirectUrl = '/'): Promise<Response> {
  const page = await jar.fetch(`${base}/login?redirect_url=${encodeURIComponent(redirectUrl)}`);
  const token = formToken(await page.text());
  return jar.post(`${base}/login`, { user, password, requesttoken: token, redirect_url: redirectUrl });
}

/** GET the challenge page at `location`, POST `code`: the response of the POST. */
export async function postCode(jar: Jar, base: string, location: string, code: string): Promise<Response> {
  const page = await jar.fetch(base + location);
  if (page.status !== 200) throw new Error(`challenge page: ${page.status}`);
  const token = formToken(await page.text());
  return jar.post(base + location, { code, requesttoken: token });
}
