/**
 * Pure helpers for adapters that present shares: the one check of what a request needs from a
 * share's permissions (WebDAV, the web API and public links all call assertPermitted, so a share
 * refuses the same thing in the same words everywhere), and how owner-tree nodes appear in the
 * recipient's tree.
 */
import { ForbiddenError } from '../errors.ts';
import type { FileNode } from '../files/types.ts';
import { davPermissions } from './share-permissions.ts';
import type { Mount, ResolvedPath } from './share-resolver.ts';
import {
  has, PERMISSION_CREATE, PERMISSION_DELETE, PERMISSION_READ, PERMISSION_SHARE, PERMISSION_UPDATE,
} from './share-types.ts';

/** What a request does to a resolved path. */
export type ShareOp = 'read' | 'create' | 'update' | 'delete' | 'share';

const BIT: Record<ShareOp, number> = {
  read: PERMISSION_READ, create: PERMISSION_CREATE, update: PERMISSION_UPDATE, delete: PERMISSION_DELETE, share: PERMISSION_SHARE,
};

const WHAT: Record<ShareOp, string> = {
  read: 'reading', create: 'creating files or folders', update: 'changing files', delete: 'deleting', share: 'resharing',
};

/**
 * `r` is a resolved path of a user's view (own tree: every permission), or a public link's share.
 * @throws ForbiddenError when its permissions lack `op`.
 */
export function assertPermitted(r: { readonly permissions: number }, op: ShareOp): void {
  if (!has(r.permissions, BIT[op])) throw new ForbiddenError(`This share does not allow ${WHAT[op]}`);
}

/** What writing content to a path needs: update when something is there, else create. */
export function writeOp(existing: unknown): ShareOp {
  return existing ? 'update' : 'create';
}

/** True when the resolved path is the root of a received share (the mount point itself). */
export function isMountRoot(r: ResolvedPath, userPath: string): boolean {
  return r.mountPoint !== undefined && userPath === r.mountPoint;
}

/**
 * The path an owner-tree node has in the recipient's tree, given the resolution of a path at or
 * above it: `Project/sub/b.txt` under mount `Project (2)` of `Project` → `Project (2)/sub/b.txt`.
 */
export function viewerPath(node: Pick<FileNode, 'path'>, r: ResolvedPath): string {
  if (r.mountPoint === undefined || r.mountNodePath === undefined) return node.path;
  const mountNodePath = r.mountNodePath;
  if (node.path === mountNodePath) return r.mountPoint;
  const rel = mountNodePath === '' ? node.path : node.path.slice(mountNodePath.length + 1);
  return `${r.mountPoint}/${rel}`;
}

/**
 * A mount as a member of the recipient's root: the owner's node (file id, etag, size, mtime) with
 * the mount point as name and path, and the recipient's root as parent.
 */
export function presentMount(m: Mount, recipientRootId: number): FileNode {
  return { ...m.node, name: m.mountPoint, path: m.mountPoint, parentId: recipientRootId };
}

/**
 * An owner-tree node as the recipient sees it (path rewritten below the mount point; the mount
 * root also renamed to the mount point).
 */
export function presentNode(node: FileNode, r: ResolvedPath): FileNode {
  if (r.mountPoint === undefined) return node;
  const path = viewerPath(node, r);
  const name = node.path === r.mountNodePath ? r.mountPoint : node.name;
  return { ...node, path, name };
}

/** `oc:permissions` of a node as the user sees it (own tree: the usual letters). */
export function permissionLetters(node: Pick<FileNode, 'kind'>, r: ResolvedPath, mountRoot: boolean): string {
  return davPermissions(node.kind, r.permissions, { shared: r.mountPoint !== undefined, mountRoot });
}
