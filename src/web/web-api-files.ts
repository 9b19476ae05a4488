import type { Actor } from '../actor.ts';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import { ConflictError, ForbiddenError, ValidationError } from '../errors.ts';
import { baseName, joinPath, normalizePath } from '../files/paths.ts';
import type { FileNode } from '../files/types.ts';
import { previewable } from '../previews/image-formats.ts';
import { assertValidMtime, parseMtime } from '../files/mtime.ts';
import { assertPermitted, writeOp } from '../sharing/share-access.ts';
import type { HttpContext } from '../http/context.ts';
import { readBody, sendJson, str } from './web-http.ts';
import { sendContent } from '../http/send-content.ts';

/** One row of the files table as the browser gets it. */
export interface WebFileEntry {
  name: string;
  /** Path in the user's tree (received shares appear under their mount point). */
  path: string;
  type: 'file' | 'dir';
  size: number;
  mtime: number;
  mimetype: string;
  etag: string;
  fileId: number;
  /** Share permissions the user has (31 for their own files). */
  permissions: number;
  /** Owner when it is not the user (received shares). */
  owner?: string;
  /** Share types the user's own node is shared with (0 user, 1 group, 3 link). */
  shareTypes?: number[];
  /** A preview can be asked for (`/index.php/core/preview?fileId=`): an image type within the budget. */
  hasPreview?: boolean;
}

/** Everything the files endpoints need about the call. */
export interface ApiCall {
  readonly app: App;
  readonly user: AuthenticatedUser;
  /** Who acts (the session's user): passed to every content read and write. */
  readonly actor: Actor;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: HttpContext;
  /** Path after `/web/api/`, decoded, split on '/'. */
  readonly segments: string[];
}

function entry(n: FileNode, path: string, permissions: number, uid: string, name = n.name): WebFileEntry {
  const e: WebFileEntry = { name, path, type: n.kind, size: n.size, mtime: n.mtime, mimetype: n.mimetype, etag: n.etag, fileId: n.fileId, permissions };
  if (n.owner !== uid) e.owner = n.owner;
  if (n.kind === 'file' && previewable(n.mimetype, n.size)) e.hasPreview = true;
  return e;
}

function queryPath(ctx: HttpContext, key = 'path'): string {
  return normalizePath(ctx.query.get(key) ?? '');
}

async function resolve(app: App, uid: string, path: string) {
  return app.shareResolver.resolve(uid, path);
}

/** `GET files?path=`: a folder's members (received shares included at the root). */
async function list(c: ApiCall): Promise<void> {
  const { app, user } = c;
  const path = queryPath(c.ctx);
  await app.files.ensureHome(user.uid);
  const r = await resolve(app, user.uid, path);
  const node = await app.files.stat(r.owner, r.path);
  if (node.kind !== 'dir') throw new ConflictError('Not a folder');
  const kids = await app.files.children(r.owner, r.path);
  const items = kids.map((k) => entry(k, joinPath(path, k.name), r.permissions, user.uid));
  if (r.owner === user.uid && r.path !== undefined) {
    const types = await app.shareResolver.shareTypesOf(user.uid, kids.map((k) => k.fileId));
    for (const it of items) { const t = types.get(it.fileId); if (t?.length) it.shareTypes = t; }
  }
  if (path === '') {
    for (const m of await app.shareResolver.mountsOf(user.uid)) items.push(entry(m.node, m.mountPoint, m.permissions, user.uid, m.mountPoint));
  }
  const quota = await app.files.quota(user.uid);
  sendJson(c.res, 200, { path, permissions: r.permissions, items, quota });
}

/** An attachment `Content-Disposition` for `name` (ASCII fallback plus RFC 5987 UTF-8). */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** `GET files/download?path=`: the file's content as an attachment. */
async function download(c: ApiCall): Promise<void> {
  const { app, user, res } = c;
  const path = queryPath(c.ctx);
  const r = await resolve(app, user.uid, path);
  const content = await app.files.openRead(c.actor, r.owner, r.path);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', content.node.size);
  res.setHeader('Content-Disposition', contentDisposition(baseName(path) || content.node.name));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  res.setHeader('ETag', `"${content.node.etag}"`);
  if (c.req.method === 'HEAD') { content.stream.destroy(); res.end(); return; }
  await sendContent(content.stream, res, content.node.size);
}

/** `?mtime=` (seconds), or undefined when absent. @throws ValidationError for a bad value (400). */
function mtimeParam(ctx: HttpContext): number | undefined {
  const v = ctx.query.get('mtime');
  return v === null || v === '' ? undefined : parseMtime(v, 'mtime');
}

/** A JSON body's `mtime` (seconds), or undefined when absent. @throws ValidationError for a bad value. */
function mtimeField(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return assertValidMtime(Math.floor(v), 'mtime');
  if (typeof v === 'string') return parseMtime(v, 'mtime');
  throw new ValidationError('Invalid mtime');
}

/** `PUT files/upload?path=&mtime=`: the body becomes the file (streamed). */
async function upload(c: ApiCall): Promise<void> {
  const { app, user, req, ctx } = c;
  const path = queryPath(ctx);
  if (path === '') throw new ValidationError('Missing path');
  const mtime = mtimeParam(ctx); // a bad one is refused before the body is read
  const r = await resolve(app, user.uid, path);
  const existing = await app.files.tryStat(r.owner, r.path);
  assertPermitted(r, writeOp(existing));
  const len = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
  const result = await app.files.writeFile(c.actor, r.owner, r.path, req, { mtime, expectedSize: Number.isSafeInteger(len) ? len : undefined, author: user.uid });
  sendJson(c.res, result.created ? 201 : 200, { created: result.created, item: entry(result.node, path, r.permissions, user.uid) });
}

