/**
 * Chunked uploads under `/remote.php/dav/uploads/<uid>/…` (desktop 3.7 "chunking NG", v2 with
 * Destination, rclone `start-end` names):
 *   MKCOL  <id>            start (OC-Total-Length → early 507; Destination kept for v2)
 *   PUT    <id>/<chunk>    store a chunk (OC-Chunk-Offset, OC-Total-Length)
 *   PROPFIND <id> Depth 1  resume listing (resourcetype, getcontentlength, getetag)
 *   MOVE   <id>/.file      assemble into Destination (X-OC-Mtime, OC-Checksum, OC-Total-Length, If-Match)
 *   DELETE <id>            abort
 * Errors are thrown as AppErrors / DavStatusErrors; the DAV router maps them.
 */
import type { Actor } from '../actor.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthenticatedUser } from '../auth/types.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import { assertPermitted, writeOp } from '../sharing/share-access.ts';
import type { HttpContext } from '../http/context.ts';
import type { ChunkInfo, UploadInfo } from '../files/upload-repository.ts';
import { assertUploadId } from '../files/upload-service.ts';
import type { WriteOptions } from '../files/types.ts';
import { DavStatusError } from './dav-errors.ts';
import { sendEmpty } from './dav-request.ts';
import { toRealTarget } from './share-gate.ts';
import { decodeSegment, encodeSegment, resolveDestination } from './dav-target.ts';
import { drain, hasBody, header, httpDate, ocId, parseDepth, parseOverwrite, writeOptionsFromHeaders } from './http-util.ts';
import { assertWritable } from './lock-guard.ts';
import { readBody } from './xml-reader.ts';
import { MultistatusWriter, propstat, responseWithPropstats } from './xml-writer.ts';

export const UPLOADS_ROOT = '/remote.php/dav/uploads/';
const ALLOW = 'OPTIONS, PROPFIND, MKCOL, PUT, MOVE, DELETE';
const PROPFIND_BODY_LIMIT = 64 * 1024;

function nonNegativeInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  if (!/^\d{1,16}$/.test(v.trim())) throw new ValidationError(`Invalid ${name}`);
  const n = Number(v.trim());
  if (!Number.isSafeInteger(n)) throw new ValidationError(`Invalid ${name}`);
  return n;
}

function methodNotAllowed(req: IncomingMessage): never {
  drain(req);
  throw new DavStatusError(405, `${req.method} is not allowed here`, 'Sabre\\DAV\\Exception\\MethodNotAllowed', '', { Allow: ALLOW });
}

/** The optional v2 `Destination` header as a path in the user's tree (null when absent). */
function optionalDestination(req: IncomingMessage, uid: string): string | null {
  if (header(req, 'destination') === undefined) return null;
  return resolveDestination(req, uid).path;
}

/**
 * Handles every request under `/remote.php/dav/uploads/<uid>/…` for an authenticated user.
 * @throws ForbiddenError (another user's uploads; a destination in a received share that does not
 *   grant create/update), NotFoundError, ValidationError, QuotaExceededError,
 *   LockedError, PreconditionFailedError, ConflictError, DavStatusError (405/415).
 */
