import type { ShareResolver } from '../sharing/share-resolver.ts';
import type { SharePermissions } from './version-service.ts';
import { VersionService } from './version-service.ts';

/**
 * What `uid` may do on another user's node through the shares they received: the union of the
 * permissions of every received share whose node is the node or one of its folders (0: none).
 */
export function sharePermissions(resolver: ShareResolver): SharePermissions {
  return async (uid, node) => (await shareViews(resolver)(uid))(node).permissions;
}

/** How a place of another user's tree looks to a share recipient: their permissions there (0: none) and its path in their tree. */
export interface ShareView {
  readonly permissions: number;
  /** The path in the recipient's tree (below the mount point); '' when they do not reach it. */
  readonly path: string;
}

/**
 * `uid`'s view of other users' trees through their received shares, read once (a trash listing
 * asks for many places): for a place `{ owner, path }`, the union of the permissions of the shares
 * at or above it, and where it appears in `uid`'s tree.
 */
export type ShareViews = (uid: string) => Promise<(at: { owner: string; path: string }) => ShareView>;

export function shareViews(resolver: ShareResolver): ShareViews {
  return async (uid) => {
    const mounts = await resolver.mountsOf(uid);
    return (at) => {
      let permissions = 0;
      let path = '';
      for (const m of mounts) {
        if (!VersionService.within(at, m.node)) continue;
        permissions |= m.permissions;
        path ||= at.path === m.node.path ? m.mountPoint : `${m.mountPoint}${at.path.slice(m.node.path.length)}`;
      }
      return { permissions, path };
    };
  };
}
