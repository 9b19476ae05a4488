import type { ShareResolver } from '../sharing/share-resolver.ts';
import type { SharePermissions } from './version-service.ts';
import { VersionService } from './version-service.ts';

/**
 * What `uid` may do on another user's node through the shares they received: the union of the
 * permissions of every received share whose node is the node or one of its folders (0: none).
 */
export function sharePermissions(resolver: ShareResolver): SharePermissions {
  return async (uid, node) => {
    let perms = 0;
    for (const m of await resolver.mountsOf(uid)) if (VersionService.within(node, m.node)) perms |= m.permissions;
    return perms;
  };
}
