/** Logs in through the web UI's form (GET /login for its CSRF token and cookie, POST it). */
export interface WebSession {
  /** The POST /login answer's status (303 on success). */
  readonly loginStatus: number;
  /** `coffer_session=…` for a Cookie header. */
  readonly cookie: string;
  /** The request token every write of the web API needs (header `requesttoken`). */
  readonly csrfToken: string;
}

/** @throws Error when the login does not give a session. */
export async function webLogin(url: string, user: string, password: string): Promise<WebSession> {
  const page = await fetch(`${url}/login`);
  const csrf = /name="requesttoken" value="([^"]+)"/.exec(await page.text())![1]!;
  const nonce = page.headers.getSetCookie().find((c) => c.startsWith('coffer_login_csrf='))!.split(';')[0]!;
  const login = await fetch(`${url}/login`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: nonce },
    body: new URLSearchParams({ user, password, requesttoken: csrf, redirect_url: '/' }).toString(),
  });
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('coffer_session='))?.split(';')[0];
  if (!cookie) throw new Error(`web login of ${user} failed: ${login.status}`);
  const session = await (await fetch(`${url}/web/api/session`, { headers: { cookie } })).json() as { csrfToken: string };
  return { loginStatus: login.status, cookie, csrfToken: session.csrfToken };
}