/**
 * Chunked upload for big files, through the user's UploadService:
 * `POST files/chunked` {path,size} → {id}; `PUT files/chunked/<id>/<n>` (body = chunk);
 * `POST files/chunked/<id>/finish` {path, mtime?}; `DELETE files/chunked/<id>`.
 */
async function chunked(c: ApiCall): Promise<void> {
  const { app, user, req, ctx, segments } = c;
  const method = req.method ?? 'GET';
  const id = segments[2];
  if (id === undefined && method === 'POST') {
    const body = await readBody(req);
    const path = normalizePath(str(body, 'path'));
    const r = await resolve(app, user.uid, path);
    const existing = await app.files.tryStat(r.owner, r.path);
    assertPermitted(r, writeOp(existing));
    const size = Number(body.size);
    const uploadId = `web-${randomBytes(12).toString('hex')}`;
    await app.uploads.create(user.uid, uploadId, { destination: path, totalLength: Number.isSafeInteger(size) && size >= 0 ? size : null });
    sendJson(c.res, 201, { id: uploadId });
    return;
  }
  if (id === undefined) throw new ValidationError('Missing upload id');
  if (method === 'PUT' && segments[3] !== undefined) {
    const len = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : null;
    const offset = ctx.query.get('offset');
    await app.uploads.putChunk(c.actor, user.uid, id, segments[3], req, { expectedSize: len, offset: offset === null ? null : Number(offset) });
    sendJson(c.res, 201, { ok: true });
    return;
  }
  if (method === 'POST' && segments[3] === 'finish') {
    const body = await readBody(req);
    const path = normalizePath(str(body, 'path'));
    const mtime = mtimeField(body.mtime);
    const r = await resolve(app, user.uid, path);
    // Into a received share the file lands in the sharer's tree, with the checks of an upload there.
    const existing = await app.files.tryStat(r.owner, r.path);
    assertPermitted(r, writeOp(existing));
    const result = await app.uploads.assemble(c.actor, user.uid, id, { uid: r.owner, path: r.path }, { mtime });
    sendJson(c.res, result.created ? 201 : 200, { created: result.created, item: entry(result.node, path, r.permissions, user.uid) });
    return;
  }
  if (method === 'DELETE') {
    await app.uploads.remove(user.uid, id);
    sendJson(c.res, 200, { ok: true });
    return;
  }
  throw new ValidationError('Unknown chunked upload request');
}

/** `POST files/mkdir` {path}. */
async function mkdir(c: ApiCall): Promise<void> {
  const { app, user } = c;
  const path = normalizePath(str(await readBody(c.req), 'path'));
  if (path === '') throw new ValidationError('Missing path');
  const r = await resolve(app, user.uid, path);
  assertPermitted(r, 'create');
  const node = await app.files.mkdir(r.owner, r.path, { actor: c.actor });
  sendJson(c.res, 201, { item: entry(node, path, r.permissions, user.uid) });
}

/** `POST files/move` {from, to, overwrite?} (rename and move; a received share's mount point is renamed). */
async function move(c: ApiCall): Promise<void> {
  const { app, user } = c;
  const body = await readBody(c.req);
  const from = normalizePath(str(body, 'from'));
  const to = normalizePath(str(body, 'to'));
  if (from === '' || to === '') throw new ForbiddenError('The root cannot be moved');
  const overwrite = body.overwrite === true || body.overwrite === 'true';
  // The rule WebDAV's MOVE follows too (mount roots, source and destination permissions).
  const plan = await app.transfers.plan(user.uid, 'move', from, to, { overwrite });
  if (plan.kind === 'rename-mount') {
    await app.shares.renameMount(user.uid, plan.mountPoint, plan.name);
    sendJson(c.res, 200, { ok: true });
    return;
  }
  // Between your files and a received share (or two owners' shares) the content changes owner, as in Nextcloud.
  const result = await app.files.moveBetween(c.actor, plan.from, plan.to, { overwrite });
  sendJson(c.res, 200, { item: entry(result.node, to, plan.destination.permissions, user.uid) });
}

/** `POST files/delete` {path}. A received share's mount point is unshared from the user. */
async function remove(c: ApiCall): Promise<void> {
  const { app, user } = c;
  const path = normalizePath(str(await readBody(c.req), 'path'));
  if (path === '') throw new ForbiddenError('The root cannot be deleted');
  const r = await resolve(app, user.uid, path);
  if (r.mountPoint !== undefined && r.mountPoint === path) {
    await app.shares.unshareFromSelf(user.uid, path);
  } else {
    assertPermitted(r, 'delete');
    // to the owner's trash bin; a share recipient sees it in theirs too
    await app.trash.moveToTrash(c.actor, r.owner, r.path);
  }
  sendJson(c.res, 200, { ok: true });
}

/** Routes `/web/api/files…`. @returns false when the request is not a files request */
export async function handleFilesApi(c: ApiCall): Promise<boolean> {
  const m = c.req.method ?? 'GET';
  const [, sub] = c.segments;
  if (sub === undefined && m === 'GET') { await list(c); return true; }
  if (sub === 'download' && (m === 'GET' || m === 'HEAD')) { await download(c); return true; }
  if (sub === 'upload' && m === 'PUT') { await upload(c); return true; }
  if (sub === 'chunked') { await chunked(c); return true; }
  if (sub === 'mkdir' && m === 'POST') { await mkdir(c); return true; }
  if (sub === 'move' && m === 'POST') { await move(c); return true; }
  if (sub === 'delete' && m === 'POST') { await remove(c); return true; }
  return false;
}
