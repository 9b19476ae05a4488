import { userActor } from '../actor.ts';
import type { Route } from '../http/context.ts';
import { ValidationError } from '../errors.ts';
import type { UpdateShareInput } from '../sharing/share-types.ts';
import {
  PERMISSION_CREATE, PERMISSION_DELETE, PERMISSION_READ, PERMISSION_UPDATE, SHARE_TYPE_LINK,
} from '../sharing/share-types.ts';
import type { OcsCall } from './ocs-call.ts';
import { ocsEntry } from './ocs-entry.ts';
import { OcsError, sendOcsData, sendOcsFailure, type OcsVersion } from './ocs-response.ts';
import { DisplayNames, formatShare, PASSWORD_PLACEHOLDER } from './share-api-format.ts';
import { searchSharees, SHAREES_PATH } from './share-api-sharees.ts';

/** `/ocs/vN.php/apps/files_sharing/api/v1/shares` */
export const SHARES_PATH = 'apps/files_sharing/api/v1/shares';

function truthy(v: string | null): boolean {
  return v !== null && ['true', '1', 'yes', 'on'].includes(v.toLowerCase());
}

/** An integer parameter. @throws ValidationError */
function intParam(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new ValidationError(`Invalid ${name}`);
  return Number(v.trim());
}

function shareId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new OcsError(404, 'Wrong share ID, share does not exist');
  return Number(raw);
}

/** `GET …/shares`: the user's shares; `shared_with_me`, `path`, `reshares`, `subfiles`. */
async function listShares(call: OcsCall): Promise<void> {
  const me = await call.user();
  const p = await call.params();
  const app = call.ctx.app;
  const list = await app.shares.list(me.uid, {
    path: p.get('path') ?? undefined,
    reshares: truthy(p.get('reshares')),
    subfiles: truthy(p.get('subfiles')),
    sharedWithMe: truthy(p.get('shared_with_me')),
  });
  const names = new DisplayNames(app);
  const data = [];
  for (const s of list) data.push(await formatShare(app, s, me.uid, call.ctx.baseUrl, names));
  sendOcsData(call.res, call.target, data);
}

/** `POST …/shares`: path, shareType, shareWith, permissions, password, expireDate, publicUpload, note, label. */
async function createShare(call: OcsCall): Promise<void> {
  const me = await call.user();
  const p = await call.params();
  const app = call.ctx.app;
  const path = p.get('path');
  if (path === null || path === '') throw new OcsError(404, 'Please specify a file or folder path');
  const shareType = intParam(p.get('shareType'), 'shareType');
  if (shareType === undefined) throw new ValidationError('Unknown share type');
  let permissions = intParam(p.get('permissions'), 'permissions');
  // Nextcloud: files never carry create/delete (clients send 31 for anything)
  const where = await app.shareResolver.resolve(me.uid, path);
  const node = await app.files.tryStat(where.owner, where.path);
  if (node?.kind === 'file' && permissions !== undefined && shareType !== SHARE_TYPE_LINK) {
    permissions &= ~(PERMISSION_CREATE | PERMISSION_DELETE);
  }
  if (shareType === SHARE_TYPE_LINK && truthy(p.get('publicUpload')) && node?.kind === 'dir') {
    permissions = PERMISSION_READ | PERMISSION_UPDATE | PERMISSION_CREATE | PERMISSION_DELETE;
  }
  if (shareType === SHARE_TYPE_LINK && permissions !== undefined) permissions &= ~16; // links are not reshareable
  const created = await app.shares.create(userActor(me.uid, me.via), {
    uid: me.uid, path, shareType, shareWith: p.get('shareWith') ?? undefined, permissions,
    password: p.get('password') ?? undefined, expireDate: p.get('expireDate') || undefined,
    note: p.get('note') ?? undefined, label: p.get('label') ?? undefined,
  });
  sendOcsData(call.res, call.target, await formatShare(app, created, me.uid, call.ctx.baseUrl, new DisplayNames(app)));
}

