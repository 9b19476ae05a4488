import type { App } from '../app.ts';
import { ForbiddenError } from '../errors.ts';
import { assertPermitted, isMountRoot } from '../sharing/share-access.ts';
import type { DavRequest } from './dav-request.ts';
import { sendEmpty } from './dav-request.ts';
import { resolveDestination, type DavTarget } from './dav-target.ts';
import { drain } from './http-util.ts';

/** Re-targets a request path that lies in a received share onto the owner's tree. */
export async function toRealTarget(app: App, target: DavTarget): Promise<DavTarget> {
  const share = await app.shareResolver.resolve(target.uid, target.path);
  if (share.mountPoint === undefined) return target;
  return { ...target, uid: share.owner, path: share.path, share, viewPath: target.path };
}

/**
 * A COPY/MOVE destination inside a received share needs create (new) or update (overwrite); the
 * mount itself cannot be replaced (its share would be lost). Own-tree destinations pass.
 * @throws ForbiddenError
 */
async function assertDestinationPermitted(app: App, dest: DavTarget): Promise<void> {
  if (!dest.share) return;
  if (isMountRoot(dest.share, dest.viewPath!)) throw new ForbiddenError('A received share cannot be replaced');
  const exists = await app.files.tryStat(dest.uid, dest.path);
  assertPermitted(dest.share, exists ? 'update' : 'create');
}

/**
 * Enforces the share's permissions for the method, and handles the mount root's own operations
 * (DELETE = remove from my tree, MOVE within my root = rename the mount). Returns true when the
 * request has been answered here.
 * @throws ForbiddenError (403) for what the share does not permit
 */
export async function shareGate(d: DavRequest): Promise<boolean> {
  const { app, req, res, target, user } = d;
  const share = target.share;
  const method = req.method ?? 'GET';
  if (!share) {
    if (method === 'COPY' || method === 'MOVE') await assertDestinationPermitted(app, await toRealTarget(app, resolveDestination(req, user.uid)));
    return false;
  }
  const root = isMountRoot(share, target.viewPath!);
  switch (method) {
    case 'GET': case 'HEAD': case 'PROPFIND': case 'OPTIONS':
      assertPermitted(share, 'read');
      return false;
    case 'PUT': {
      const exists = await app.files.tryStat(target.uid, target.path);
      assertPermitted(share, exists ? 'update' : 'create');
      return false;
    }
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
    case 'MOVE': case 'COPY': {
      const dest = resolveDestination(req, user.uid);
      if (method === 'MOVE' && root) {
        if (dest.path.includes('/')) throw new ForbiddenError('A share can only be renamed within your root folder');
        drain(req);
        await app.shares.renameMount(user.uid, share.mountPoint!, dest.path);
        sendEmpty(res, 201);
        return true;
      }
      // As in Nextcloud: the source needs read (COPY) or delete (MOVE); the destination, when in
      // a share, create (new) or update (overwrite). Out of a share, the content becomes the user's.
      assertPermitted(share, method === 'MOVE' ? 'delete' : 'read');
      await assertDestinationPermitted(app, await toRealTarget(app, dest));
      return false;
    }
    default:
      return false;
  }
}
