import type { IncomingMessage, ServerResponse } from 'node:http';
import { linkActor, userActor, type LinkActor, type UserActor } from '../actor.ts';
import { parseBasicAuth, BASIC_CHALLENGE } from '../auth/basic-auth.ts';
import { AppError, AuthenticationError, ForbiddenError, NotFoundError, ThrottledError } from '../errors.ts';
import type { HttpContext, Route } from '../http/context.ts';
import type { FileNode } from '../files/types.ts';
import { etagMatches, parseEtagList } from '../dav/http-util.ts';
import { previewEtag } from '../previews/preview-service.ts';
import { parsePreviewSpec, type PreviewSpec } from '../previews/preview-spec.ts';
import { maintenanceGuard } from '../setup/maintenance.ts';
import type { ShareWithNode } from '../sharing/share-repository.ts';
import { findLink, hasLinkSession, verifyLinkPassword } from './public-link-access.ts';
import { authenticateSession } from './session-auth.ts';

/** Nextcloud's preview answers are cached by the browser for a day (clients add `c=<etag>` to bust it). */
const CACHE_CONTROL = 'private, max-age=86400';
const PUBLIC_PREFIXES = ['/index.php/apps/files_sharing/publicpreview/', '/apps/files_sharing/publicpreview/'];
const LINK_PAGE_PREVIEW = /^\/(?:index\.php\/)?s\/([A-Za-z0-9]{1,64})\/preview\/?$/;

function sendStatus(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', 0);
  res.end();
}

/** Errors to statuses, as Nextcloud's preview controllers answer (404 for "no preview"). */
function sendError(res: ServerResponse, ctx: HttpContext, err: unknown): void {
  if (res.headersSent) { res.destroy(); return; }
  if (err instanceof AuthenticationError) return sendStatus(res, 401, { 'WWW-Authenticate': BASIC_CHALLENGE });
  if (err instanceof ThrottledError) return sendStatus(res, 429, { 'Retry-After': String(err.retryAfterSeconds) });
  if (err instanceof AppError) {
    switch (err.code) {
      case 'not-found': return sendStatus(res, 404);
      case 'forbidden': return sendStatus(res, 403);
      case 'invalid': return sendStatus(res, 400);
      case 'busy': return sendStatus(res, 503, { 'Retry-After': '2' });
      default: break;
    }
  }
  ctx.log.error({ err }, 'preview failed');
  sendStatus(res, 500);
}

/**
 * Answers with the preview of `node`: 304 when the client's If-None-Match has it already, else the
 * image (made or taken from the encrypted cache by the PreviewService). HEAD answers the headers.
 */
