import { userActor } from '../actor.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpContext } from '../http/context.ts';
import { hasValidCsrf, resolveSession } from './session-auth.ts';
import { handleAdminApi } from './web-api-admin.ts';
import { handleFilesApi, type ApiCall } from './web-api-files.ts';
import { handlePersonalApi } from './web-api-personal.ts';
import { handleSharesApi } from './web-api-shares.ts';
import { handleTwoFactorApi } from './web-api-two-factor.ts';
import { handleTrashApi } from './web-api-trash.ts';
import { handleVersionsApi } from './web-api-versions.ts';
import { sendError, sendJson } from './web-http.ts';

/** URL prefix of the web UI's JSON API. */
export const WEB_API_PREFIX = '/web/api/';

/**
 * `/web/api/*`: the JSON API of the web UI, authenticated by the session cookie; every request but
 * GET/HEAD must carry the session's `requesttoken` header (403 otherwise).
 */
export async function handleWebApi(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const app = ctx.app;
  let segments: string[];
  try {
    segments = ctx.rawPath.slice(WEB_API_PREFIX.length).split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    req.resume();
    sendJson(res, 400, { error: { code: 'invalid', message: 'Malformed path' } });
    return;
  }
  try {
    const s = await resolveSession(app, req);
    if (!s) { req.resume(); sendJson(res, 401, { error: { code: 'no-session', message: 'Not logged in' } }); return; }
    const m = req.method ?? 'GET';
    if (m !== 'GET' && m !== 'HEAD' && !hasValidCsrf(app, req, s)) {
      req.resume();
      sendJson(res, 403, { error: { code: 'csrf', message: 'CSRF check failed' } });
      return;
    }
    if (segments[0] === 'session' && m === 'GET') {
      sendJson(res, 200, { user: { uid: s.user.uid, displayName: s.user.displayName, isAdmin: s.user.isAdmin }, csrfToken: s.csrfToken });
      return;
    }
    // Every content read and write of the call acts as the session's user (their keys, their seals).
    const c: ApiCall = { app, user: s.user, actor: userActor(s.user.uid, s.user.via), req, res, ctx, segments };
    const handled = (segments[0] === 'files' && await handleFilesApi(c))
      || await handleSharesApi(c) || await handleAdminApi(c) || await handlePersonalApi(c, s)
      || await handleTwoFactorApi(c) || await handleVersionsApi(c) || await handleTrashApi(c);
    if (!handled) { req.resume(); sendJson(res, 404, { error: { code: 'not-found', message: 'Unknown API endpoint' } }); }
  } catch (err) {
    req.resume();
    sendError(res, ctx, err);
  }
}
