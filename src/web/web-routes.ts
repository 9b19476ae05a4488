import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import type { HttpContext, Route } from '../http/context.ts';
import { handleLoginFlowPage, handleLogin, handleLogout, pageShell } from './login-page.ts';
import { resolveSession } from './session-auth.ts';
import { ASSET_PREFIX, handleAsset, sendDistFile } from './static-assets.ts';
import { handleWebApi, WEB_API_PREFIX } from './web-api.ts';
import { CHALLENGE_PATH, handleChallenge } from './two-factor-page.ts';
import { redirect, sendHtml } from './web-http.ts';

/** Paths of the single-page app (served index.html once logged in). */
export const SPA_PATHS = ['/apps/files', '/settings'];

/** `/`, `/apps/files…`, `/settings…`: the single-page app for a logged-in browser, else the login page. */
async function handleSpa(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') { res.statusCode = 405; res.setHeader('Allow', 'GET, HEAD'); res.end(); return; }
  if (!(await resolveSession(ctx.app, req))) {
    const target = ctx.rawPath === '/' ? '' : `?redirect_url=${encodeURIComponent(ctx.rawPath + (ctx.query.size ? `?${ctx.query}` : ''))}`;
    redirect(res, `/login${target}`);
    return;
  }
  // the page is per session: never stored (set by sendDistFile before the body; setting it after
  // the response went out threw "headers already sent" on every page load)
  if (await sendDistFile(req, res, 'index.html', { cacheControl: 'no-store' })) return;
  sendHtml(res, 503, pageShell('Not built', '<div class="card"><h1>Web UI not built</h1><p>Run <code>npm run build:web</code> on the server.</p></div>'));
}

/** The web UI's routes: pages, login/logout, Login Flow v2 page, assets and the JSON API. */
export function webRoutes(app: App): Route[] {
  void app;
  const routes: Route[] = [
    { prefix: '/', exact: true, handler: handleSpa },
    { prefix: '/index.php', exact: true, handler: handleSpa },
    { prefix: '/login', exact: true, handler: handleLogin },
    { prefix: '/index.php/login', exact: true, handler: handleLogin },
    { prefix: '/logout', exact: true, handler: handleLogout },
    { prefix: CHALLENGE_PATH, exact: true, handler: handleChallenge },
    { prefix: `/index.php${CHALLENGE_PATH}`, exact: true, handler: handleChallenge },
    { prefix: '/login/v2/flow/', handler: handleLoginFlowPage },
    { prefix: '/index.php/login/v2/flow/', handler: handleLoginFlowPage },
    { prefix: ASSET_PREFIX, handler: handleAsset },
    { prefix: WEB_API_PREFIX, handler: handleWebApi },
  ];
  for (const p of SPA_PATHS) routes.push({ prefix: p, handler: handleSpa });
  return routes;
}