async function sendPreview(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, actor: UserActor | LinkActor, node: FileNode, spec: PreviewSpec): Promise<void> {
  const { previews } = ctx.app;
  if (!previews.hasPreview(node)) throw new NotFoundError('no preview for this file');
  const etag = `"${previewEtag(node, spec)}"`;
  const base = { ETag: etag, 'Cache-Control': CACHE_CONTROL, 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; sandbox" };
  const inm = parseEtagList(req.headers['if-none-match']);
  if (inm && etagMatches(inm, etag.slice(1, -1))) {
    res.statusCode = 304;
    for (const [k, v] of Object.entries(base)) res.setHeader(k, v);
    res.end();
    return;
  }
  const p = await previews.preview(actor, node, spec);
  res.statusCode = 200;
  for (const [k, v] of Object.entries(base)) res.setHeader(k, v);
  res.setHeader('Content-Type', p.mimetype);
  res.setHeader('Content-Length', p.data.length);
  res.setHeader('Content-Disposition', `inline; filename="preview.${p.mimetype === 'image/png' ? 'png' : 'jpg'}"`);
  res.end(req.method === 'HEAD' ? undefined : p.data);
}

/** GET/HEAD only; anything else 405. */
function allowRead(req: IncomingMessage, res: ServerResponse): boolean {
  req.resume();
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  sendStatus(res, 405, { Allow: 'GET, HEAD' });
  return false;
}

/** The user of a browser session (GET needs no CSRF token, as in Nextcloud) or of Basic credentials. @throws AuthenticationError, ThrottledError */
async function authenticate(req: IncomingMessage, ctx: HttpContext): Promise<UserActor> {
  const { app } = ctx;
  const user = (!req.headers.authorization && await authenticateSession(app, req))
    || await app.auth.authenticateBasic(req.headers.authorization, ctx.ip);
  return userActor(user.uid, user.via);
}

/**
 * `/index.php/core/preview?fileId=&x=&y=&a=&forceIcon=&mode=` and `/index.php/core/preview.png?file=&x=&y=&a=`:
 * the preview of a file of the user's tree (own or received share), with the same permission as a
 * download; 404 for a file that has none (folder, other type, too large, undecodable).
 */
async function handleUserPreview(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const { app } = ctx;
  if (await maintenanceGuard(req, res, app)) return;
  if (!allowRead(req, res)) return;
  try {
    const actor = await authenticate(req, ctx);
    const spec = parsePreviewSpec(ctx.query);
    const byPath = ctx.rawPath.endsWith('.png');
    let node: FileNode;
    if (byPath) {
      const file = ctx.query.get('file') ?? '';
      if (file === '') return sendStatus(res, 400);
      node = await app.previews.nodeByPath(actor, file);
    } else {
      const id = ctx.query.get('fileId') ?? '';
      if (!/^\d{1,15}$/.test(id)) return sendStatus(res, 400);
      node = await app.previews.nodeById(actor, Number(id));
    }
    // forceIcon and mimeFallback need no handling: no mime icons are served, "no preview" is a 404 either way
    await sendPreview(req, res, ctx, actor, node, spec);
  } catch (err) {
    sendError(res, ctx, err);
  }
}

/**
 * A link's visitor: the link must exist (lookups are throttled like logins) and, when it has a
 * password, the request must carry the link's session cookie (the link page's `/s/<token>/preview`)
 * or Basic credentials `token:password` (as `/public.php/webdav`).
 * @throws NotFoundError, ForbiddenError, AuthenticationError, ThrottledError
 */
async function openLink(req: IncomingMessage, ctx: HttpContext, token: string): Promise<ShareWithNode> {
  const { app } = ctx;
  const s = await findLink(app, token, ctx.ip);
  if (!s.share.hasPassword || await hasLinkSession(app, req, s)) return s;
  const creds = parseBasicAuth(req.headers.authorization);
  if (!creds || creds.user !== token) throw new ForbiddenError('This link is password-protected');
  await verifyLinkPassword(app, s, creds.password, ctx.ip);
  return s;
}

/**
 * `/index.php/apps/files_sharing/publicpreview/<token>?file=&x=&y=&a=` (Nextcloud's public preview;
 * `file` is the path below a shared folder, ignored for a shared file) and `/s/<token>/preview`
 * (the same for the link page, where the password session cookie applies). Only links with read
 * permission have previews (an upload-only link answers 403, as a download would).
 */
async function handleLinkPreview(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const { app } = ctx;
  if (await maintenanceGuard(req, res, app)) return;
  if (!allowRead(req, res)) return;
  const prefix = PUBLIC_PREFIXES.find((p) => ctx.rawPath.startsWith(p));
  const token = prefix ? ctx.rawPath.slice(prefix.length).replace(/\/$/, '') : LINK_PAGE_PREVIEW.exec(ctx.rawPath)?.[1];
  try {
    if (!token || !/^[A-Za-z0-9]{1,64}$/.test(token)) throw new NotFoundError('Not found');
    const spec = parsePreviewSpec(ctx.query);
    const s = await openLink(req, ctx, token);
    const node = await app.previews.nodeInLink(s, ctx.query.get('file') ?? '');
    await sendPreview(req, res, ctx, linkActor(token), node, spec);
  } catch (err) {
    sendError(res, ctx, err);
  }
}

/** The preview routes (Nextcloud's URLs, with and without `/index.php`). */
export function previewRoutes(): Route[] {
  return [
    { prefix: '/index.php/core/preview', exact: true, handler: handleUserPreview },
    { prefix: '/core/preview', exact: true, handler: handleUserPreview },
    { prefix: '/index.php/core/preview.png', exact: true, handler: handleUserPreview },
    { prefix: '/core/preview.png', exact: true, handler: handleUserPreview },
    ...PUBLIC_PREFIXES.map((prefix) => ({ prefix, handler: handleLinkPreview })),
  ];
}

/** The link page's previews, `/s/<token>/preview`, or undefined for any other `/s/…` path (public-link.ts asks). */
export function linkPagePreviewHandler(rawPath: string): typeof handleLinkPreview | undefined {
  return LINK_PAGE_PREVIEW.test(rawPath) ? handleLinkPreview : undefined;
}
