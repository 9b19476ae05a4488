import { rememberDevice } from './device-cookie.ts';
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import { safeEqual } from '../auth/session-service.ts';
import { AuthenticationError, ConflictError, ThrottledError, TooLargeError, ValidationError } from '../errors.ts';
import type { HttpContext } from '../http/context.ts';
import { pageShell } from './login-page.ts';
import { qrDataUrl } from './qr-code.ts';
import { appendSetCookie, cookieHeader, isSecureRequest, parseCookies, SESSION_COOKIE } from './session-auth.ts';
import { esc, readBody, redirect, safeRedirectTarget, sendHtml, str } from './web-http.ts';

/**
 * The second login step of the web UI (and so of Login Flow v2, whose page needs a session).
 * After a correct password, a user who needs a second factor gets no session but a short-lived
 * "password passed" cookie, signed with the instance secret (any server process can check it, no
 * state kept); only a TOTP or backup code on `/login/challenge` turns it into a session. A user
 * covered by enforcement who has not enrolled sets TOTP up there first, as in Nextcloud.
 */

/** Path of the second step. */
export const CHALLENGE_PATH = '/login/challenge';
const PENDING_COOKIE = 'coffer_2fa';
/** Time to type the code after the password (Nextcloud keeps it in the PHP session; 5 minutes here). */
const PENDING_SECONDS = 300;

function mac(app: App, purpose: string, data: string): string {
  return createHmac('sha256', app.config.secret).update(`coffer-2fa-${purpose}\0`).update(data, 'utf8').digest('base64url');
}

/** The pending-login cookie value: `<payload>.<HMAC>`, payload = uid, expiry and a nonce. */
function pendingValue(app: App, uid: string): string {
  const payload = Buffer.from(JSON.stringify({ u: uid, e: Math.floor(Date.now() / 1000) + PENDING_SECONDS, n: randomBytes(16).toString('base64url') }), 'utf8').toString('base64url');
  return `${payload}.${mac(app, 'pending', payload)}`;
}

/** The uid of a valid, unexpired pending-login cookie, and the cookie value (its form token derives from it). */
function readPending(app: App, req: IncomingMessage): { uid: string; value: string } | undefined {
  const value = parseCookies(req.headers.cookie).get(PENDING_COOKIE);
  if (!value || value.length > 1024) return undefined;
  const [payload, sig] = value.split('.', 2);
  if (!payload || !sig || !safeEqual(mac(app, 'pending', payload), sig)) return undefined;
  try {
    const p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { u?: unknown; e?: unknown };
    if (typeof p.u !== 'string' || typeof p.e !== 'number' || p.e <= Date.now() / 1000) return undefined;
    return { uid: p.u, value };
  } catch {
    return undefined;
  }
}

function setPendingCookie(app: App, req: IncomingMessage, res: ServerResponse, value: string, maxAge: number): void {
  appendSetCookie(res, cookieHeader(PENDING_COOKIE, value, { secure: isSecureRequest(app, req), sameSite: 'Strict', maxAge }));
}

/**
 * Called by the login form after a correct password: when `uid` needs a second factor, answers
 * with a redirect to the second step (and no session).
 * @returns true when it answered (the caller must not start a session), false otherwise
 */
export async function beginSecondStep(app: App, req: IncomingMessage, res: ServerResponse, uid: string, target: string): Promise<boolean> {
  if (!(await app.twoFactor.requiresSecondFactor(uid))) return false;
  setPendingCookie(app, req, res, pendingValue(app, uid), PENDING_SECONDS);
  redirect(res, `${CHALLENGE_PATH}?redirect_url=${encodeURIComponent(target)}`);
  return true;
}

function challengeForm(o: { action: string; token: string; error?: string }): string {
  const err = o.error ? `<p class="msg error" role="alert">${esc(o.error)}</p>` : '';
  return pageShell('Two-factor authentication', `<form class="card" method="post" action="${esc(o.action)}" aria-labelledby="tfa-title">
<h1 id="tfa-title">Two-factor authentication</h1>
${err}
<p>Enter the code from your authenticator app, or one of your backup codes.</p>
<input type="hidden" name="requesttoken" value="${esc(o.token)}">
<label for="code">Authentication code</label>
<input id="code" name="code" type="text" inputmode="text" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="32" required autofocus>
<button type="submit" class="primary">Verify</button>
<p class="muted"><a href="/login">Cancel login</a></p>
</form>`);
}

