import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserActor } from '../actor.ts';
import type { App } from '../app.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { HttpContext } from '../http/context.ts';
import type { FileVersion } from '../versions/version-repository.ts';
import { sendEmpty } from './dav-request.ts';
import { XML_BODY_BYTES } from '../http/limits.ts';
import { decodeSegment, destinationRawPath, encodeSegment } from './dav-target.ts';
import { serveNode } from './get-handler.ts';
import { drain, httpDate, parseDepth } from './http-util.ts';
import { parsePropfind } from './propfind.ts';
import { parsePropertyUpdate } from './proppatch.ts';
import { COLLECTION, methodNotAllowed, virtualCollection, virtualResponse, type VirtualProp } from './virtual-props.ts';
import { readBody } from './xml-reader.ts';
import { DAV_NS, escapeXml, MultistatusWriter, NC_NS, OC_NS, propElement, propstat, responseWithPropstats } from './xml-writer.ts';

/** Nextcloud's versions space: `/remote.php/dav/versions/<user>/versions/<fileid>/<version>`, `…/restore/target`. */
export const VERSIONS_PREFIX = '/remote.php/dav/versions';

const ALLOW_VERSION = 'OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, MOVE, DELETE';
const ALLOW_COLLECTION = 'OPTIONS, PROPFIND';

function segments(rawPath: string): string[] {
  return rawPath.slice(VERSIONS_PREFIX.length).split('/').filter((s) => s !== '').map(decodeSegment);
}

/** A non-negative integer path segment (file id, version timestamp). @throws NotFoundError */
function intSegment(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d{1,15}$/.test(s)) throw new NotFoundError(`no such ${what}`);
  return Number(s);
}

function collectionProps(): VirtualProp[] {
  return [{ ns: DAV_NS, local: 'resourcetype', inner: COLLECTION }];
}

/** The properties of a version (Nextcloud's VersionFile and files_versions Plugin). */
function versionProps(v: FileVersion, name: string): VirtualProp[] {
  return [
    { ns: DAV_NS, local: 'resourcetype', inner: '' },
    { ns: DAV_NS, local: 'getcontentlength', inner: String(v.size) },
    { ns: DAV_NS, local: 'getcontenttype', inner: escapeXml(v.mimetype) },
    { ns: DAV_NS, local: 'getetag', inner: escapeXml(`"${v.etag}"`) },
    { ns: DAV_NS, local: 'getlastmodified', inner: httpDate(v.version) },
    { ns: DAV_NS, local: 'displayname', inner: escapeXml(name) },
    { ns: NC_NS, local: 'version-label', inner: escapeXml(v.label ?? '') },
    { ns: NC_NS, local: 'version-author', inner: escapeXml(v.author ?? '') },
    { ns: NC_NS, local: 'has-preview', inner: 'false' },
    { ns: OC_NS, local: 'size', inner: String(v.size) },
  ];
}

/**
 * The versions DAV space (issue #15), as Nextcloud's files_versions app serves it: PROPFIND of a
 * file's versions, GET (Range too) of one, MOVE to `…/restore/target` to restore it, PROPPATCH of
 * `nc:version-label`, DELETE. The user in the path must be the authenticated one; share recipients
 * reach the owner's file by its id. Errors go to the caller (handleDav maps them).
 */
