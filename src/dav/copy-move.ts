import { isSameOrInside } from '../files/paths.ts';
import { ForbiddenError, ValidationError } from '../errors.ts';
import type { DavRequest } from './dav-request.ts';
import { sendEmpty } from './dav-request.ts';
import { resolveDestination } from './dav-target.ts';
import { toRealTarget } from './share-gate.ts';
import { versionHeaders } from './get-handler.ts';
import { drain, parseDepth, parseOverwrite } from './http-util.ts';
import { assertTokensSubmitted, evaluateIfInView } from './lock-guard.ts';
import { assertWritable, removeLocksUnder, type WriteTarget } from './lock-adapter.ts';

/**
 * COPY and MOVE: Destination (absolute URL or path in the user's view: their own tree or a received
 * share), Overwrite T/F (F onto an existing resource → plain 412), Depth (COPY 0/infinity; MOVE
 * infinity only), 201 new / 204 overwritten, with ETag/OC-ETag/OC-FileId of the result. Within one
 * owner's tree MOVE keeps file ids; between trees (own files ↔ a received share, share ↔ share of
 * different owners) the content moves into the receiving owner's tree under new file ids. MOVE
 * drops the source's locks; COPY carries checksums and dead properties (not locks). The share
 * permissions were checked by the share gate; locks are checked on both trees.
 * @throws NotFoundError, AlreadyExistsError (→ 412), ConflictError (409), ForbiddenError (403 onto/into
 *   itself, root), ValidationError (bad headers), BadGatewayError (502), LockedError, QuotaExceededError.
 */
export async function handleCopyMove(d: DavRequest): Promise<void> {
  const { app, req, res, target } = d;
  const isMove = req.method === 'MOVE';
  drain(req);
  const dest = await toRealTarget(app, resolveDestination(req, d.user.uid));
  const overwrite = parseOverwrite(req);
  const depthHeader = parseDepth(req);
  let depth: 0 | 'infinity' = 'infinity';
  if (depthHeader === 0 && !isMove) depth = 0;
  else if (depthHeader !== undefined && depthHeader !== 'infinity') {
    throw new ValidationError(isMove ? 'MOVE supports only Depth: infinity' : 'COPY supports Depth: 0 or infinity');
  }
  const src = target.path;
  if (src === '') throw new ForbiddenError('The root folder cannot be copied or moved');
  if (dest.path === '') throw new ForbiddenError('The root folder cannot be replaced');
  const sameTree = dest.uid === target.uid;
  if (sameTree && isSameOrInside(dest.path, src)) throw new ForbiddenError('Source and destination overlap');
  await app.files.stat(target.uid, src); // 404 before anything else

  if (sameTree) {
    const writes: WriteTarget[] = [{ path: dest.path, depth: 'infinity' }];
    if (isMove) writes.unshift({ path: src, depth: 'infinity' });
    await assertWritable(app, req, target.uid, writes);
  } else {
    // The If conditions name resources as the user sees them (own tree and shares); the locks of
    // both trees need their tokens submitted.
    await evaluateIfInView(app, req, d.user.uid, { uid: target.uid, path: src });
    if (isMove) await assertTokensSubmitted(app, req, target.uid, [{ path: src, depth: 'infinity' }]);
    await assertTokensSubmitted(app, req, dest.uid, [{ path: dest.path, depth: 'infinity' }]);
  }

  const opts = { overwrite, depth };
  const from = { uid: target.uid, path: src };
  const to = { uid: dest.uid, path: dest.path };
  const result = isMove ? await app.files.moveBetween(d.actor, from, to, opts) : await app.files.copyBetween(d.actor, from, to, opts);
  if (isMove) await removeLocksUnder(app, target.uid, src);
  sendEmpty(res, result.created ? 201 : 204, versionHeaders(result.node, app.config.instanceid));
}
