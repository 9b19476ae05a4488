import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import { AppError, AuthenticationError, BLOB_MISSING_MESSAGE, BlobMissingError, INTEGRITY_FAILED_MESSAGE, NotFoundError, ThrottledError, ValidationError } from '../errors.ts';
import { auditIntegrityFailure, isIntegrityFailure } from '../audit/integrity-audit.ts';
import type { HttpContext, Route } from '../http/context.ts';
import { joinPath, normalizePath } from '../files/paths.ts';
import type { FileNode } from '../files/types.ts';
import { readSmallBody } from '../http/request-body.ts';
import { maintenanceGuard } from '../setup/maintenance.ts';
import { linkActor } from '../actor.ts';
import type { ShareWithNode } from '../sharing/share-repository.ts';
import { PERMISSION_READ, has } from '../sharing/share-types.ts';
import { assertPermitted } from '../sharing/share-access.ts';
import { findLink, hasLinkSession, linkSessionCookie, verifyLinkPassword } from './public-link-access.ts';
import { checkZipLimits, streamZip, type ZipEntry } from './public-link-zip.ts';
import { publicDavRoutes } from './public-link-dav.ts';
import { pageShell } from './login-page.ts';
import { safeRedirectTarget } from './redirect-target.ts';
import { linkPagePreviewHandler } from './preview-routes.ts';
import { previewable } from '../previews/image-formats.ts';
import { sendContent } from '../http/send-content.ts';

const TOKEN_RE = /^\/(?:index\.php\/)?s\/([A-Za-z0-9]{1,64})(\/download)?\/?$/;

/** Nothing runs on these pages; only the guest stylesheet and the logo load (same origin). */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

/** Human-readable size (binary units, as Nextcloud shows them). */
export function humanSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A guest page in the web UI's look (the login page's shell), its body in one card. */
function page(title: string, body: string, wide = false): string {
  return pageShell(title, `<div class="card${wide ? ' wide' : ''}">${body}</div>`).replace('<head>', '<head>\n<meta name="robots" content="noindex, nofollow">');
}

function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', Buffer.byteLength(html));
  res.end(html);
}

