import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import { deviceTokenOf, rememberDevice } from './device-cookie.ts';
import { safeEqual } from '../auth/session-service.ts';
import { AuthenticationError, ThrottledError } from '../errors.ts';
import type { HttpContext } from '../http/context.ts';
import {
  appendSetCookie, clearSessionCookie, cookieHeader, CSRF_HEADER, isSecureRequest, parseCookies, resolveSession, SESSION_COOKIE,
} from './session-auth.ts';
import { TooLargeError, ValidationError } from '../errors.ts';
import { esc, readBody, redirect, safeRedirectTarget, sendHtml, sendJson, str } from './web-http.ts';
import { beginSecondStep } from './two-factor-page.ts';

/** Cookie carrying the login form's CSRF nonce (double submit; SameSite=Strict). */
const LOGIN_CSRF_COOKIE = 'coffer_login_csrf';

/**
 * Known-device cookie (docs/BRUTEFORCE.md): set after a successful login, it gives this browser
 * its own attempt budget for that user, so others' failures never lock it out. Only the login
 * form reads it (Path=/login).
 */

/** A whole server-rendered page in the web UI's look (styles from /web/login.css, no inline code). */
export function pageShell(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)} – Coffer</title>
<link rel="icon" href="/web/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/web/login.css">
</head>
<body class="guest">
<main class="guest-main">
<div class="brand" aria-hidden="true"><img src="/web/favicon.svg" alt="" width="56" height="56"><span>Coffer</span></div>
${body}
</main>
<footer class="guest-footer">Coffer – your files, encrypted at rest, on your own server</footer>
</body>
</html>`;
}

function loginForm(opts: { csrf: string; redirectUrl: string; user?: string; error?: string; notice?: string }): string {
  const err = opts.error ? `<p class="msg error" role="alert">${esc(opts.error)}</p>` : '';
  const note = opts.notice ? `<p class="msg notice" role="status">${esc(opts.notice)}</p>` : '';
  return pageShell('Log in', `<form class="card" method="post" action="/login" aria-labelledby="login-title">
