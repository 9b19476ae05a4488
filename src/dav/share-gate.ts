import type { App } from '../app.ts';
import { assertPermitted, isMountRoot, writeOp } from '../sharing/share-access.ts';
import type { DavRequest } from './dav-request.ts';
import { sendEmpty } from './dav-request.ts';
import { resolveDestination, type DavTarget } from './dav-target.ts';
import { drain, parseOverwrite } from './http-util.ts';

/** Re-targets a request path that lies in a received share onto the owner's tree. */
export async function toRealTarget(app: App, target: DavTarget): Promise<DavTarget> {
  const share = await app.shareResolver.resolve(target.uid, target.path);
  if (share.mountPoint === undefined) return target;
  return { ...target, uid: share.owner, path: share.path, share, viewPath: target.path };
}

/**
 * What a PUT (or a bulk upload part) needs from the share its target lies in: update for an
 * existing file, create for a new one. Nothing in the own tree.
 * @throws ForbiddenError
 */
export async function assertPutPermitted(app: App, target: DavTarget): Promise<void> {
  if (!target.share) return;
  const exists = await app.files.tryStat(target.uid, target.path);
  assertPermitted(target.share, writeOp(exists));
}

/**
 * COPY and MOVE go through the sharing layer's TransferPolicy (the web API does too): a mount root
 * moved within the root is renamed here; anything the shares do not permit is refused.
 * @returns true when the request has been answered here
 * @throws ForbiddenError
 */
async function gateTransfer(d: DavRequest, op: 'copy' | 'move'): Promise<boolean> {
  const { app, req, res, target, user } = d;
  const dest = resolveDestination(req, user.uid);
  const plan = await app.transfers.plan(user.uid, op, target.viewPath ?? target.path, dest.path, { overwrite: parseOverwrite(req) });
  if (plan.kind === 'transfer') return false;
  drain(req);
  await app.shares.renameMount(user.uid, plan.mountPoint, plan.name);
  sendEmpty(res, 201);
  return true;
}

/**
 * Enforces the share's permissions for the method, and handles the mount root's own operations
 * (DELETE = remove from my tree, MOVE within my root = rename the mount; COPY and MOVE as the
 * TransferPolicy decides, whether or not the source is in a share). Returns true when the
 * request has been answered here.
 * @throws ForbiddenError (403) for what the share does not permit
 */
export async function shareGate(d: DavRequest): Promise<boolean> {
  const { app, req, res, target, user } = d;
  const share = target.share;
  const method = req.method ?? 'GET';
  if (method === 'COPY' || method === 'MOVE') return gateTransfer(d, method === 'MOVE' ? 'move' : 'copy');
  if (!share) return false;
  const root = isMountRoot(share, target.viewPath!);
  switch (method) {
    case 'GET': case 'HEAD': case 'PROPFIND': case 'OPTIONS':
      assertPermitted(share, 'read');
      return false;
    case 'PUT':
      await assertPutPermitted(app, target);
      return false;
    case 'MKCOL':
      assertPermitted(share, 'create');
      return false;
    case 'PROPPATCH': case 'LOCK': case 'UNLOCK': case 'PATCH':
      assertPermitted(share, 'update');
      return false;
    case 'DELETE':
      if (root) {
        drain(req);
        await app.shares.unshareFromSelf(user.uid, share.mountPoint!);
        sendEmpty(res, 204);
        return true;
      }
      assertPermitted(share, 'delete');
      return false;
    default:
      return false;
  }
}
