import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticateSession } from '../web/session-auth.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import type { HttpContext, Route } from '../http/context.ts';
import { maintenanceGuard } from '../setup/maintenance.ts';
import { BULK_PATH, handleBulkUpload } from './bulk-upload.ts';
import { handleCopyMove } from './copy-move.ts';
import { DavStatusError, sendDavError } from './dav-errors.ts';
import type { DavRequest } from './dav-request.ts';
import { sendEmpty } from './dav-request.ts';
import { XML_BODY_BYTES } from '../http/limits.ts';
import { DAV_FILES_PREFIX, filesHrefBase, resolveFilesTarget, WEBDAV_PREFIX } from './dav-target.ts';
import { handleGet } from './get-handler.ts';
import { drain, parseDepth } from './http-util.ts';
import { handleLock, handleUnlock, uploadsHandler } from './lock-adapter.ts';
import { handlePropfind, parsePropfind } from './propfind.ts';
import { handleProppatch } from './proppatch.ts';
import { handleDelete, handleMkcol, handlePatch, handlePut } from './write-handlers.ts';
import { readBody } from './xml-reader.ts';
import { userActor } from '../actor.ts';
import { handleVersions, VERSIONS_PREFIX } from './versions-handler.ts';
import { handleTrashbin, TRASHBIN_PREFIX } from './trashbin-handler.ts';
import { shareGate, toRealTarget } from './share-gate.ts';
import { MultistatusWriter, propstat, responseWithPropstats } from './xml-writer.ts';

/** Root of the DAV space. */
export const DAV_ROOT = '/remote.php/dav';
/** Chunked uploads space (the uploads handler's). */
export const UPLOADS_PREFIX = '/remote.php/dav/uploads';

/** Methods the files tree answers. */
export const ALLOWED_METHODS = 'OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, PUT, MKCOL, COPY, MOVE, LOCK, UNLOCK, PATCH';

const OPTIONS_HEADERS = {
  DAV: '1, 2, 3',
  'MS-Author-Via': 'DAV',
  Allow: ALLOWED_METHODS,
  'Accept-Ranges': 'bytes',
};

type MethodHandler = (d: DavRequest) => Promise<void>;

const METHODS: Record<string, MethodHandler> = {
  PROPFIND: handlePropfind,
  PROPPATCH: handleProppatch,
  GET: handleGet,
  HEAD: handleGet,
  PUT: handlePut,
  MKCOL: handleMkcol,
  DELETE: handleDelete,
  COPY: handleCopyMove,
  MOVE: handleCopyMove,
  PATCH: handlePatch,
  LOCK: (d) => handleLock(d.req, d.res, d.ctx, d.target, d.actor),
  UNLOCK: (d) => handleUnlock(d.req, d.res, d.ctx, d.target),
  OPTIONS: async (d) => { drain(d.req); sendEmpty(d.res, 200, OPTIONS_HEADERS); },
};

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Entry point of the WebDAV adapter: maintenance guard, Basic auth, target resolution, method
 * dispatch, and the mapping of every error to a DAV status (only here).
 */
export async function handleDav(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const { app, rawPath } = ctx;
  try {
    if (!isUnder(rawPath, DAV_ROOT) && !isUnder(rawPath, WEBDAV_PREFIX)) {
      drain(req);
      return sendEmpty(res, 404);
    }
    if (await maintenanceGuard(req, res, app)) return;
    // Browsers come with the session cookie (+ CSRF requesttoken); sync clients with Basic.
    const user = (!req.headers.authorization && await authenticateSession(app, req))
      || await app.auth.authenticateBasic(req.headers.authorization, ctx.ip);
    // Every content read and write of this request acts as this user (their keys, their seals of share keys).
    const actor = userActor(user.uid, user.via);
    if (rawPath === BULK_PATH) return await handleBulkUpload(req, res, ctx, user, actor);
    if (isUnder(rawPath, UPLOADS_PREFIX)) return await uploadsHandler(req, res, ctx, user, actor);
    if (isUnder(rawPath, VERSIONS_PREFIX)) return await handleVersions(req, res, ctx, user, actor);
    if (isUnder(rawPath, TRASHBIN_PREFIX)) return await handleTrashbin(req, res, ctx, user, actor);
    const viewTarget = resolveFilesTarget(rawPath, user.uid);
    if (!viewTarget) return await handleDavRoot(req, res, ctx, user);
    const target = await toRealTarget(app, viewTarget);
    const handler = METHODS[req.method ?? ''];
    if (!handler) {
      drain(req);
      throw new DavStatusError(405, `${req.method} is not supported`, 'Sabre\\DAV\\Exception\\MethodNotAllowed', '',
        { Allow: ALLOWED_METHODS });
    }
    const d = { req, res, ctx, app, user, actor, target };
    if (await shareGate(d)) return;
    await handler(d);
  } catch (err) {
    sendDavError(req, res, ctx, err);
  }
}

/**
 * `/remote.php/dav/` and `/remote.php/dav/files/`: OPTIONS, and a minimal PROPFIND listing the
 * files home of the authenticated user. Anything else there: 404/405.
 */
async function handleDavRoot(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, user: AuthenticatedUser): Promise<void> {
  const p = ctx.rawPath.replace(/\/+$/, '');
  const isRoot = p === DAV_ROOT;
  const isFiles = `${p}/` === DAV_FILES_PREFIX;
  if (!isRoot && !isFiles) {
    drain(req);
    return sendEmpty(res, 404);
  }
  if (req.method === 'OPTIONS') { drain(req); return sendEmpty(res, 200, OPTIONS_HEADERS); }
  if (req.method !== 'PROPFIND') {
    drain(req);
    throw new DavStatusError(405, `${req.method} is not allowed here`, 'Sabre\\DAV\\Exception\\MethodNotAllowed', '',
      { Allow: 'OPTIONS, PROPFIND' });
  }
  const depth = parseDepth(req) ?? 1;
  parsePropfind(await readBody(req, XML_BODY_BYTES)); // validates the body; the answer is fixed
  const collection = propstat('<d:resourcetype><d:collection/></d:resourcetype>', 200);
  const w = new MultistatusWriter(res);
  w.start();
  await w.write(responseWithPropstats(`${p}/`, collection));
  if (depth !== 0) {
    const child = isRoot ? `${DAV_ROOT}/files/` : `${filesHrefBase(user.uid)}/`;
    await w.write(responseWithPropstats(child, collection));
  }
  w.end();
}

/** The WebDAV routes (`/remote.php/dav/…`, `/remote.php/webdav/…`). */
export function davRoutes(): Route[] {
  return [
    { prefix: DAV_ROOT, handler: handleDav },
    { prefix: WEBDAV_PREFIX, handler: handleDav },
  ];
}
