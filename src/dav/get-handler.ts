import { NotFoundError, PreconditionFailedError } from '../errors.ts';
import { sendContent } from '../http/send-content.ts';
import { encodeSegment } from './dav-target.ts';
import type { FileNode } from '../files/types.ts';
import { DavStatusError } from './dav-errors.ts';
import type { DavRequest } from './dav-request.ts';
import { sendEmpty } from './dav-request.ts';
import {
  drain, etagMatches, header, httpDate, ocId, parseEtagList, parseHttpDate, parseRange, quotedEtag,
} from './http-util.ts';
import { evaluateIf } from './lock-adapter.ts';

/** The checksum entry to announce in `OC-Checksum` (SHA1 preferred, else the first stored). */
export function preferredChecksum(stored: string | null): string | undefined {
  if (!stored) return undefined;
  const parts = stored.split(/\s+/).filter((p) => p.includes(':'));
  return parts.find((p) => p.toUpperCase().startsWith('SHA1:')) ?? parts[0];
}

/** Headers describing a file's current version. */
export function versionHeaders(node: FileNode, instanceId: string): Record<string, string> {
  return { ETag: quotedEtag(node), 'OC-ETag': quotedEtag(node), 'OC-FileId': ocId(node.fileId, instanceId) };
}

/**
 * RFC 7232 conditionals for GET/HEAD. Returns 304 or 412 when a condition decides the answer,
 * undefined to proceed.
 */
export function conditionalStatus(d: DavRequest, node: FileNode, safe: boolean): 304 | 412 | undefined {
  const { req } = d;
  const ifMatch = parseEtagList(header(req, 'if-match'));
  if (ifMatch && !etagMatches(ifMatch, node.etag)) return 412;
  if (!ifMatch) {
    const ius = parseHttpDate(header(req, 'if-unmodified-since'));
    if (ius !== undefined && node.mtime > ius) return 412;
  }
  const inm = parseEtagList(header(req, 'if-none-match'));
  if (inm) {
    if (etagMatches(inm, node.etag)) return safe ? 304 : 412;
  } else if (safe) {
    const ims = parseHttpDate(header(req, 'if-modified-since'));
    if (ims !== undefined && node.mtime <= ims) return 304;
  }
  return undefined;
}

/** Whether an If-Range header lets the Range apply. */
function ifRangeHolds(value: string | undefined, node: FileNode): boolean {
  if (value === undefined) return true;
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === quotedEtag(node);
  const t = parseHttpDate(v);
  return t !== undefined && node.mtime <= t;
}

/**
 * GET/HEAD of a file: version headers, conditionals (304/412), one byte range (206/416),
 * streamed with backpressure. Folders answer 405.
 * @throws NotFoundError, PreconditionFailedError, CryptoError (before headers; after, the socket is destroyed).
 */
export async function handleGet(d: DavRequest): Promise<void> {
  const { app, req, target } = d;
  drain(req);
  await evaluateIf(app, req, target.uid, target.path);
  // A concurrent overwrite may delete the blob between stat and open: look again (bounded).
  for (let attempt = 1; ; attempt++) {
    const node = await app.files.stat(target.uid, target.path);
    try {
      return await serveNode(d, node);
    } catch (err) {
      if (!(err instanceof NotFoundError) || attempt >= 3 || d.res.headersSent) throw err;
    }
  }
}

/** Serves a looked-up file node (also a version or a trashed file, src/dav/versions-handler.ts, trashbin-handler.ts). */
export async function serveNode(d: DavRequest, node: FileNode): Promise<void> {
  const { app, req, res } = d;
  if (node.kind === 'dir') {
    throw new DavStatusError(405, 'GET is not allowed on a folder; use PROPFIND', 'Sabre\\DAV\\Exception\\MethodNotAllowed');
  }
  const base: Record<string, string> = {
    ...versionHeaders(node, app.config.instanceid),
    'Last-Modified': httpDate(node.mtime),
    'Accept-Ranges': 'bytes',
  };
  const cond = conditionalStatus(d, node, true);
  if (cond === 304) return sendEmpty(res, 304, base);
  if (cond === 412) throw new PreconditionFailedError('Precondition failed');

  const checksum = preferredChecksum(node.checksum);
  if (checksum) base['OC-Checksum'] = checksum;
  base['Content-Type'] = node.mimetype || 'application/octet-stream';
  base['Content-Disposition'] = `attachment; filename*=UTF-8''${encodeSegment(node.name)}`;
  base['X-Content-Type-Options'] = 'nosniff';
  base['Content-Security-Policy'] = "default-src 'none'; sandbox";

  const rangeHeader = ifRangeHolds(header(req, 'if-range'), node) ? header(req, 'range') : undefined;
  const range = parseRange(rangeHeader, node.size);
  if (range === 'unsatisfiable') {
    throw new DavStatusError(416, 'Requested range not satisfiable', 'Sabre\\DAV\\Exception\\RequestedRangeNotSatisfiable', '',
      { 'Content-Range': `bytes */${node.size}` });
  }
  const status = range ? 206 : 200;
  const length = range ? range.end - range.start + 1 : node.size;
  if (range) base['Content-Range'] = `bytes ${range.start}-${range.end}/${node.size}`;

  const content = req.method === 'HEAD' ? undefined : await app.files.openNode(d.actor, node, range ?? undefined);
  res.statusCode = status;
  for (const [k, v] of Object.entries(base)) res.setHeader(k, v);
  res.setHeader('Content-Length', length);
  if (!content) {
    res.end();
    return;
  }
  await sendContent(content.stream, res, length);
}
