import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserActor } from '../actor.ts';
import type { App } from '../app.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import type { HttpContext } from '../http/context.ts';
import type { TrashItem, TrashNode } from '../trash/trash-repository.ts';
import { trashName } from '../trash/trash-service.ts';
import { sendEmpty } from './dav-request.ts';
import { XML_BODY_BYTES } from '../http/limits.ts';
import { decodeSegment, destinationRawPath, encodePath, encodeSegment } from './dav-target.ts';
import { serveNode } from './get-handler.ts';
import { drain, httpDate, parseDepth } from './http-util.ts';
import { parsePropfind } from './propfind.ts';
import type { PropRequest } from './properties.ts';
import { COLLECTION, methodNotAllowed, virtualCollection, virtualResponse, type VirtualProp } from './virtual-props.ts';
import { readBody } from './xml-reader.ts';
import { DAV_NS, escapeXml, MultistatusWriter, NC_NS, OC_NS } from './xml-writer.ts';

/** Nextcloud's trash space: `/remote.php/dav/trashbin/<user>/trash/<name>.d<time>[/…]`, `…/restore/<name>`. */
export const TRASHBIN_PREFIX = '/remote.php/dav/trashbin';

const ALLOW_ITEM = 'OPTIONS, GET, HEAD, PROPFIND, MOVE, DELETE';
const ALLOW_TRASH = 'OPTIONS, PROPFIND, DELETE';

/** The properties of a trashed node (Nextcloud's TrashbinPlugin and its ITrash nodes). */
function nodeProps(item: TrashItem, where: string, node: TrashNode, deleterName: string): VirtualProp[] {
  const isDir = node.kind === 'dir';
  const location = node.relPath === '' ? where : `${where}/${node.relPath}`;
  // Nextcloud: a trashed root item's mtime is its deletion time; members keep theirs
  const mtime = node.relPath === '' ? item.deletedAt : node.mtime;
  const props: VirtualProp[] = [
    { ns: DAV_NS, local: 'resourcetype', inner: isDir ? COLLECTION : '' },
    { ns: DAV_NS, local: 'getlastmodified', inner: httpDate(mtime) },
    { ns: DAV_NS, local: 'getetag', inner: String(mtime) },
    { ns: DAV_NS, local: 'displayname', inner: escapeXml(node.name) },
    { ns: NC_NS, local: 'trashbin-filename', inner: escapeXml(node.name) },
    { ns: NC_NS, local: 'trashbin-original-location', inner: escapeXml(location) },
    { ns: NC_NS, local: 'trashbin-title', inner: escapeXml(node.name) },
    { ns: NC_NS, local: 'trashbin-deletion-time', inner: String(item.deletedAt) },
    { ns: NC_NS, local: 'trashbin-deleted-by-id', inner: escapeXml(item.deletedBy) },
    { ns: NC_NS, local: 'trashbin-deleted-by-display-name', inner: escapeXml(deleterName) },
    { ns: NC_NS, local: 'trashbin-backend', inner: 'OCA\\Files_Trashbin\\Trash\\LegacyTrashBackend' },
    { ns: OC_NS, local: 'size', inner: String(node.size) },
    { ns: OC_NS, local: 'id', inner: String(node.fileId) },
    { ns: OC_NS, local: 'fileid', inner: String(node.fileId) },
    { ns: OC_NS, local: 'permissions', inner: 'GD' },
    { ns: NC_NS, local: 'has-preview', inner: 'false' },
    { ns: NC_NS, local: 'mount-type', inner: '' },
  ];
  if (!isDir) {
    props.push({ ns: DAV_NS, local: 'getcontentlength', inner: String(node.size) });
    props.push({ ns: DAV_NS, local: 'getcontenttype', inner: escapeXml(node.mimetype) });
  }
  return props;
}

/**
 * The trash bin DAV space (issue #15), as Nextcloud's files_trashbin serves it: PROPFIND of the
 * trash (and into trashed folders), GET of a trashed file, MOVE to `…/restore/<name>` to restore
 * (to the original location; Nextcloud ignores the name given), DELETE of an item (for good) and
 * of `…/trash` (empty it). Errors go to the caller (handleDav maps them).
 */
