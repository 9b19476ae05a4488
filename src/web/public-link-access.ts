import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { App } from '../app.ts';
import { AuthenticationError, NotFoundError, ThrottledError } from '../errors.ts';
import type { ShareWithNode } from '../sharing/share-repository.ts';
import type { LoginAttempt } from '../auth/throttler.ts';

/** How long a link session (after the password) lasts. */
export const LINK_SESSION_SECONDS = 3600;

function cookieName(shareId: number): string {
  return `coffer_link_${shareId}`;
}

function cookieKey(app: App): Buffer {
  return createHmac('sha256', app.config.secret).update('coffer public link session v1').digest();
}

/** The MAC binds the cookie to the share, its token, its current password hash and the expiry. */
function mac(app: App, s: ShareWithNode, passwordHash: string, exp: number): string {
  return createHmac('sha256', cookieKey(app)).update(`${s.share.id}|${s.share.token}|${passwordHash}|${exp}`).digest('base64url');
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * A `Set-Cookie` value granting access to a password-protected link for LINK_SESSION_SECONDS:
 * `exp.mac`, HttpOnly, SameSite=Lax, Path=/s/<token>.
 */
export async function linkSessionCookie(app: App, s: ShareWithNode, secure: boolean): Promise<string> {
  const hash = (await app.shares.linkPasswordHash(s.share)) ?? '';
  const exp = Math.floor(Date.now() / 1000) + LINK_SESSION_SECONDS;
  return `${cookieName(s.share.id)}=${exp}.${mac(app, s, hash, exp)}; Path=/s/${s.share.token}; Max-Age=${LINK_SESSION_SECONDS}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** True when the request carries a valid, unexpired session cookie for this link. */
export async function hasLinkSession(app: App, req: IncomingMessage, s: ShareWithNode): Promise<boolean> {
  const v = readCookie(req, cookieName(s.share.id));
  if (!v) return false;
  const dot = v.indexOf('.');
  const exp = Number(v.slice(0, dot));
  if (dot < 0 || !Number.isInteger(exp) || exp < Date.now() / 1000) return false;
  const hash = (await app.shares.linkPasswordHash(s.share)) ?? '';
  const want = Buffer.from(mac(app, s, hash, exp));
  const got = Buffer.from(v.slice(dot + 1));
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Looks a link up by token with brute-force throttling: the lookup is counted as an attempt from
 * this address before it runs (atomically, so parallel guesses cannot outrun the count); an
 * unknown token stays counted as a failure, a found one is released.
 * @throws NotFoundError (unknown/expired; recorded as a failure); ThrottledError
 */
export async function findLink(app: App, token: string, ip: string): Promise<ShareWithNode> {
  const attempt = await begin(app, ip);
  let s: ShareWithNode;
  try {
    s = await app.shares.byToken(token);
  } catch (err) {
    if (err instanceof NotFoundError) await app.audit.loginFailure({ ip, method: 'public-link', reason: 'unknown link' });
    else await attempt.abandon().catch(() => {});
    throw err;
  }
  await attempt.succeed();
  return s;
}

/**
 * Checks a link password, counted as an attempt before the check (as every login path; failures
 * are audited).
 * @throws AuthenticationError (wrong); ThrottledError
 */
export async function verifyLinkPassword(app: App, s: ShareWithNode, password: string, ip: string): Promise<void> {
  const attempt = await begin(app, ip);
  let ok: boolean;
  try {
    ok = await app.shares.checkLinkPassword(s.share, password);
  } catch (err) {
    await attempt.abandon().catch(() => {});
    throw err;
  }
  if (ok) { await attempt.succeed(); return; }
  await app.audit.record('login.failure', { ip, method: 'public-link', reason: 'wrong link password', shareId: s.share.id });
  throw new AuthenticationError('Wrong password');
}

async function begin(app: App, ip: string): Promise<LoginAttempt> {
  try {
    return await app.throttle.begin({ ip });
  } catch (err) {
    if (err instanceof ThrottledError) await app.audit.loginThrottled({ ip, method: 'public-link', retryAfter: err.retryAfterSeconds });
    throw err;
  }
}