export async function handleVersions(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, user: AuthenticatedUser, actor: UserActor): Promise<void> {
  const { app } = ctx;
  const seg = segments(ctx.rawPath);
  const method = req.method ?? '';
  if (seg.length === 0) return virtualCollection(req, res, `${VERSIONS_PREFIX}/`, [`${VERSIONS_PREFIX}/${encodeSegment(user.uid)}/`]);
  if (seg[0] !== user.uid) throw new ForbiddenError('Not your versions');
  const home = `${VERSIONS_PREFIX}/${encodeSegment(user.uid)}`;
  if (seg.length === 1) return virtualCollection(req, res, `${home}/`, [`${home}/versions/`, `${home}/restore/`]);
  if (seg[1] === 'restore' && seg.length <= 3) {
    if (seg.length === 3 && seg[2] !== 'target') throw new NotFoundError('no such resource');
    return virtualCollection(req, res, `${home}/restore/${seg.length === 3 ? 'target' : ''}`, []);
  }
  if (seg[1] !== 'versions' || seg.length > 4) throw new NotFoundError('no such resource');
  if (seg.length === 2) return virtualCollection(req, res, `${home}/versions/`, []);
  const fileId = intSegment(seg[2], 'file');
  const base = `${home}/versions/${fileId}`;
  if (seg.length === 3) {
    if (method === 'OPTIONS') { drain(req); return sendEmpty(res, 200, { Allow: ALLOW_COLLECTION, DAV: '1, 3' }); }
    if (method !== 'PROPFIND') throw methodNotAllowed(method, ALLOW_COLLECTION);
    const depth = parseDepth(req) ?? 1;
    const request = parsePropfind(await readBody(req, XML_BODY_BYTES));
    const { versions } = await app.versions.list(actor, fileId);
    const w = new MultistatusWriter(res);
    w.start();
    await w.write(virtualResponse(`${base}/`, collectionProps(), request));
    if (depth !== 0) for (const v of versions) await w.write(virtualResponse(`${base}/${v.version}`, versionProps(v, String(v.version)), request));
    return w.end();
  }
  const version = intSegment(seg[3], 'version');
  const href = `${base}/${version}`;
  switch (method) {
    case 'OPTIONS': drain(req); return sendEmpty(res, 200, { Allow: ALLOW_VERSION, DAV: '1, 3' });
    case 'PROPFIND': {
      const request = parsePropfind(await readBody(req, XML_BODY_BYTES));
      const { version: v } = await app.versions.get(actor, fileId, version);
      const w = new MultistatusWriter(res);
      w.start();
      await w.write(virtualResponse(href, versionProps(v, String(version)), request));
      return w.end();
    }
    case 'GET':
    case 'HEAD': {
      drain(req);
      const { node, version: v } = await app.versions.get(actor, fileId, version);
      return serveNode({ req, res, ctx, app, user, actor, target: { uid: node.owner, hrefBase: base, path: '' } }, app.versions.asNode(node, v));
    }
    case 'MOVE': {
      drain(req);
      const dest = destinationRawPath(req);
      if (dest.replace(/\/+$/, '') !== `${home}/restore/target`) throw new ForbiddenError('a version can only be moved to restore/target');
      await app.versions.restore(actor, fileId, version);
      return sendEmpty(res, 201);
    }
    case 'DELETE':
      drain(req);
      await app.versions.delete(actor, fileId, version);
      return sendEmpty(res, 204);
    case 'PROPPATCH':
      return proppatchLabel(req, res, app, actor, fileId, version, href);
    default:
      drain(req);
      throw methodNotAllowed(method, ALLOW_VERSION);
  }
}

/** PROPPATCH of a version: `nc:version-label` set or removed (all or nothing); anything else 403. */
async function proppatchLabel(req: IncomingMessage, res: ServerResponse, app: App, actor: UserActor, fileId: number, version: number, href: string): Promise<void> {
  const instructions = parsePropertyUpdate(await readBody(req, XML_BODY_BYTES));
  await app.versions.get(actor, fileId, version); // 404 before anything else
  let label: string | undefined;
  let failed = false;
  const results: { ns: string; local: string; status: number }[] = [];
  for (const { op, el } of instructions) {
    const isLabel = el.ns === NC_NS && el.local === 'version-label';
    if (isLabel) label = op === 'set' ? el.text : '';
    else failed = true;
    results.push({ ns: el.ns, local: el.local, status: isLabel ? 200 : 403 });
  }
  if (failed) {
    for (const r of results) if (r.status === 200) r.status = 424;
  } else if (label !== undefined) {
    try { await app.versions.setLabel(actor, fileId, version, label); } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const r of results) r.status = 409;
    }
  }
  const byStatus = new Map<number, string>();
  for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? '') + propElement(r.ns, r.local, ''));
  const w = new MultistatusWriter(res);
  w.start();
  await w.write(responseWithPropstats(href, [...byStatus].map(([s, p]) => propstat(p, s)).join('')));
  w.end();
}
