import type { UserActor } from '../actor.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { App } from '../app.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import { AppError, ValidationError } from '../errors.ts';
import { normalizePath } from '../files/paths.ts';
import type { HttpContext } from '../http/context.ts';
import { permissionLetters } from '../sharing/share-access.ts';
import { DavStatusError } from './dav-errors.ts';
import { filesHrefBase, type DavTarget } from './dav-target.ts';
import { SMALL_BLOB } from '../storage/buffer-sizes.ts';
import { readAll } from '../storage/blob-store.ts';
import { CommitPipeline } from './commit-pipeline.ts';
import { drain, header, ocId, type HeaderGetter } from './http-util.ts';
import { MultipartError, MultipartReader, relatedBoundary, type MultipartPart } from './multipart-reader.ts';
import { assertPutPermitted, toRealTarget } from './share-gate.ts';
import { putContent } from './write-handlers.ts';

/** The bulk upload endpoint (Nextcloud's `/remote.php/dav/bulk`). */
export const BULK_PATH = '/remote.php/dav/bulk';

/**
 * Most files in one bulk request. The desktop client sends batches of 100; a body with more parts
 * is refused at the first part beyond this (the files before it stay written, each on its own).
 */
export const BULK_MAX_PARTS = 1000;
/** Most bytes of one part's header block (a path of 4 KiB and a few short headers fit). */
const BULK_PART_HEADER_BYTES = 16 * 1024;

/** One entry of the answer, as Nextcloud's BulkUploadPlugin writes it. */
type BulkEntry =
  | { error: false; etag: string; fileid: string; permissions: string; 'OC-FileID': string; 'X-OC-MTime'?: 'accepted' }
  | { error: true; message: string };

const MD5_HEX = /^(?:md5:)?([0-9a-f]{32})$/i;

/**
 * `X-File-Path` (the path from the user's root, as the desktop client sends it: UTF-8, not
 * percent-encoded) → canonical path. Every segment is checked as a name, so '..' cannot leave the
 * user's tree.
 * @throws ValidationError
 */
export function bulkFilePath(raw: string | undefined): string {
  if (raw === undefined || raw === '') throw new ValidationError('X-File-Path is missing');
  const p = normalizePath(raw);
  if (p === '') throw new ValidationError('X-File-Path names the root folder');
  return p;
}

/**
 * The headers a part's write takes, mapped onto the PUT headers putContent reads: `X-File-Mtime`
 * (or `X-OC-Mtime`) is the mtime, `X-File-MD5` joins `OC-Checksum` as an MD5 that the write
 * verifies while streaming (a mismatch commits nothing), the part's Content-Length is the size.
 * @throws ValidationError when X-File-MD5 is missing or not an MD5
 */
function partHeaders(part: MultipartPart): HeaderGetter {
  const h = part.headers;
  const md5 = MD5_HEX.exec(h.get('x-file-md5') ?? '');
  if (!md5) throw new ValidationError('X-File-MD5 is missing or not an MD5 hex digest');
  const sent = h.get('oc-checksum')?.trim();
  const checksum = sent && /(^|\s)md5:/i.test(sent) ? sent : `${sent ? `${sent} ` : ''}MD5:${md5[1]!.toLowerCase()}`;
  return (name) => {
    switch (name) {
      case 'x-oc-mtime': return h.get('x-file-mtime') ?? h.get('x-oc-mtime');
      case 'oc-checksum': return checksum;
      case 'content-length': return String(part.length);
      case 'oc-total-length': return undefined;
      default: return h.get(name);
    }
  };
}

/** A part ready to be written: its target resolved and permitted, its headers checked. */
interface PreparedPart {
  readonly target: DavTarget;
  readonly get: HeaderGetter;
}

/**
 * Resolves and checks one part before any of its bytes are read: its target (the user's tree or a
 * received share), the share permissions, the MD5 header.
 * @throws whatever toRealTarget and assertPutPermitted throw; ValidationError for a bad path or MD5.
 */
async function preparePart(app: App, user: AuthenticatedUser, part: MultipartPart, path: string): Promise<PreparedPart> {
  const get = partHeaders(part);
  const view: DavTarget = { uid: user.uid, path, hrefBase: filesHrefBase(user.uid) };
  const target = await toRealTarget(app, view);
  await assertPutPermitted(app, target);
  return { target, get };
}

/**
 * Writes one prepared part through the PUT write path (committed and durable when it resolves).
 * @throws whatever putContent throws.
 */
async function writePart(app: App, req: IncomingMessage, actor: UserActor, prepared: PreparedPart, body: Readable): Promise<BulkEntry> {
  const { target, get } = prepared;
  const { node } = await putContent(app, actor, req, target, body, get);
  const fileid = ocId(node.fileId, app.config.instanceid);
  const permissions = target.share ? permissionLetters(node, target.share, false) : 'RGDNVW';
  const entry: BulkEntry = { error: false, etag: node.etag, fileid, permissions, 'OC-FileID': fileid };
  if (get('x-oc-mtime') !== undefined) entry['X-OC-MTime'] = 'accepted';
  return entry;
}

