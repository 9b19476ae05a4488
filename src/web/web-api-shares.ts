import { userActor } from '../actor.ts';
import type { ShareWithNode } from '../sharing/share-repository.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { normalizePath } from '../files/paths.ts';
import { expirationDay } from '../sharing/share-input.ts';
import type { ApiCall } from './web-api-files.ts';
import { readBody, sendJson, str } from './web-http.ts';

function toJson(c: ApiCall, s: ShareWithNode) {
  const sh = s.share;
  return {
    id: sh.id, shareType: sh.shareType, shareWith: sh.shareWith, permissions: sh.permissions, itemType: sh.itemType,
    hasPassword: sh.hasPassword, expiration: sh.expiration === null ? null : expirationDay(sh.expiration),
    url: sh.token ? `${c.ctx.baseUrl}/s/${sh.token}` : null, owner: sh.owner, initiator: sh.initiator, name: s.node.name,
  };
}

/**
 * `GET shares?path=` (the user's shares of a node, and `ceiling`: the most a share of it may grant), `POST shares` {path, shareType, shareWith?,
 * password?, expireDate?, permissions?}, `PUT shares/<id>` {permissions?, password?, expireDate?}, `DELETE shares/<id>`, `GET sharees?search=` (users and groups).
 * @returns false when the request is not a sharing request
 */
export async function handleSharesApi(c: ApiCall): Promise<boolean> {
  const { app, user, req, ctx, segments } = c;
  const m = req.method ?? 'GET';
  if (segments[0] === 'sharees' && m === 'GET') {
    const found = await app.sharees.find(user.uid, { search: ctx.query.get('search') ?? '', limit: 20 });
    const users = found.users.map((u) => ({ type: 0, id: u.uid, label: u.displayName }));
    const groups = found.groups.map((g) => ({ type: 1, id: g.gid, label: g.displayName }));
    sendJson(c.res, 200, { sharees: [...users, ...groups] });
    return true;
  }
  if (segments[0] !== 'shares') return false;
  if (segments[1] === undefined && m === 'GET') {
    const path = normalizePath(ctx.query.get('path') ?? '');
    const list = await app.shares.list(user.uid, path === '' ? {} : { path });
    // The most a share of this node may grant (what the user holds on it now): the UI offers no more.
    const ceiling = path === '' ? undefined : await app.shares.ceilingOf(user.uid, path);
    sendJson(c.res, 200, { shares: list.map((s) => toJson(c, s)), ceiling });
    return true;
  }
  if (segments[1] === undefined && m === 'POST') {
    const b = await readBody(req);
    const shareType = Number(b.shareType);
    if (![0, 1, 3].includes(shareType)) throw new ValidationError('Unknown share type');
    const perms = b.permissions === undefined || b.permissions === '' ? undefined : Number(b.permissions);
    const created = await app.shares.create(userActor(user.uid, user.via), {
      uid: user.uid, path: normalizePath(str(b, 'path')), shareType,
      shareWith: str(b, 'shareWith', false) || undefined, password: str(b, 'password', false) || undefined,
      expireDate: str(b, 'expireDate', false) || undefined, permissions: perms,
    });
    sendJson(c.res, 201, { share: toJson(c, created) });
    return true;
  }
  if (segments[1] !== undefined && m === 'PUT') {
    const id = Number(segments[1]);
    if (!Number.isSafeInteger(id)) throw new NotFoundError('No such share');
    const b = await readBody(req);
    const updated = await app.shares.update(user.uid, id, {
      permissions: b.permissions === undefined ? undefined : Number(b.permissions),
      password: b.password === undefined ? undefined : str(b, 'password'),
      expireDate: b.expireDate === undefined ? undefined : str(b, 'expireDate'),
    });
    sendJson(c.res, 200, { share: toJson(c, updated) });
    return true;
  }
  if (segments[1] !== undefined && m === 'DELETE') {
    const id = Number(segments[1]);
    if (!Number.isSafeInteger(id)) throw new NotFoundError('No such share');
    await app.shares.delete(user.uid, id);
    sendJson(c.res, 200, { ok: true });
    return true;
  }
  return false;
}