async function getShare(call: OcsCall, id: number): Promise<void> {
  const me = await call.user();
  const app = call.ctx.app;
  const s = await app.shares.get(me.uid, id);
  sendOcsData(call.res, call.target, [await formatShare(app, s, me.uid, call.ctx.baseUrl, new DisplayNames(app))]);
}

async function updateShare(call: OcsCall, id: number): Promise<void> {
  const me = await call.user();
  const p = await call.params();
  const app = call.ctx.app;
  const input: UpdateShareInput = {};
  const perms = intParam(p.get('permissions'), 'permissions');
  if (perms !== undefined) input.permissions = perms;
  if (p.has('publicUpload')) {
    input.permissions = truthy(p.get('publicUpload'))
      ? PERMISSION_READ | PERMISSION_UPDATE | PERMISSION_CREATE | PERMISSION_DELETE
      : PERMISSION_READ;
  }
  const pw = p.get('password');
  if (pw !== null && pw !== PASSWORD_PLACEHOLDER) input.password = pw;
  if (p.has('expireDate')) input.expireDate = p.get('expireDate') ?? '';
  if (p.has('note')) input.note = p.get('note') ?? '';
  if (p.has('label')) input.label = p.get('label') ?? '';
  const s = await app.shares.update(me.uid, id, input);
  sendOcsData(call.res, call.target, await formatShare(app, s, me.uid, call.ctx.baseUrl, new DisplayNames(app)));
}

async function deleteShare(call: OcsCall, id: number): Promise<void> {
  const me = await call.user();
  await call.ctx.app.shares.delete(me.uid, id);
  sendOcsData(call.res, call.target, []);
}

function decodeRest(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw).replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

function sharesHandler(version: OcsVersion) {
  const prefix = `/ocs/v${version}.php/${SHARES_PATH}`;
  const rest = (rawPath: string) => decodeRest(rawPath.slice(prefix.length));
  return ocsEntry(version, (ctx) => `${SHARES_PATH}${rest(ctx.rawPath) ?? ''}`, async (call) => {
    const { req, res, target } = call;
    const tail = rest(call.ctx.rawPath);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (tail === '') {
      if (method === 'GET') return await listShares(call);
      if (method === 'POST') return await createShare(call);
      req.resume();
      res.setHeader('Allow', 'GET, POST');
      return sendOcsFailure(res, target, 405, 'Method not allowed');
    }
    const m = tail === undefined ? null : /^\/([^/]+)$/.exec(tail);
    if (!m) {
      req.resume();
      return sendOcsFailure(res, target, 404, 'Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.');
    }
    const id = shareId(m[1]!);
    if (method === 'GET') return await getShare(call, id);
    if (method === 'PUT') return await updateShare(call, id);
    if (method === 'DELETE') return await deleteShare(call, id);
    req.resume();
    res.setHeader('Allow', 'GET, PUT, DELETE');
    return sendOcsFailure(res, target, 405, 'Method not allowed');
  });
}

function shareesHandler(version: OcsVersion) {
  return ocsEntry(version, () => SHAREES_PATH, async (call) => {
    const { req, res, target } = call;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      res.setHeader('Allow', 'GET');
      return sendOcsFailure(res, target, 405, 'Method not allowed');
    }
    await searchSharees(call);
  });
}

/** Routes of the OCS Share API (v1 and v2); longer than `/ocs/vN.php/`, so they win. */
export function shareApiRoutes(): Route[] {
  return [
    { prefix: `/ocs/v1.php/${SHARES_PATH}`, handler: sharesHandler(1) },
    { prefix: `/ocs/v2.php/${SHARES_PATH}`, handler: sharesHandler(2) },
    { prefix: `/ocs/v1.php/${SHAREES_PATH}`, exact: true, handler: shareesHandler(1) },
    { prefix: `/ocs/v2.php/${SHAREES_PATH}`, exact: true, handler: shareesHandler(2) },
  ];
}