<h1 id="login-title">Log in to Coffer</h1>
${err}${note}
<input type="hidden" name="requesttoken" value="${esc(opts.csrf)}">
<input type="hidden" name="redirect_url" value="${esc(opts.redirectUrl)}">
<label for="user">Username</label>
<input id="user" name="user" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required${opts.user ? '' : ' autofocus'} value="${esc(opts.user ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${opts.user ? ' autofocus' : ''}>
<button type="submit" class="primary">Log in</button>
</form>`);
}

function newLoginCsrf(app: App, req: IncomingMessage, res: ServerResponse): string {
  const nonce = randomBytes(32).toString('base64url');
  appendSetCookie(res, cookieHeader(LOGIN_CSRF_COOKIE, nonce, { secure: isSecureRequest(app, req), sameSite: 'Strict', maxAge: 3600 }));
  return nonce;
}

/** `GET /login` (the form) and `POST /login` (user, password, requesttoken, redirect_url). */
export async function handleLogin(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const app = ctx.app;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const target = safeRedirectTarget(ctx.query.get('redirect_url'));
    if (await resolveSession(app, req)) { redirect(res, target); return; }
    const csrf = newLoginCsrf(app, req, res);
    const notice = ctx.query.get('loggedout') ? 'You have been logged out.' : undefined;
    sendHtml(res, 200, loginForm({ csrf, redirectUrl: target, notice }));
    return;
  }
  if (req.method !== 'POST') { res.statusCode = 405; res.setHeader('Allow', 'GET, POST'); res.end(); return; }
  const body = await readFormOrRefuse(req, res);
  if (!body) return;
  const user = str(body, 'user', false).trim();
  const password = str(body, 'password', false);
  const target = safeRedirectTarget(str(body, 'redirect_url', false));
  const nonce = parseCookies(req.headers.cookie).get(LOGIN_CSRF_COOKIE);
  if (!nonce || !safeEqual(nonce, str(body, 'requesttoken', false))) {
    const csrf = newLoginCsrf(app, req, res);
    sendHtml(res, 403, loginForm({ csrf, redirectUrl: target, user, error: 'Your session expired. Please try again.' }));
    return;
  }
  try {
    if (!user || !password) throw new AuthenticationError('Missing credentials');
    const deviceToken = deviceTokenOf(req);
    const au = await app.auth.authenticatePassword(user, password, ctx.ip, { method: 'web', allowAppPassword: false, deviceToken, firstFactorOnly: true });
    // Two-factor users get the second step instead of a session.
    if (await beginSecondStep(app, req, res, au.uid, target)) return;
    const s = await app.sessions.create(au.uid, { userAgent: String(req.headers['user-agent'] ?? ''), ip: ctx.ip });
    void app.sessions.cleanup().catch((err: unknown) => ctx.log.warn({ err }, 'session cleanup failed'));
    const secure = isSecureRequest(app, req);
    appendSetCookie(res, cookieHeader(SESSION_COOKIE, s.token, { secure }));
    appendSetCookie(res, cookieHeader(LOGIN_CSRF_COOKIE, '', { secure, sameSite: 'Strict', maxAge: 0 }));
    rememberDevice(app, req, res, au.uid, secure);
    redirect(res, target);
  } catch (err) {
    const csrf = newLoginCsrf(app, req, res);
    if (err instanceof ThrottledError) {
      sendHtml(res, 429, loginForm({ csrf, redirectUrl: target, user, error: `Too many failed attempts. Try again in ${err.retryAfterSeconds} seconds.` }),
        { 'Retry-After': String(err.retryAfterSeconds) });
      return;
    }
    if (err instanceof AuthenticationError) {
      sendHtml(res, 401, loginForm({ csrf, redirectUrl: target, user, error: 'Wrong login or password.' }));
      return;
    }
    throw err;
  }
}

/** `POST /logout` (requesttoken as a form field or header): ends the session. */
export async function handleLogout(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const app = ctx.app;
  if (req.method !== 'POST') { res.statusCode = 405; res.setHeader('Allow', 'POST'); res.end(); return; }
  const s = await resolveSession(app, req);
  const body = await readBody(req).catch(() => ({} as Record<string, unknown>));
  const header = req.headers[CSRF_HEADER];
  const given = (Array.isArray(header) ? header[0] : header) ?? str(body, 'requesttoken', false);
  if (s && !app.sessions.checkCsrf(s.token, given)) { sendJson(res, 403, { error: { code: 'csrf', message: 'CSRF check failed' } }); return; }
  if (s) {
    await app.sessions.destroy(s.token);
    await app.audit.record('logout', { uid: s.user.uid, ip: ctx.ip }).catch(() => {});
  }
  clearSessionCookie(app, req, res);
  redirect(res, '/login?loggedout=1');
}

/** `GET|POST /login/v2/flow/<token>`: the page a desktop/mobile client opens to get an app password. */
export async function handleLoginFlowPage(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const app = ctx.app;
  const base = ctx.rawPath.startsWith('/index.php/') ? '/index.php/login/v2/flow/' : '/login/v2/flow/';
  const loginToken = ctx.rawPath.slice(base.length);
  if (!/^[A-Za-z0-9_-]{16,256}$/.test(loginToken)) { sendHtml(res, 404, pageShell('Not found', '<div class="card"><h1>Link not valid</h1><p>This login link is not valid.</p></div>')); return; }
  const s = await resolveSession(app, req);
  if (!s) { req.resume(); redirect(res, `/login?redirect_url=${encodeURIComponent(ctx.rawPath)}`); return; }
  let clientName: string;
  try {
    clientName = (await app.loginFlow.pending(loginToken)).clientName || 'A client';
  } catch {
    req.resume();
    sendHtml(res, 404, pageShell('Link expired', '<div class="card"><h1>Link expired</h1><p>This login link has expired or was already used. Start the login again from your client.</p></div>'));
    return;
  }
  if (req.method === 'POST') {
    const body = await readFormOrRefuse(req, res);
    if (!body) return;
    if (!app.sessions.checkCsrf(s.token, str(body, 'requesttoken', false))) {
      sendHtml(res, 403, pageShell('Error', '<div class="card"><h1>Request refused</h1><p>The form expired. Reload the page and try again.</p></div>'));
      return;
    }
    await app.loginFlow.grant(loginToken, s.user.uid);
    await app.audit.record('login_flow.granted', { uid: s.user.uid, ip: ctx.ip }).catch(() => {});
    sendHtml(res, 200, pageShell('Account connected', `<div class="card"><h1>Account connected</h1>
<p role="status">${esc(clientName)} is now connected to your account <strong>${esc(s.user.displayName)}</strong>. You can close this window.</p></div>`));
    return;
  }
  sendHtml(res, 200, pageShell('Connect to your account', `<form class="card" method="post" action="${esc(ctx.rawPath)}">
<h1>Connect to your account</h1>
<p><strong>${esc(clientName)}</strong> wants to connect to your Coffer account and sync your files.</p>
<p class="muted">Logged in as <strong>${esc(s.user.displayName)}</strong> (${esc(s.user.uid)}). The client gets its own app password; you can revoke it any time under Personal settings → Devices &amp; app passwords.</p>
<input type="hidden" name="requesttoken" value="${esc(s.csrfToken)}">
<button type="submit" class="primary">Grant access</button>
</form>`));
}

/** Reads a form/JSON body; a too-large (413) or malformed (400) body gets a page and `undefined`. */
async function readFormOrRefuse(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | undefined> {
  try {
    return await readBody(req);
  } catch (err) {
    const status = err instanceof TooLargeError ? 413 : err instanceof ValidationError ? 400 : 0;
    if (!status) throw err;
    sendHtml(res, status, pageShell('Request refused', `<div class="card"><h1>Request refused</h1><p>${esc((err as Error).message)}</p></div>`));
    return undefined;
  }
}