export async function handleTrashbin(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, user: AuthenticatedUser, actor: UserActor): Promise<void> {
  const { app } = ctx;
  const method = req.method ?? '';
  const seg = ctx.rawPath.slice(TRASHBIN_PREFIX.length).split('/').filter((s) => s !== '').map(decodeSegment);
  if (seg.length === 0) return virtualCollection(req, res, `${TRASHBIN_PREFIX}/`, [`${TRASHBIN_PREFIX}/${encodeSegment(user.uid)}/`]);
  if (seg[0] !== user.uid) throw new ForbiddenError('Not your trash bin');
  const home = `${TRASHBIN_PREFIX}/${encodeSegment(user.uid)}`;
  if (seg.length === 1) return virtualCollection(req, res, `${home}/`, [`${home}/trash/`, `${home}/restore/`]);
  if (seg[1] === 'restore') {
    if (seg.length > 2) throw new NotFoundError('no such resource');
    return virtualCollection(req, res, `${home}/restore/`, []);
  }
  if (seg[1] !== 'trash') throw new NotFoundError('no such resource');
  const names = new Map<string, string>();
  const displayName = async (uid: string) => {
    let n = names.get(uid);
    if (n === undefined) {
      n = (await app.users.get(uid).catch(() => undefined))?.displayName ?? uid;
      names.set(uid, n);
    }
    return n;
  };

  if (seg.length === 2) {
    if (method === 'OPTIONS') { drain(req); return sendEmpty(res, 200, { Allow: ALLOW_TRASH, DAV: '1, 3' }); }
    if (method === 'DELETE') {
      drain(req);
      await app.trash.empty(actor, user.uid);
      return sendEmpty(res, 204);
    }
    if (method !== 'PROPFIND') { drain(req); throw methodNotAllowed(method, ALLOW_TRASH); }
    const depth = parseDepth(req) ?? 1;
    const request = parsePropfind(await readBody(req, XML_BODY_BYTES));
    const w = new MultistatusWriter(res);
    w.start();
    await w.write(virtualResponse(`${home}/trash/`, [{ ns: DAV_NS, local: 'resourcetype', inner: COLLECTION }], request));
    if (depth !== 0) {
      for (const { item, location, root } of await app.trash.listWithNodes(actor, user.uid)) {
        const p = w.add(itemResponse(`${home}/trash/${encodeSegment(trashName(item))}`, item, location, root, await displayName(item.deletedBy), request));
        if (p) await p;
      }
    }
    return w.end();
  }

  const itemName = seg[2]!;
  const rel = seg.slice(3).join('/');
  const href = `${home}/trash/${encodeSegment(itemName)}${rel ? `/${encodePath(rel)}` : ''}`;
  switch (method) {
    case 'OPTIONS': drain(req); return sendEmpty(res, 200, { Allow: ALLOW_ITEM, DAV: '1, 3' });
    case 'PROPFIND': {
      const depth = parseDepth(req) ?? 1;
      const request = parsePropfind(await readBody(req, XML_BODY_BYTES));
      const { item, node, location } = await app.trash.resolve(actor, user.uid, itemName, rel);
      const w = new MultistatusWriter(res);
      w.start();
      await w.write(itemResponse(href, item, location, node, await displayName(item.deletedBy), request));
      if (depth !== 0 && node.kind === 'dir') {
        for (const c of await app.trash.children(node)) {
          const p = w.add(itemResponse(`${href}/${encodeSegment(c.name)}`, item, location, c, await displayName(item.deletedBy), request));
          if (p) await p;
        }
      }
      return w.end();
    }
    case 'GET':
    case 'HEAD': {
      drain(req);
      const { item, node } = await app.trash.resolve(actor, user.uid, itemName, rel);
      if (node.kind === 'dir') throw methodNotAllowed(method, 'OPTIONS, PROPFIND');
      return serveNode({ req, res, ctx, app, user, actor, target: { uid: item.owner, hrefBase: home, path: '' } }, node);
    }
    case 'MOVE': {
      drain(req);
      const dest = destinationRawPath(req);
      if (!dest.startsWith(`${home}/restore/`) || dest.length === `${home}/restore/`.length) {
        throw new ForbiddenError('a trashed item can only be moved to restore/<name>');
      }
      await app.trash.restore(actor, user.uid, itemName, rel);
      return sendEmpty(res, 201);
    }
    case 'DELETE':
      drain(req);
      await app.trash.deleteForGood(actor, user.uid, itemName, rel);
      return sendEmpty(res, 204);
    default:
      drain(req);
      throw methodNotAllowed(method, ALLOW_ITEM);
  }
}

function itemResponse(href: string, item: TrashItem, location: string, node: TrashNode, deleterName: string, request: PropRequest): string {
  return virtualResponse(node.kind === 'dir' ? `${href}/` : href, nodeProps(item, location, node, deleterName), request);
}
