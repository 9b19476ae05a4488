import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import type { SessionInfo } from '../auth/session-service.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import { publicOrigin } from '../http/public-origin.ts';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'coffer_session';
/** Name of the CSRF header (Nextcloud's). */
export const CSRF_HEADER = 'requesttoken';

/** Methods that change nothing and need no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** Parses a Cookie header into a map (first value of a name wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    let v = part.slice(i + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (k && !out.has(k)) out.set(k, v);
  }
  return out;
}

/** A cookie header value: `HttpOnly; SameSite=Lax; Path=/` (+ `Secure` behind TLS). */
export function cookieHeader(name: string, value: string, opts: { secure: boolean; maxAge?: number; sameSite?: 'Lax' | 'Strict'; path?: string }): string {
  const parts = [`${name}=${value}`, `Path=${opts.path ?? '/'}`, 'HttpOnly', `SameSite=${opts.sameSite ?? 'Lax'}`];
  if (opts.maxAge !== undefined) parts.push(`Max-Age=${opts.maxAge}`);
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}

/**
 * Whether the request's public URL is https: TLS directly, or X-Forwarded-Proto from a trusted
 * proxy, or overwriteprotocol (the same rule as every URL: publicOrigin).
 */
export function isSecureRequest(app: Pick<App, 'config'>, req: IncomingMessage): boolean {
  return publicOrigin(req, app.config, 'localhost').scheme === 'https';
}

/** A browser session resolved from a request. */
export interface ResolvedSession {
  readonly user: AuthenticatedUser;
  readonly session: SessionInfo;
  /** The cookie value (for the CSRF token; never log it). */
  readonly token: string;
  readonly csrfToken: string;
}

/**
 * The session of a request's cookie, without any CSRF check (undefined when there is none, it
 * expired, or its user is gone or disabled).
 */
export async function resolveSession(app: App, req: IncomingMessage): Promise<ResolvedSession | undefined> {
  const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
  if (!token) return undefined;
  const session = await app.sessions.lookup(token);
  if (!session) return undefined;
  const u = await app.users.get(session.uid).catch(() => undefined);
  if (!u || !u.enabled) { await app.sessions.destroy(token); return undefined; }
  await app.userKeys.onSessionUsed(u.uid, token);
  return {
    user: { uid: u.uid, displayName: u.displayName, isAdmin: u.isAdmin, via: 'session' },
    session, token, csrfToken: app.sessions.csrfToken(token),
  };
}

/** Whether a request carries the right CSRF token for its session (header `requesttoken`). */
export function hasValidCsrf(app: App, req: IncomingMessage, s: ResolvedSession): boolean {
  const h = req.headers[CSRF_HEADER];
  return app.sessions.checkCsrf(s.token, Array.isArray(h) ? h[0] : h);
}

/**
 * Cookie authentication for browser requests (WebDAV, OCS, the web API): the user of a live
 * session cookie, or undefined when there is no valid session, or when a request with a method
 * other than GET/HEAD lacks the session's `requesttoken` header (CSRF). Never throws for bad input;
 * database errors propagate.
 */
export async function authenticateSession(app: App, req: IncomingMessage): Promise<AuthenticatedUser | undefined> {
  const s = await resolveSession(app, req);
  if (!s) return undefined;
  if (!SAFE_METHODS.has(req.method ?? 'GET') && !hasValidCsrf(app, req, s)) return undefined;
  return s.user;
}

/** Clears the session cookie on a response. */
export function clearSessionCookie(app: App, req: IncomingMessage, res: ServerResponse): void {
  appendSetCookie(res, cookieHeader(SESSION_COOKIE, '', { secure: isSecureRequest(app, req), maxAge: 0 }));
}

/** Adds a Set-Cookie header without dropping earlier ones. */
export function appendSetCookie(res: ServerResponse, value: string): void {
  const cur = res.getHeader('Set-Cookie');
  const list = cur === undefined ? [] : Array.isArray(cur) ? cur : [String(cur)];
  res.setHeader('Set-Cookie', [...list, value]);
}