/** The message a failed part carries in the answer (internal errors stay in the log). */
function partError(err: unknown): string {
  if (err instanceof AppError || err instanceof DavStatusError) return err.message;
  return 'Internal error';
}

/**
 * `POST /remote.php/dav/bulk` (Nextcloud's bulk upload, capability `dav.bulkupload` 1.0): a
 * `multipart/related` body of files, each part with `X-File-Path`, `X-File-MD5`, `X-File-Mtime`
 * and `Content-Length`. Every file is committed on its own through the PUT write path, so quota,
 * share permissions, locks, checksums and encryption apply as for a PUT, and a bad file fails
 * alone: the answer is 200 with `{path: {error:false, etag, fileid, permissions}}` or
 * `{path: {error:true, message}}` per file, in the request's order. The body streams, never whole:
 * a small part (≤ SMALL_BLOB) is read whole and committed while the next parts are read (up to
 * BULK_IN_FLIGHT at once, so that their fsyncs overlap), a larger one streams alone; the answer is
 * sent once every write has committed.
 * A body that cannot be framed (no boundary, a lying Content-Length, too many parts) stops there
 * with 400 and the entries of the files before it; no file after it is touched.
 * @throws DavStatusError (405 for other methods), ValidationError (400: not multipart/related).
 */
export async function handleBulkUpload(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, user: AuthenticatedUser, actor: UserActor): Promise<void> {
  const { app } = ctx;
  if (req.method !== 'POST') {
    drain(req);
    throw new DavStatusError(405, 'The bulk endpoint takes POST only', 'Sabre\\DAV\\Exception\\MethodNotAllowed', '', { Allow: 'POST' });
  }
  const boundary = relatedBoundary(header(req, 'content-type'));
  const reader = new MultipartReader(req, boundary, { maxParts: BULK_MAX_PARTS, maxHeaderBytes: BULK_PART_HEADER_BYTES });
  // the answer's keys in the order of the parts; a path sent twice keeps its first place and the last outcome
  const answer = new Map<string, BulkEntry | undefined>();
  const pipeline = new CommitPipeline();
  const quotas = new Map<string, number | null>();
  let status = 200;
  let written = 0;
  const failed = (rawPath: string, err: unknown): void => {
    if (!(err instanceof AppError || err instanceof DavStatusError)) ctx.log.error({ err }, 'bulk upload: a file failed');
    answer.set(rawPath, { error: true, message: partError(err) });
  };
  try {
    for (;;) {
      await pipeline.room();
      let part: MultipartPart | undefined;
      try {
        part = await reader.next();
      } catch (err) {
        if (!(err instanceof MultipartError)) throw err;
        ctx.log.info({ msg: err.message, parts: reader.count }, 'bulk upload stopped: bad multipart body');
        await pipeline.settle();
        answer.set('', { error: true, message: err.message });
        status = 400;
        break;
      }
      if (!part) break;
      const rawPath = part.headers.get('x-file-path') ?? '';
      answer.set(rawPath, answer.get(rawPath));
      // writes of one path run in order (key: the canonical path, or the raw one when it is invalid)
      let path = rawPath;
      let prepared: PreparedPart;
      try {
        path = bulkFilePath(rawPath);
        prepared = await preparePart(app, user, part, path);
      } catch (err) {
        // after the writes of the same path before it, so that the answer keeps the last outcome
        pipeline.start(path, '', 0, async () => failed(rawPath, err));
        continue;
      }
      const owner = prepared.target.uid;
      const write = async (body: Readable): Promise<void> => {
        try {
          answer.set(rawPath, await writePart(app, req, actor, prepared, body));
          written++;
        } catch (err) {
          failed(rawPath, err);
        }
      };
      if (part.length > SMALL_BLOB) {
        // streamed, not held: the writes before it commit first, and the next part waits for it
        await pipeline.settle();
        await write(part.body);
        continue;
      }
      let bytes: Buffer;
      try {
        bytes = await readAll(part.body);
      } catch (err) {
        pipeline.start(path, '', 0, async () => failed(rawPath, err));
        continue;
      }
      // Quota with writes in flight: each write re-checks the quota in its commit, but commits
      // race; a part that might not fit beside the bytes in flight waits for them, so that of
      // two parts that together exceed the quota the earlier one is written, as in series.
      if (!quotas.has(owner)) quotas.set(owner, (await app.files.quota(owner)).total);
      const limit = quotas.get(owner)!;
      if (limit !== null && pipeline.reserved(owner) > 0
        && (await app.files.quota(owner)).used + pipeline.reserved(owner) + bytes.length > limit) {
        await pipeline.settle();
      }
      pipeline.start(path, owner, bytes.length, () => write(Readable.from([bytes], { objectMode: false })));
    }
  } finally {
    // every write started has committed (or failed) before the answer, and before an error propagates
    await pipeline.settle();
    await reader.close().catch(() => {});
  }
  ctx.log.info({ files: reader.count, written }, 'bulk upload');
  drain(req);
  const body = JSON.stringify(Object.fromEntries(answer));
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
