import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserActor } from '../actor.ts';
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
import { COLLECTION, methodNotAllowed, virtualCollection, virtualRenderer, virtualResponse, type VirtualPropDef } from './virtual-props.ts';
import { readBody } from './xml-reader.ts';
import { DAV_NS, escapeXml, MultistatusWriter, NC_NS, OC_NS } from './xml-writer.ts';

/** Nextcloud's trash space: `/remote.php/dav/trashbin/<user>/trash/<name>.d<time>[/…]`, `…/restore/<name>`. */
export const TRASHBIN_PREFIX = '/remote.php/dav/trashbin';

const ALLOW_ITEM = 'OPTIONS, GET, HEAD, PROPFIND, MOVE, DELETE';
const ALLOW_TRASH = 'OPTIONS, PROPFIND, DELETE';

/** A trashed node as listed: its item, where the user sees it deleted from, who deleted it. */
interface Listed {
  readonly item: TrashItem;
  readonly where: string;
  readonly node: TrashNode;
  readonly deleterName: string;
}

const isDir = (x: Listed) => x.node.kind === 'dir';
// Nextcloud: a trashed root item's mtime is its deletion time; members keep theirs
const mtimeOf = (x: Listed) => (x.node.relPath === '' ? x.item.deletedAt : x.node.mtime);

/** The properties of a trashed node (Nextcloud's TrashbinPlugin and its ITrash nodes), in answer order. */
const TRASH_PROPS: readonly VirtualPropDef<Listed>[] = [
  { ns: DAV_NS, local: 'resourcetype', value: (x) => (isDir(x) ? COLLECTION : '') },
  { ns: DAV_NS, local: 'getlastmodified', value: (x) => httpDate(mtimeOf(x)) },
  { ns: DAV_NS, local: 'getetag', value: (x) => String(mtimeOf(x)) },
  { ns: DAV_NS, local: 'displayname', value: (x) => escapeXml(x.node.name) },
  { ns: NC_NS, local: 'trashbin-filename', value: (x) => escapeXml(x.node.name) },
  { ns: NC_NS, local: 'trashbin-original-location', value: (x) => escapeXml(x.node.relPath === '' ? x.where : `${x.where}/${x.node.relPath}`) },
  { ns: NC_NS, local: 'trashbin-title', value: (x) => escapeXml(x.node.name) },
  { ns: NC_NS, local: 'trashbin-deletion-time', value: (x) => String(x.item.deletedAt) },
  { ns: NC_NS, local: 'trashbin-deleted-by-id', value: (x) => escapeXml(x.item.deletedBy) },
  { ns: NC_NS, local: 'trashbin-deleted-by-display-name', value: (x) => escapeXml(x.deleterName) },
  { ns: NC_NS, local: 'trashbin-backend', value: () => 'OCA\\Files_Trashbin\\Trash\\LegacyTrashBackend' },
  { ns: OC_NS, local: 'size', value: (x) => String(x.node.size) },
  { ns: OC_NS, local: 'id', value: (x) => String(x.node.fileId) },
  { ns: OC_NS, local: 'fileid', value: (x) => String(x.node.fileId) },
  { ns: OC_NS, local: 'permissions', value: () => 'GD' },
  { ns: NC_NS, local: 'has-preview', value: () => 'false' },
  { ns: NC_NS, local: 'mount-type', value: () => '' },
  { ns: DAV_NS, local: 'getcontentlength', value: (x) => (isDir(x) ? undefined : String(x.node.size)) },
  { ns: DAV_NS, local: 'getcontenttype', value: (x) => (isDir(x) ? undefined : escapeXml(x.node.mimetype)) },
];

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
    const n = (await app.users.get(uid).catch(() => undefined))?.displayName ?? uid;
    names.set(uid, n);
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
      const render = itemRenderer(request);
      for (const { item, location, root } of await app.trash.listWithNodes(actor, user.uid)) {
        const deleterName = names.get(item.deletedBy) ?? await displayName(item.deletedBy);
        const p = w.add(render(`${home}/trash/${encodeSegment(trashName(item))}`, { item, where: location, node: root, deleterName }));
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
      const render = itemRenderer(request);
      const deleterName = await displayName(item.deletedBy);
      await w.write(render(href, { item, where: location, node, deleterName }));
      if (depth !== 0 && node.kind === 'dir') {
        for (const c of await app.trash.children(node)) {
          const p = w.add(render(`${href}/${encodeSegment(c.name)}`, { item, where: location, node: c, deleterName }));
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

/** Renders a trashed node's `<d:response>` (a folder's href gets its trailing slash). */
function itemRenderer(request: PropRequest): (href: string, x: Listed) => string {
  const render = virtualRenderer(TRASH_PROPS, request);
  return (href, x) => render(isDir(x) ? `${href}/` : href, x);
}