function setupForm(o: { action: string; token: string; secret: string; uri: string; error?: string }): string {
  const err = o.error ? `<p class="msg error" role="alert">${esc(o.error)}</p>` : '';
  return pageShell('Set up two-factor authentication', `<form class="card" method="post" action="${esc(o.action)}" aria-labelledby="tfa-title">
<h1 id="tfa-title">Set up two-factor authentication</h1>
${err}
<p>Your administrator requires a second factor. Scan this QR code with an authenticator app (or enter the secret), then enter the code it shows.</p>
<img class="qr" src="${esc(qrDataUrl(o.uri))}" alt="QR code for your authenticator app" width="225" height="225">
<p>Secret: <code id="totp-secret">${esc(o.secret)}</code></p>
<input type="hidden" name="requesttoken" value="${esc(o.token)}">
<label for="code">Authentication code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="16" required autofocus>
<button type="submit" class="primary">Verify and enable</button>
<p class="muted"><a href="/login">Cancel login</a></p>
</form>`);
}

/** `GET|POST /login/challenge`: the code form (or, under enforcement, TOTP setup); a right code starts the session. */
export async function handleChallenge(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const app = ctx.app;
  const target = safeRedirectTarget(ctx.query.get('redirect_url'));
  const action = `${CHALLENGE_PATH}?redirect_url=${encodeURIComponent(target)}`;
  const pending = readPending(app, req);
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') { req.resume(); res.statusCode = 405; res.setHeader('Allow', 'GET, POST'); res.end(); return; }
  if (!pending) { req.resume(); redirect(res, `/login?redirect_url=${encodeURIComponent(target)}`); return; }
  const { uid } = pending;
  const token = mac(app, 'form', pending.value);
  const enrolled = await app.twoFactor.isEnabled(uid);
  if (!enrolled && !(await app.twoFactor.isEnforcedFor(uid))) {
    // Turned off since the password step (admin): nothing to ask; log in again, without a second step.
    req.resume();
    setPendingCookie(app, req, res, '', 0);
    redirect(res, `/login?redirect_url=${encodeURIComponent(target)}`);
    return;
  }
  const render = async (status: number, error?: string, headers: Record<string, string> = {}) => {
    if (enrolled) { sendHtml(res, status, challengeForm({ action, token, error }), headers); return; }
    // The pending secret stays across reloads and mistyped codes (the app may have scanned it already).
    const t = (await app.twoFactor.pendingTotp(uid)) ?? await app.twoFactor.beginTotp(uid);
    sendHtml(res, status, setupForm({ action, token, ...t, error }), headers);
  };
  if (req.method !== 'POST') { req.resume(); await render(200); return; }
  let body: Record<string, unknown>;
  try {
    body = await readBody(req);
  } catch (err) {
    if (!(err instanceof TooLargeError || err instanceof ValidationError)) throw err;
    await render(err instanceof TooLargeError ? 413 : 400, 'The form could not be read. Try again.');
    return;
  }
  // SameSite=Strict keeps the cookie off cross-site posts already; the token derived from it is the second lock.
  if (!safeEqual(token, str(body, 'requesttoken', false))) { await render(403, 'Your session expired. Please try again.'); return; }
  const code = str(body, 'code', false);
  try {
    if (enrolled) await app.twoFactor.verifyChallenge(uid, code, ctx.ip);
    else await app.twoFactor.confirmTotp(uid, code, ctx.ip);
  } catch (err) {
    if (err instanceof ThrottledError) { await render(429, `Too many failed attempts. Try again in ${err.retryAfterSeconds} seconds.`, { 'Retry-After': String(err.retryAfterSeconds) }); return; }
    if (err instanceof AuthenticationError) { await render(401, 'Wrong or already used code.'); return; }
    if (err instanceof ConflictError) { await render(409, 'Two-factor setup changed meanwhile. Enter a code for the secret shown now.'); return; }
    throw err;
  }
  const u = await app.users.get(uid).catch(() => undefined);
  if (!u?.enabled) { setPendingCookie(app, req, res, '', 0); redirect(res, '/login'); return; }
  const s = await app.sessions.create(uid, { userAgent: String(req.headers['user-agent'] ?? ''), ip: ctx.ip });
  await app.audit.record('login.success', { uid, ip: ctx.ip, method: enrolled ? 'web+two-factor' : 'web+two-factor-setup' }).catch(() => {});
  appendSetCookie(res, cookieHeader(SESSION_COOKIE, s.token, { secure: isSecureRequest(app, req) }));
  rememberDevice(app, req, res, uid, isSecureRequest(app, req));
  setPendingCookie(app, req, res, '', 0);
  redirect(res, target);
}
