import { linkActor } from '../actor.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import { parseBasicAuth, BASIC_CHALLENGE } from '../auth/basic-auth.ts';
import { AuthenticationError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { HttpContext, Route } from '../http/context.ts';
import { joinPath } from '../files/paths.ts';
import type { FileNode } from '../files/types.ts';
import { DavStatusError, sendDavError } from '../dav/dav-errors.ts';
import { sendEmpty, type DavRequest } from '../dav/dav-request.ts';
import { XML_BODY_BYTES } from '../http/limits.ts';
import { decodeRelPath, href } from '../dav/dav-target.ts';
import { handleGet } from '../dav/get-handler.ts';
import { drain, parseDepth } from '../dav/http-util.ts';
import { parsePropfind } from '../dav/propfind.ts';
import { liveProp, renderPropstats, type LiveProp, type PropContext, type PropRequest } from '../dav/properties.ts';
import { handleDelete, handleMkcol, handlePut } from '../dav/write-handlers.ts';
import { readBody } from '../dav/xml-reader.ts';
import { MultistatusWriter, OC_NS, responseWithPropstats } from '../dav/xml-writer.ts';
import { maintenanceGuard } from '../setup/maintenance.ts';
import type { ShareWithNode } from '../sharing/share-repository.ts';
import { davPermissions } from '../sharing/share-permissions.ts';
import { has, PERMISSION_READ } from '../sharing/share-types.ts';
import { assertPermitted, writeOp } from '../sharing/share-access.ts';
import { findLink, verifyLinkPassword } from './public-link-access.ts';
import { numberedName } from '../sharing/share-resolver.ts';

export const PUBLIC_DAV_PREFIX = '/public.php/webdav';
const ALLOW = 'OPTIONS, GET, HEAD, PROPFIND, PUT, MKCOL, DELETE';

/**
 * The link's Basic credentials: user = token, password = the link password (anything, or
 * empty, for links without one). Throttled and audited like every login path.
 * @throws AuthenticationError (401); ThrottledError (429)
 */
async function authenticateLink(app: App, req: IncomingMessage, ip: string): Promise<ShareWithNode> {
  const creds = parseBasicAuth(req.headers.authorization);
  if (!creds) throw new AuthenticationError('No credentials');
  let s: ShareWithNode;
  try {
    s = await findLink(app, creds.user, ip);
  } catch (err) {
    if (err instanceof NotFoundError) throw new AuthenticationError('Unknown link');
    throw err;
  }
  if (s.share.hasPassword) await verifyLinkPassword(app, s, creds.password, ip);
  return s;
}

/** The `oc:permissions` a link grants (replaces the own-tree letters in PROPFIND answers). */
function linkPermissionsProp(perms: number): LiveProp {
  const base = liveProp(OC_NS, 'permissions')!;
  return { ...base, render: (n: FileNode) => davPermissions(n.kind, perms, { shared: true, mountRoot: false }) };
}

function withLinkPermissions(r: PropRequest, perms: number): PropRequest {
  if (r.kind !== 'prop') return r;
  const live = linkPermissionsProp(perms);
  return { kind: 'prop', names: r.names.map((n) => (n.ns === OC_NS && n.local === 'permissions' ? { ...n, live } : n)) };
}

async function propfind(d: DavRequest, s: ShareWithNode, rel: string): Promise<void> {
  const { app, req, res, target } = d;
  const depth = parseDepth(req) ?? 1;
  if (depth === 'infinity') throw new DavStatusError(403, 'Depth: infinity is not supported on public links', 'Sabre\\DAV\\Exception\\Forbidden', '<d:propfind-finite-depth/>');
  const request = withLinkPermissions(parsePropfind(await readBody(req, XML_BODY_BYTES)), s.share.permissions);
  const self = await app.files.stat(target.uid, target.path);
  const canList = has(s.share.permissions, PERMISSION_READ);
  if (!canList && rel !== '') throw new NotFoundError('Not found');
  const nodes = [self];
  if (depth === 1 && self.kind === 'dir' && canList) nodes.push(...await app.files.children(target.uid, target.path));
  const pc: PropContext = {
    instanceId: app.config.instanceid, ownerId: s.share.owner,
    ownerDisplayName: await app.users.get(s.share.owner).then((u) => u.displayName, () => s.share.owner),
    supportedLock: '',
  };
  const dead = await app.files.properties.of(nodes.map((n) => n.fileId));
  const base = { hrefBase: PUBLIC_DAV_PREFIX };
  const w = new MultistatusWriter(res);
  w.start();
  for (const n of nodes) {
    const nodeRel = n.fileId === s.node.fileId ? '' : n.path.slice(s.node.path === '' ? 0 : s.node.path.length + 1);
    const h = nodeRel === '' && n.kind === 'file' ? PUBLIC_DAV_PREFIX : href(base, nodeRel, n.kind === 'dir');
    await w.write(responseWithPropstats(h, renderPropstats(n, request, pc, {}, dead.get(n.fileId) ?? [], false)));
  }
  w.end();
}

/** A file drop: the link may create but not read, so no answer may depend on what exists there. */
function isFileDrop(s: ShareWithNode): boolean {
  return s.node.kind === 'dir' && !has(s.share.permissions, PERMISSION_READ);
}

/** Attempts at a free `name (n).ext` before giving up (a folder with that many copies of one name). */
const MAX_DROP_NUMBER = 1000;

/**
 * PUT through a file drop link, as Nextcloud's files drop: the file lands in the shared folder
 * under the request's last segment, or `name (2).ext`, `name (3).ext`, … when that is taken. The
 * answer is the same whatever exists (201, never 403/409/412), and it does not name the stored file.
 * @throws ForbiddenError for the shared folder itself or a full sequence of numbered names; what handlePut throws.
 */
async function dropPut(d: DavRequest, s: ShareWithNode, rel: string): Promise<void> {
  if (rel === '') throw new ForbiddenError('Cannot replace the shared folder');
  const want = rel.split('/').pop()!;
  let path: string | undefined;
  for (let n = 1; n <= MAX_DROP_NUMBER && path === undefined; n++) {
    const candidate = joinPath(s.node.path, numberedName(want, n));
    if (!(await d.app.files.tryStat(s.share.owner, candidate))) path = candidate;
  }
  if (path === undefined) throw new ForbiddenError('Too many files with this name');
  // The client's preconditions would test what exists; the write must only ever create.
  delete d.req.headers['if-match'];
  d.req.headers['if-none-match'] = '*';
  await handlePut({ ...d, target: { ...d.target, path } });
}

/**
 * `/public.php/webdav/…`: a small WebDAV subset on the shared node (OPTIONS, PROPFIND depth 0/1,
 * GET/HEAD, and PUT/MKCOL/DELETE where the link's permissions allow), reusing the DAV adapter's
 * method handlers on a target in the owner's tree.
 */
export async function handlePublicDav(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  const { app } = ctx;
  try {
    if (await maintenanceGuard(req, res, app)) return;
    const raw = ctx.rawPath;
    if (raw !== PUBLIC_DAV_PREFIX && !raw.startsWith(`${PUBLIC_DAV_PREFIX}/`)) { drain(req); return sendEmpty(res, 404); }
    if (req.method === 'OPTIONS' && !req.headers.authorization) {
      drain(req);
      return sendEmpty(res, 200, { DAV: '1, 3', Allow: ALLOW, 'MS-Author-Via': 'DAV' });
    }
    const s = await authenticateLink(app, req, ctx.ip);
    const rel = decodeRelPath(raw.slice(PUBLIC_DAV_PREFIX.length));
    if (s.node.kind === 'file' && rel !== '') throw new NotFoundError('Not found');
    const ownerPath = rel === '' ? s.node.path : joinPath(s.node.path, rel);
    // The handlers address the owner's tree; every content read and write acts as the link's visitor.
    const user: AuthenticatedUser = { uid: s.share.owner, displayName: s.share.owner, isAdmin: false, via: 'password' };
    const d: DavRequest = { req, res, ctx, app, user, actor: linkActor(s.share.token!), target: { uid: s.share.owner, path: ownerPath, hrefBase: PUBLIC_DAV_PREFIX } };
    switch (req.method) {
      case 'OPTIONS': drain(req); return sendEmpty(res, 200, { DAV: '1, 3', Allow: ALLOW, 'MS-Author-Via': 'DAV' });
      case 'PROPFIND': return await propfind(d, s, rel);
      case 'GET': case 'HEAD':
        assertPermitted(s.share, 'read');
        return await handleGet(d);
      case 'PUT': {
        if (isFileDrop(s)) return await dropPut(d, s, rel);
        const exists = await app.files.tryStat(s.share.owner, ownerPath);
        assertPermitted(s.share, writeOp(exists));
        if (!exists && rel === '') throw new ForbiddenError('Cannot replace the shared folder');
        return await handlePut(d);
      }
      case 'MKCOL':
        // whatever the name: 405 for an existing one and 409 for a missing parent would tell
        if (isFileDrop(s)) throw new ForbiddenError('A file drop link only takes files');
        assertPermitted(s.share, 'create');
        return await handleMkcol(d);
      case 'DELETE':
        if (rel === '') throw new ForbiddenError('The shared item itself cannot be deleted through its link');
        assertPermitted(s.share, 'delete');
        return await handleDelete(d);
      default:
        drain(req);
        throw new DavStatusError(405, `${req.method} is not supported on public links`, 'Sabre\\DAV\\Exception\\MethodNotAllowed', '', { Allow: ALLOW });
    }
  } catch (err) {
    if (err instanceof AuthenticationError && !res.headersSent) res.setHeader('WWW-Authenticate', BASIC_CHALLENGE);
    sendDavError(req, res, ctx, err);
  }
}

/** The `/public.php/webdav` route. */
export function publicDavRoutes(): Route[] {
  return [{ prefix: PUBLIC_DAV_PREFIX, handler: handlePublicDav }];
}
