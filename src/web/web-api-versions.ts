import { pipeline } from 'node:stream/promises';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { FileVersion } from '../versions/version-repository.ts';
import { contentDisposition, type ApiCall } from './web-api-files.ts';
import { readBody, sendJson, str } from './web-http.ts';

/** One version of a file as the browser gets it. */
export interface WebVersion {
  /** Seconds: the content's mtime while it was current; names the version in the calls below. */
  version: number;
  size: number;
  mimetype: string;
  etag: string;
  label: string;
  author: string | null;
  authorName: string | null;
}

/** A non-negative integer path segment (file id, version). @throws NotFoundError */
function intSegment(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d{1,15}$/.test(s)) throw new NotFoundError(`no such ${what}`);
  return Number(s);
}

/** Display names of the authors (one lookup per user; a deleted user keeps their uid). */
function nameCache(c: ApiCall): (uid: string | null) => Promise<string | null> {
  const names = new Map<string, string>();
  return async (uid) => {
    if (uid === null) return null;
    let n = names.get(uid);
    if (n === undefined) {
      n = (await c.app.users.get(uid).catch(() => undefined))?.displayName || uid;
      names.set(uid, n);
    }
    return n;
  };
}

/** `GET versions/<fileId>`: the current content and the versions, newest first. */
async function list(c: ApiCall, fileId: number): Promise<void> {
  const { node, versions, author, permissions } = await c.app.versions.list(c.actor, fileId);
  const nameOf = nameCache(c);
  const out: WebVersion[] = [];
  for (const v of versions) out.push(await webVersion(v, nameOf));
  sendJson(c.res, 200, {
    file: { fileId: node.fileId, name: node.name, size: node.size, mtime: node.mtime, etag: node.etag, author, authorName: await nameOf(author) },
    permissions,
    versions: out,
  });
}

async function webVersion(v: FileVersion, nameOf: (uid: string | null) => Promise<string | null>): Promise<WebVersion> {
  return { version: v.version, size: v.size, mimetype: v.mimetype, etag: v.etag, label: v.label ?? '', author: v.author, authorName: await nameOf(v.author) };
}

/** `GET versions/<fileId>/<version>/download`: the version's content as an attachment, named as the file. */
async function download(c: ApiCall, fileId: number, version: number): Promise<void> {
  const { res } = c;
  const content = await c.app.versions.open(c.actor, fileId, version);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', content.node.size);
  res.setHeader('Content-Disposition', contentDisposition(content.node.name));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  if (c.req.method === 'HEAD') { content.stream.destroy(); res.end(); return; }
  await pipeline(content.stream, res);
}

/**
 * Routes `/web/api/versions/<fileId>[/<version>/<action>]`: list (GET), download (GET),
 * `restore`, `label` {label} and `delete` (POST). The version service checks who may do what
 * (read to list and download, update for the rest).
 * @returns false when the request is not a versions request
 */
export async function handleVersionsApi(c: ApiCall): Promise<boolean> {
  if (c.segments[0] !== 'versions') return false;
  const m = c.req.method ?? 'GET';
  const [, fid, ver, action, ...rest] = c.segments;
  if (rest.length > 0) return false;
  const fileId = intSegment(fid, 'file');
  if (ver === undefined) {
    if (m !== 'GET') return false;
    await list(c, fileId);
    return true;
  }
  const version = intSegment(ver, 'version');
  if (action === 'download' && (m === 'GET' || m === 'HEAD')) { await download(c, fileId, version); return true; }
  if (m !== 'POST') return false;
  switch (action) {
    case 'restore': {
      const node = await c.app.versions.restore(c.actor, fileId, version);
      sendJson(c.res, 200, { size: node.size, mtime: node.mtime, etag: node.etag });
      return true;
    }
    case 'label': {
      const body = await readBody(c.req);
      if (body.label !== undefined && typeof body.label !== 'string') throw new ValidationError('label must be a string');
      await c.app.versions.setLabel(c.actor, fileId, version, str(body, 'label', false));
      sendJson(c.res, 200, { ok: true });
      return true;
    }
    case 'delete':
      c.req.resume();
      await c.app.versions.delete(c.actor, fileId, version);
      sendJson(c.res, 200, { ok: true });
      return true;
    default:
      return false;
  }
}
