import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import { AppError, AuthenticationError, CsrfError, ThrottledError } from '../errors.ts';
import type { Handler, HttpContext, Route } from '../http/context.ts';
import { maintenanceGuard } from '../setup/maintenance.ts';
import { readParams } from './form-body.ts';
import { CSRF_HEADER, resolveSession } from '../web/session-auth.ts';

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(s));
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.end(s);
}

function sendError(res: ServerResponse, err: unknown): boolean {
  if (!(err instanceof AppError)) return false;
  const status: Record<string, number> = { 'unauthenticated': 401, 'throttled': 429, 'not-found': 404, 'invalid': 400, 'too-large': 413, 'forbidden': 403, 'csrf': 403 };
  const s = status[err.code];
  if (s === undefined) return false;
  if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  sendJson(res, s, s === 404 ? [] : { message: err.message });
  return true;
}

function postOnly(fn: (req: IncomingMessage, res: ServerResponse, ctx: HttpContext) => Promise<void>): Handler {
  return async (req, res, ctx) => {
    if (await maintenanceGuard(req, res, ctx.app)) return;
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      sendJson(res, 405, { message: 'Method not allowed' });
      return;
    }
    try {
      await fn(req, res, ctx);
    } catch (err) {
      req.resume();
      if (!sendError(res, err)) throw err;
    }
  };
}

/** `POST /login/v2`: starts a flow → `{poll:{token,endpoint}, login}`; 429 + Retry-After when the address has too many open. */
const start = postOnly(async (req, res, ctx) => {
  req.resume();
  const flow = await ctx.app.loginFlow.start(String(req.headers['user-agent'] ?? ''), ctx.ip);
  sendJson(res, 200, {
    poll: { token: flow.pollToken, endpoint: `${ctx.baseUrl}/login/v2/poll` },
    login: `${ctx.baseUrl}/login/v2/flow/${flow.loginToken}`,
  });
});

/** `POST /login/v2/poll` with `token`: 404 until granted, then 200 once. */
const poll = postOnly(async (req, res, ctx) => {
  const p = await readParams(req, new URLSearchParams());
  const r = await ctx.app.loginFlow.poll(p.get('token') ?? '');
  sendJson(res, 200, { server: ctx.baseUrl, loginName: r.loginName, appPassword: r.appPassword });
});

/**
 * `POST /login/v2/grant` with `token` = the flow's login token: what a logged-in browser calls once
 * the user confirmed access. Needs the web session cookie and its request token (header or form
 * field `requesttoken`), never Basic credentials: a browser replays cached Basic credentials on
 * any cross-site form post, which would hand an attacker's flow an app password.
 */
const grant = postOnly(async (req, res, ctx) => {
  const s = await resolveSession(ctx.app, req);
  if (!s) throw new AuthenticationError('Log in to the web interface to grant access');
  const p = await readParams(req, new URLSearchParams());
  const h = req.headers[CSRF_HEADER];
  if (!ctx.app.sessions.checkCsrf(s.token, (Array.isArray(h) ? h[0] : h) ?? p.get('requesttoken') ?? undefined)) throw new CsrfError();
  await ctx.app.loginFlow.grant(p.get('token') ?? '', s.user.uid);
  await ctx.app.audit.record('login_flow.granted', { uid: s.user.uid, ip: ctx.ip });
  sendJson(res, 200, []);
});

/** Login Flow v2 endpoints (the browser page `/login/v2/flow/<t>` belongs to the web UI). */
export function loginFlowRoutes(app: App): Route[] {
  void app;
  const routes: Route[] = [];
  for (const base of ['/login/v2', '/index.php/login/v2']) {
    routes.push({ prefix: base, exact: true, handler: start });
    routes.push({ prefix: `${base}/poll`, exact: true, handler: poll });
    routes.push({ prefix: `${base}/grant`, exact: true, handler: grant });
  }
  return routes;
}