function passwordForm(token: string, error?: string): string {
  return page('Password required', `<h1>Password required</h1>
<p class="muted">This share is password-protected. Enter its password to open it.</p>
${error ? `<p class="msg error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/s/${esc(token)}"><label for="link-password">Password</label>
<input id="link-password" type="password" name="password" autocomplete="current-password" required autofocus>
<button class="primary" type="submit">Open</button></form>`);
}

/** The link page's preview URL of a file (the password session cookie's path covers it); `c` = etag busts the browser cache. */
function previewUrl(token: string, node: FileNode, side: number, file?: string): string {
  return `/s/${esc(token)}/preview?x=${side}&amp;y=${side}${file ? `&amp;file=${esc(file)}` : ''}&amp;c=${esc(encodeURIComponent(node.etag))}`;
}

async function sharePage(app: App, s: ShareWithNode): Promise<string> {
  const { node, share } = s;
  const owner = await app.users.get(share.owner).then((u) => u.displayName, () => share.owner);
  const name = node.path === '' ? share.owner : node.name;
  const canRead = has(share.permissions, PERMISSION_READ);
  let body = `<h1 class="share-title">${esc(name)}</h1><p class="muted">Shared by ${esc(owner)} · ${esc(humanSize(node.size))}</p>`;
  if (share.note) body += `<p class="note">${esc(share.note)}</p>`;
  if (!canRead) return page(name, body + '<p>This is an upload-only share: files can be dropped here with a WebDAV client.</p>');
  if (node.kind === 'dir') {
    const kids = await app.files.children(node.owner, node.path);
    const thumb = (k: FileNode) => (k.kind === 'file' && previewable(k.mimetype, k.size)
      ? `<img class="thumb" src="${previewUrl(share.token!, k, 64, `/${encodeURIComponent(k.name)}`)}&amp;a=0" alt="" width="32" height="32" loading="lazy">` : '');
    body += kids.length === 0 ? '<p class="muted">This folder is empty.</p>'
      : `<ul class="file-list" aria-label="Contents">${kids.slice(0, 200).map((k) => `<li><span class="file-name ${k.kind === 'dir' ? 'dir' : thumb(k) ? 'file has-thumb' : 'file'}">${thumb(k)}${esc(k.name)}</span><span class="muted">${esc(humanSize(k.size))}</span></li>`).join('')}</ul>`;
    if (kids.length > 200) body += `<p class="muted">… and ${kids.length - 200} more</p>`;
  } else if (previewable(node.mimetype, node.size)) {
    body += `<img class="share-preview" src="${previewUrl(share.token!, node, 512)}&amp;a=1" alt="Preview of ${esc(name)}">`;
  }
  body += `<a class="button-link primary" href="/s/${esc(share.token!)}/download">Download${node.kind === 'dir' ? ' (zip)' : ''}</a>`;
  return page(name, body, true);
}

function errorPage(res: ServerResponse, err: unknown): void {
  if (err instanceof ThrottledError) {
    return sendHtml(res, 429, page('Too many requests', '<h1>Too many requests</h1><p>Please try again later.</p>'), { 'Retry-After': String(err.retryAfterSeconds) });
  }
  if (err instanceof NotFoundError) {
    return sendHtml(res, 404, page('Not found', '<h1>Share not found</h1><p>This share does not exist or has expired.</p>'));
  }
  if (err instanceof AppError && (err.code === 'invalid' || err.code === 'too-large')) {
    return sendHtml(res, err.code === 'invalid' ? 400 : 413, page('Cannot download', `<h1>Cannot download</h1><p>${esc(err.message)}</p>`));
  }
  if (isIntegrityFailure(err)) {
    const message = err instanceof BlobMissingError ? BLOB_MISSING_MESSAGE : INTEGRITY_FAILED_MESSAGE;
    return sendHtml(res, 500, page('Cannot download', `<h1>Cannot download</h1><p>${esc(message)}</p>`));
  }
  if (err instanceof AppError && err.code === 'forbidden') {
    return sendHtml(res, 403, page('Forbidden', `<h1>Forbidden</h1><p>${esc(err.message)}</p>`));
  }
  throw err;
}

/** The node of the link named by `?path=` (relative to the shared folder), or the shared node. */
async function nodeAt(app: App, s: ShareWithNode, rel: string | null): Promise<FileNode> {
  const p = normalizePath(rel ?? '');
  if (p === '') return s.node;
  if (s.node.kind !== 'dir') throw new NotFoundError('Not found');
  return app.files.stat(s.node.owner, joinPath(s.node.path, p));
}

async function download(app: App, req: IncomingMessage, res: ServerResponse, ctx: HttpContext, s: ShareWithNode): Promise<void> {
  assertPermitted(s.share, 'read');
  const node = await nodeAt(app, s, ctx.query.get('path'));
  const common = { 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; sandbox", 'Cache-Control': 'no-store' };
  if (node.kind === 'file') {
    const content = await app.files.openNode(linkActor(s.share.token!), node);
    res.statusCode = 200;
    for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
    res.setHeader('Content-Type', node.mimetype || 'application/octet-stream');
    res.setHeader('Content-Length', node.size);
    res.setHeader('Content-Disposition', contentDisposition(node.name));
    if (req.method === 'HEAD') { content.stream.destroy(); res.end(); return; }
    await sendContent(content.stream, res, node.size);
    return;
  }
  const root = node.path === '' ? s.share.owner : node.name;
  const entries: ZipEntry[] = [];
  for await (const n of app.files.walk(node.owner, node.path, Infinity)) {
    const rel = n.path === node.path ? '' : (node.path === '' ? n.path : n.path.slice(node.path.length + 1));
    entries.push({ name: rel === '' ? `${root}/` : `${root}/${rel}${n.kind === 'dir' ? '/' : ''}`, node: n });
  }
  checkZipLimits(entries);
  res.statusCode = 200;
  for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/zip');
  res.setHeader('Content-Disposition', contentDisposition(`${root}.zip`));
  if (req.method === 'HEAD') { res.end(); return; }
  try {
    const actor = linkActor(s.share.token!);
    await streamZip(res, entries, async (n) => (await app.files.openNode(actor, n)).stream);
    res.end();
  } catch (err) {
    ctx.log.error({ err, shareId: s.share.id }, 'zip download failed');
    if (isIntegrityFailure(err)) auditIntegrityFailure(app.audit, err, { via: 'public-link', shareId: s.share.id, reqId: ctx.reqId });
    res.destroy();
  }
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * `/s/<token>` (page; POST = password form), `/s/<token>/download` (file, or a streamed zip of a
 * folder; `?path=` picks a member). Password-protected links need the session cookie the form sets.
 */
export async function handlePublicLink(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const { app } = ctx;
  if (await maintenanceGuard(req, res, app)) return;
  const m = TOKEN_RE.exec(ctx.rawPath);
  try {
    if (!m) { req.resume(); throw new NotFoundError('Not found'); }
    const token = m[1]!;
    const isDownload = m[2] !== undefined;
    const method = req.method ?? 'GET';
    const s = await findLink(app, token, ctx.ip);
    if (method === 'POST' && !isDownload) {
      const body = new URLSearchParams((await readSmallBody(req, 16 * 1024)).toString('utf8'));
      try {
        await verifyLinkPassword(app, s, body.get('password') ?? '', ctx.ip);
      } catch (err) {
        if (err instanceof AuthenticationError) return sendHtml(res, 403, passwordForm(token, 'The password is wrong. Try again.'));
        throw err;
      }
      res.statusCode = 303;
      res.setHeader('Set-Cookie', await linkSessionCookie(app, s, ctx.secure));
      res.setHeader('Location', safeRedirectTarget(`/s/${token}`));
      res.setHeader('Content-Length', 0);
      res.end();
      return;
    }
    req.resume();
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', isDownload ? 'GET, HEAD' : 'GET, HEAD, POST');
      return sendHtml(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'));
    }
    if (s.share.hasPassword && !(await hasLinkSession(app, req, s))) {
      if (isDownload) return sendHtml(res, 403, passwordForm(token));
      return sendHtml(res, 200, passwordForm(token));
    }
    if (isDownload) return await download(app, req, res, ctx, s);
    sendHtml(res, 200, await sharePage(app, s));
  } catch (err) {
    if (isIntegrityFailure(err)) {
      // the path holds the link's token: the log redacts it, the audit entry does without
      ctx.log.error({ err, path: ctx.rawPath }, 'public link: integrity failure');
      auditIntegrityFailure(app.audit, err, { via: 'public-link', reqId: ctx.reqId });
    }
    if (res.headersSent) { res.destroy(); return; }
    if (err instanceof ValidationError) return errorPage(res, new NotFoundError('Not found'));
    errorPage(res, err);
  }
}

/** The link page and its download, or a preview of the link's content (`/s/<token>/preview`). */
function publicLinkOrPreview(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const preview = linkPagePreviewHandler(ctx.rawPath);
  return preview ? preview(req, res, ctx) : handlePublicLink(req, res, ctx);
}
/** Routes of public links: the page and download, and `/public.php/webdav`. */
export function publicLinkRoutes(): Route[] {
  return [
    { prefix: '/s/', handler: publicLinkOrPreview },
    { prefix: '/index.php/s/', handler: publicLinkOrPreview },
    ...publicDavRoutes(),
  ];
}
