import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthenticationError, ThrottledError } from '../errors.ts';
import type { HttpContext, Route } from '../http/context.ts';
import { authenticateSession } from '../web/session-auth.ts';

/** notify_push's pre-auth URL (capability `notify_push.endpoints.pre_auth`). */
export const PRE_AUTH_PATH = '/index.php/apps/notify_push/pre_auth';

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * `POST /index.php/apps/notify_push/pre_auth`: for an authenticated user (Basic with a login or app
 * password, or a browser session with its CSRF request token), a token that logs one WebSocket in
 * as that user within 15 s, in place of a password. The token is the body (text/plain), as
 * notify_push answers.
 */
async function handlePreAuth(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  req.resume();
  if (req.method !== 'POST') return send(res, 405, 'POST only\n', { Allow: 'POST' });
  try {
    const user = (!req.headers.authorization && await authenticateSession(ctx.app, req))
      || await ctx.app.auth.authenticateBasic(req.headers.authorization, ctx.ip);
    send(res, 200, await ctx.app.preAuth.issue(user.uid));
  } catch (err) {
    if (err instanceof ThrottledError) return send(res, 429, 'Too many failed attempts\n', { 'Retry-After': String(err.retryAfterSeconds) });
    if (err instanceof AuthenticationError) return send(res, 401, 'Unauthorized\n', { 'WWW-Authenticate': 'Basic realm="Nextcloud", charset="UTF-8"' });
    throw err;
  }
}

/** The push adapter's HTTP routes (the WebSocket itself is an upgrade: src/http/server.ts). */
export function pushRoutes(): Route[] {
  return [
    { prefix: PRE_AUTH_PATH, exact: true, handler: handlePreAuth },
    { prefix: '/apps/notify_push/pre_auth', exact: true, handler: handlePreAuth },
  ];
}