export async function uploadsHandler(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, user: AuthenticatedUser, actor: Actor): Promise<void> {
  const raw = ctx.rawPath.startsWith(UPLOADS_ROOT) ? ctx.rawPath.slice(UPLOADS_ROOT.length) : '';
  const segs = raw.split('/').filter((s) => s !== '').map(decodeSegment);
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') {
    drain(req);
    return sendEmpty(res, 200, { DAV: '1, 2, 3', Allow: ALLOW });
  }
  if (segs.length === 0) {
    // /remote.php/dav/uploads/ itself: list the user's upload home.
    if (method !== 'PROPFIND') return methodNotAllowed(req);
    await drainPropfind(req);
    const w = new MultistatusWriter(res);
    w.start();
    await w.write(responseWithPropstats(UPLOADS_ROOT, propstat('<d:resourcetype><d:collection/></d:resourcetype>', 200)));
    if (parseDepth(req) !== 0) await w.write(collectionResponse(`${UPLOADS_ROOT}${encodeSegment(user.uid)}/`, null));
    return w.end();
  }
  if (segs[0] !== user.uid) {
    drain(req);
    throw new ForbiddenError('Not your uploads');
  }
  const uid = user.uid;
  const home = `${UPLOADS_ROOT}${encodeSegment(uid)}/`;
  const uploadId = segs[1];
  const app = ctx.app;

  if (uploadId === undefined) {
    if (method !== 'PROPFIND') return methodNotAllowed(req);
    await drainPropfind(req);
    const w = new MultistatusWriter(res);
    w.start();
    await w.write(collectionResponse(home, null));
    if (parseDepth(req) !== 0) {
      for (const u of await app.uploads.list(uid)) await w.write(collectionResponse(`${home}${encodeSegment(u.uploadId)}/`, u));
    }
    return w.end();
  }
  assertUploadId(uploadId);
  const uploadHref = `${home}${encodeSegment(uploadId)}/`;

  if (segs.length === 2) {
    switch (method) {
      case 'MKCOL': {
        if (hasBody(req)) {
          drain(req);
          throw new DavStatusError(415, 'MKCOL with a body is not supported', 'Sabre\\DAV\\Exception\\UnsupportedMediaType');
        }
        drain(req);
        const totalLength = nonNegativeInt(header(req, 'oc-total-length'), 'OC-Total-Length') ?? null;
        const destination = optionalDestination(req, uid);
        if (destination !== null && totalLength !== null) {
          // early 507 when the file would not fit in the quota of the tree it lands in (a share's owner)
          const real = await toRealTarget(app, { uid, path: destination, hrefBase: '' });
          if (real.share) await app.uploads.checkQuota(real.uid, totalLength, real.path);
        }
        await app.uploads.create(uid, uploadId, { totalLength, destination });
        return sendEmpty(res, 201);
      }
      case 'PROPFIND': {
        await drainPropfind(req);
        const depth = parseDepth(req) ?? 1;
        const upload = await app.uploads.get(uid, uploadId);
        const w = new MultistatusWriter(res);
        w.start();
        await w.write(collectionResponse(uploadHref, upload));
        if (depth !== 0) for (const c of await app.uploads.chunks(uid, uploadId)) await w.write(chunkResponse(uploadHref, c));
        return w.end();
      }
      case 'DELETE':
        drain(req);
        await app.uploads.remove(uid, uploadId);
        return sendEmpty(res, 204);
      default:
        return methodNotAllowed(req);
    }
  }

  if (segs.length !== 3) {
    drain(req);
    throw new NotFoundError('No such upload resource');
  }
  const name = segs[2]!;

  if (name === '.file') {
    if (method !== 'MOVE') return methodNotAllowed(req);
    drain(req);
    const view = resolveDestination(req, uid);
    if (view.path === '') throw new DavStatusError(403, 'Cannot replace the root folder', 'Sabre\\DAV\\Exception\\Forbidden');
    // A destination inside a received share is written into the owner's tree, with the checks of
    // a PUT through the share: create for a new file, update to overwrite (a file share's mount too).
    const dest = await toRealTarget(app, view);
    if (dest.share) assertPermitted(dest.share, writeOp(await app.files.tryStat(dest.uid, dest.path)));
    const opts: WriteOptions & { totalLength?: number | null } = writeOptionsFromHeaders(req);
    const mtimeHeader = header(req, 'x-oc-mtime');
    if (!parseOverwrite(req)) opts.ifNoneMatch = ['*'];
    const total = nonNegativeInt(header(req, 'oc-total-length'), 'OC-Total-Length');
    if (total !== undefined) opts.totalLength = total;
    await app.uploads.get(uid, uploadId); // 404 before any lock or precondition work
    await assertWritable(app, req, dest.uid, [{ path: dest.path, depth: 0 }]);
    const result = await app.uploads.assemble(actor, uid, uploadId, { uid: dest.uid, path: dest.path }, opts);
    const etag = `"${result.node.etag}"`;
    const headers: Record<string, string> = { ETag: etag, 'OC-ETag': etag, 'OC-FileId': ocId(result.node.fileId, app.config.instanceid) };
    if (mtimeHeader !== undefined) headers['X-OC-MTime'] = 'accepted';
    return sendEmpty(res, result.created ? 201 : 204, headers);
  }

  switch (method) {
    case 'PUT': {
      const totalLength = nonNegativeInt(header(req, 'oc-total-length'), 'OC-Total-Length') ?? null;
      const offset = nonNegativeInt(header(req, 'oc-chunk-offset'), 'OC-Chunk-Offset') ?? null;
      const expectedSize = nonNegativeInt(header(req, 'content-length'), 'Content-Length') ?? null;
      if (header(req, 'destination') !== undefined) optionalDestination(req, uid); // v2: validate only
      const { chunk, created } = await app.uploads.putChunk(actor, uid, uploadId, name, req, { totalLength, offset, expectedSize });
      return sendEmpty(res, created ? 201 : 204, { ETag: `"${chunk.blobId}"`, 'OC-ETag': `"${chunk.blobId}"` });
    }
    case 'PROPFIND': {
      await drainPropfind(req);
      const chunk = (await app.uploads.chunks(uid, uploadId)).find((c) => c.name === name);
      if (!chunk) throw new NotFoundError('No such chunk');
      const w = new MultistatusWriter(res);
      w.start();
      await w.write(chunkResponse(uploadHref, chunk));
      return w.end();
    }
    case 'DELETE':
      drain(req);
      await app.uploads.removeChunk(uid, uploadId, name);
      return sendEmpty(res, 204);
    default:
      return methodNotAllowed(req);
  }
}

/** Reads (and bounds) a PROPFIND body; the answer has a fixed property set whatever was asked. */
async function drainPropfind(req: IncomingMessage): Promise<void> {
  await readBody(req, PROPFIND_BODY_LIMIT);
}

function collectionResponse(hrefValue: string, upload: UploadInfo | null): string {
  let props = '<d:resourcetype><d:collection/></d:resourcetype>';
  if (upload) {
    props += `<d:getlastmodified>${httpDate(upload.createdAt)}</d:getlastmodified>`;
    props += `<d:getetag>"${upload.createdAt.toString(16)}"</d:getetag>`;
  }
  return responseWithPropstats(hrefValue, propstat(props, 200));
}

function chunkResponse(uploadHref: string, c: ChunkInfo): string {
  const props = '<d:resourcetype/>'
    + `<d:getcontentlength>${c.size}</d:getcontentlength>`
    + `<d:getetag>"${c.blobId}"</d:getetag>`
    + `<d:getlastmodified>${httpDate(c.mtime)}</d:getlastmodified>`;
  return responseWithPropstats(`${uploadHref}${encodeSegment(c.name)}`, propstat(props, 200));
}
