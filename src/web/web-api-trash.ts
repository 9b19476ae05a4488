import { ValidationError } from '../errors.ts';
import type { TrashItem, TrashNode } from '../trash/trash-repository.ts';
import { trashName, trashRelPath } from '../trash/trash-service.ts';
import type { ApiCall } from './web-api-files.ts';
import { readBody, sendJson, str } from './web-http.ts';

/** One row of the "Deleted files" view. */
export interface WebTrashEntry {
  /** The trash item (`<name>.d<seconds>`): with `path`, names the node in the calls below. */
  item: string;
  /** Path inside the item ('' for the item itself). */
  path: string;
  name: string;
  type: 'file' | 'dir';
  size: number;
  mimetype: string;
  /** Where it was deleted from, in the owner's tree. */
  originalLocation: string;
  /** Seconds. */
  deletedAt: number;
  deletedBy: string;
  deletedByName: string;
  /** The owner, when it is not the user (deleted by them from someone's share). */
  owner?: string;
}

function entry(uid: string, item: TrashItem, node: TrashNode, deleterName: string): WebTrashEntry {
  const e: WebTrashEntry = {
    item: trashName(item), path: node.relPath, name: node.name, type: node.kind, size: node.size, mimetype: node.mimetype,
    originalLocation: node.relPath === '' ? item.originalLocation : `${item.originalLocation}/${node.relPath}`,
    deletedAt: item.deletedAt, deletedBy: item.deletedBy, deletedByName: deleterName,
  };
  if (item.owner !== uid) e.owner = item.owner;
  return e;
}

function nameCache(c: ApiCall): (uid: string) => Promise<string> {
  const names = new Map<string, string>();
  return async (uid) => {
    let n = names.get(uid);
    if (n === undefined) {
      n = (await c.app.users.get(uid).catch(() => undefined))?.displayName || uid;
      names.set(uid, n);
    }
    return n;
  };
}

/** `GET trash[?item=&path=]`: the trash bin's items, newest first, or the members of a trashed folder. */
async function list(c: ApiCall): Promise<void> {
  const { app, user, actor } = c;
  const nameOf = nameCache(c);
  const itemName = c.ctx.query.get('item');
  if (itemName === null || itemName === '') {
    const items: WebTrashEntry[] = [];
    for (const { item, root } of await app.trash.listWithNodes(actor, user.uid)) items.push(entry(user.uid, item, root, await nameOf(item.deletedBy)));
    sendJson(c.res, 200, { items });
    return;
  }
  const { item, node } = await app.trash.resolve(actor, user.uid, itemName, trashRelPath(c.ctx.query.get('path') ?? ''));
  const deleter = await nameOf(item.deletedBy);
  const kids = await app.trash.children(node);
  sendJson(c.res, 200, { folder: entry(user.uid, item, node, deleter), items: kids.map((k) => entry(user.uid, item, k, deleter)) });
}

/** The `{item, path}` of a POST body. @throws ValidationError */
async function target(c: ApiCall): Promise<{ item: string; path: string }> {
  const body = await readBody(c.req);
  const item = str(body, 'item');
  if (item === '') throw new ValidationError('Missing item');
  return { item, path: trashRelPath(str(body, 'path', false)) };
}

/**
 * Routes `/web/api/trash…`: list (GET), `restore` {item, path?} (to where it was deleted from,
 * "name (restored)" on a clash), `delete` {item, path?} (for good) and `empty` (POST). The trash
 * service decides what the user may do (their own trash only; items deleted from someone's share
 * are deleted for good by their owner only).
 * @returns false when the request is not a trash request
 */
export async function handleTrashApi(c: ApiCall): Promise<boolean> {
  if (c.segments[0] !== 'trash' || c.segments.length > 2) return false;
  const m = c.req.method ?? 'GET';
  const sub = c.segments[1];
  if (sub === undefined && m === 'GET') { await list(c); return true; }
  if (m !== 'POST') return false;
  const { app, user, actor } = c;
  switch (sub) {
    case 'restore': {
      const t = await target(c);
      const node = await app.trash.restore(actor, user.uid, t.item, t.path);
      sendJson(c.res, 200, { path: node.path, name: node.name, type: node.kind });
      return true;
    }
    case 'delete': {
      const t = await target(c);
      await app.trash.deleteForGood(actor, user.uid, t.item, t.path);
      sendJson(c.res, 200, { ok: true });
      return true;
    }
    case 'empty':
      c.req.resume();
      sendJson(c.res, 200, { deleted: await app.trash.empty(actor, user.uid) });
      return true;
    default:
      return false;
  }
}
