import type { TreeRef } from '../files/copy-move-service.ts';
import type { FilesService } from '../files/files-service.ts';
import { normalizePath } from '../files/paths.ts';
import { ForbiddenError } from '../errors.ts';
import { assertPermitted, isMountRoot } from './share-access.ts';
import type { ResolvedPath, ShareResolver } from './share-resolver.ts';

/** What a COPY or MOVE in a user's view of their files comes down to. */
export type TransferPlan =
  /** MOVE of a received share's mount root within the user's root: the mount is renamed, nothing else. */
  | { readonly kind: 'rename-mount'; readonly mountPoint: string; readonly name: string }
  /** A copy or move between the trees the two paths live in (FilesService.copyBetween/moveBetween). */
  | {
    readonly kind: 'transfer';
    readonly from: TreeRef;
    readonly to: TreeRef;
    readonly source: ResolvedPath;
    readonly destination: ResolvedPath;
    /** The destination exists and will be replaced (overwrite). */
    readonly replaces: boolean;
  };

/**
 * The one permission rule for COPY and MOVE between paths of a user's view (their own tree and the
 * shares they received), so that WebDAV and the web API agree by construction:
 * - a mount root may only be renamed within the user's root (moving it elsewhere would carry the
 *   owner's folder out of the owner's tree), and never be replaced;
 * - the source needs read (copy) or delete (move);
 * - the destination needs create when new; replacing what exists (overwrite = delete, then write)
 *   needs update and delete on it.
 * Own-tree paths have every permission; locks and quota are checked where the work is done.
 */
export class TransferPolicy {
  readonly #resolver: ShareResolver;
  readonly #files: FilesService;

  constructor(deps: { resolver: ShareResolver; files: FilesService }) {
    this.#resolver = deps.resolver;
    this.#files = deps.files;
  }

  /**
   * Decides what copying or moving `fromView` to `toView` in `uid`'s view does, or refuses it.
   * @throws ForbiddenError (a share does not permit it; a mount root moved out of the root or
   *   replaced); ValidationError (malformed path); NotFoundError (a path below a shared file)
   */
  async plan(uid: string, op: 'copy' | 'move', fromView: string, toView: string, opts: { overwrite: boolean }): Promise<TransferPlan> {
    const from = normalizePath(fromView);
    const to = normalizePath(toView);
    const source = await this.#resolver.resolve(uid, from);
    if (isMountRoot(source, from) && op === 'move') {
      if (to.includes('/') || to === '') throw new ForbiddenError('A share can only be renamed within your root folder');
      return { kind: 'rename-mount', mountPoint: from, name: to };
    }
    assertPermitted(source, op === 'move' ? 'delete' : 'read');
    const destination = await this.#resolver.resolve(uid, to);
    if (isMountRoot(destination, to)) throw new ForbiddenError('A received share cannot be replaced');
    const exists = to !== '' && (await this.#files.tryStat(destination.owner, destination.path)) !== undefined;
    if (!exists) {
      assertPermitted(destination, 'create');
    } else if (opts.overwrite) {
      assertPermitted(destination, 'update');
      assertPermitted(destination, 'delete');
    }
    return {
      kind: 'transfer', source, destination, replaces: exists && opts.overwrite,
      from: { uid: source.owner, path: source.path }, to: { uid: destination.owner, path: destination.path },
    };
  }
}
