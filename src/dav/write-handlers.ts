import { userActor, type Actor } from '../actor.ts';
import { ConflictError, ForbiddenError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { WriteOptions } from '../files/types.ts';
import { DavStatusError } from './dav-errors.ts';
import type { DavRequest } from './dav-request.ts';
import { sendEmpty } from './dav-request.ts';
import { versionHeaders } from './get-handler.ts';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { App } from '../app.ts';
import type { WriteResult } from '../files/types.ts';
import type { DavTarget } from './dav-target.ts';
import { drain, etagMatches, hasBody, header, parseEtagList, parseOcMtime, writeOptionsFrom, type HeaderGetter } from './http-util.ts';
import { assertWritable, removeLocksUnder } from './lock-adapter.ts';

function nonNegativeInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim())) throw new ValidationError(`Invalid ${name}`);
  return Number(v.trim());
}

/**
 * PUT: streams the body into a new version (`X-OC-Mtime`, `OC-Checksum`, `If-Match`,
 * `If-None-Match`, `Content-Length`/`OC-Total-Length` as the expected size).
 * Replies 201 (new) or 204 (overwritten) with ETag, OC-ETag, OC-FileId.
 * @throws ConflictError (409: folder, missing parent), PreconditionFailedError, QuotaExceededError,
 *   ValidationError (bad headers, checksum or size mismatch), LockedError.
 */
export async function handlePut(d: DavRequest): Promise<void> {
  const { app, req, res, target } = d;
  if (header(req, 'content-range') !== undefined) throw new ValidationError('Content-Range is not allowed on PUT');
  const result = await putContent(app, d.actor, req, target, req, (name) => header(req, name));
  const headers: Record<string, string> = versionHeaders(result.node, app.config.instanceid);
  if (header(req, 'x-oc-mtime') !== undefined) headers['X-OC-MTime'] = 'accepted';
  sendEmpty(res, result.created ? 201 : 204, headers);
}

/**
 * The write path of a PUT, which the bulk upload shares for each of its parts: the headers'
 * write options (`X-OC-Mtime`, `OC-Checksum`, `If-Match`, `If-None-Match`, `Content-Length`/
 * `OC-Total-Length` as the expected size), the locks (by the tokens in `req`'s `If` header), then
 * FilesService.writeFile as `actor` (quota, checksums, encryption, versions, atomic commit).
 * `target` is a real target whose share permissions the caller has checked (shareGate /
 * assertPutPermitted).
 * @throws DavStatusError (405 on the root), ConflictError (folder, missing parent),
 *   PreconditionFailedError, QuotaExceededError, ValidationError, LockedError.
 */
export async function putContent(app: App, actor: Actor, req: IncomingMessage, target: DavTarget, source: Readable, get: HeaderGetter): Promise<WriteResult> {
  if (target.path === '') throw new DavStatusError(405, 'Cannot PUT onto the root folder', 'Sabre\\DAV\\Exception\\MethodNotAllowed');
  const opts: WriteOptions = { ...writeOptionsFrom(get), author: actor.kind === 'user' ? actor.uid : undefined };
  const len = nonNegativeInt(get('content-length'), 'Content-Length');
  const total = nonNegativeInt(get('oc-total-length'), 'OC-Total-Length');
  const expected = len ?? total;
  if (len !== undefined && total !== undefined && len !== total) throw new ValidationError('Content-Length and OC-Total-Length disagree');
  if (expected !== undefined) opts.expectedSize = expected;
  // X-OC-CTime is accepted (Nextcloud stores a creation time; we have none to keep).
  await assertWritable(app, req, target.uid, [{ path: target.path, depth: 0 }]);
  return app.files.writeFile(actor, target.uid, target.path, source, opts);
}

/**
 * MKCOL: 201 + OC-FileId; a body → 415; existing → 405; missing parent → 409.
 * @throws AlreadyExistsError, ConflictError, LockedError.
 */
export async function handleMkcol(d: DavRequest): Promise<void> {
  const { app, req, res, target } = d;
  if (hasBody(req)) {
    drain(req);
    throw new DavStatusError(415, 'MKCOL with a body is not supported', 'Sabre\\DAV\\Exception\\UnsupportedMediaType');
  }
  if (target.path === '') throw new DavStatusError(405, 'The resource already exists', 'Sabre\\DAV\\Exception\\MethodNotAllowed');
  const mtime = parseOcMtime(header(req, 'x-oc-mtime'));
  await assertWritable(app, req, target.uid, [{ path: target.path, depth: 0 }]);
  const node = await app.files.mkdir(target.uid, target.path, mtime !== undefined ? { mtime, actor: d.actor } : { actor: d.actor });
  sendEmpty(res, 201, versionHeaders(node, app.config.instanceid));
}

/**
 * DELETE (recursive): 204; If-Match honoured; the locks at and below go away.
 * @throws NotFoundError, ForbiddenError (root), PreconditionFailedError, LockedError.
 */
export async function handleDelete(d: DavRequest): Promise<void> {
  const { app, req, res, target } = d;
  drain(req);
  if (target.path === '') throw new ForbiddenError('The root folder cannot be deleted');
  const node = await app.files.stat(target.uid, target.path);
  const ifMatch = parseEtagList(header(req, 'if-match'));
  if (ifMatch && !etagMatches(ifMatch, node.etag)) throw new PreconditionFailedError('If-Match does not match');
  await assertWritable(app, req, target.uid, [{ path: target.path, depth: 'infinity' }]);
  // to the owner's trash bin (issue #15); a share recipient sees it in theirs too
  await app.trash.moveToTrash(userActor(d.user.uid, d.user.via), target.uid, target.path);
  await removeLocksUnder(app, target.uid, target.path);
  sendEmpty(res, 204);
}

const HASH_ALGOS: Record<string, 'SHA1' | 'MD5' | 'ADLER32'> = { SHA1: 'SHA1', MD5: 'MD5', ADLER32: 'ADLER32' };

/**
 * PATCH with `X-Recalculate-Hash: SHA1|MD5|adler32`: re-hashes the stored content, stores and
 * returns it in `OC-Checksum` (200). Other PATCH requests get 405.
 * @throws NotFoundError, ConflictError (folder), ValidationError (unknown algorithm).
 */
export async function handlePatch(d: DavRequest): Promise<void> {
  const { app, req, res, target } = d;
  drain(req);
  const algoHeader = header(req, 'x-recalculate-hash');
  if (algoHeader === undefined) throw new DavStatusError(405, 'PATCH needs X-Recalculate-Hash', 'Sabre\\DAV\\Exception\\MethodNotAllowed');
  const algo = HASH_ALGOS[algoHeader.trim().toUpperCase()];
  if (!algo) throw new ValidationError('Unsupported hash algorithm');
  const node = await app.files.stat(target.uid, target.path);
  if (node.kind !== 'file') throw new ConflictError('Cannot hash a folder');
  const checksum = await app.files.recalculateChecksum(d.actor, target.uid, target.path, algo);
  sendEmpty(res, 200, { 'OC-Checksum': checksum, ...versionHeaders(node, app.config.instanceid) });
}
