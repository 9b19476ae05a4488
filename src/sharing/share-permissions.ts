import { ForbiddenError, ValidationError } from '../errors.ts';
import {
  has, PERMISSION_ALL, PERMISSION_CREATE, PERMISSION_DELETE, PERMISSION_READ, PERMISSION_SHARE, PERMISSION_UPDATE,
  SHARE_TYPE_LINK,
} from './share-types.ts';

/** Permission sets a public link may carry: read, file drop (create only), upload (read+create), read-write. */
const LINK_FOLDER_PERMS = new Set([
  PERMISSION_READ,
  PERMISSION_CREATE,
  PERMISSION_READ | PERMISSION_CREATE,
  PERMISSION_READ | PERMISSION_UPDATE | PERMISSION_CREATE,
  PERMISSION_READ | PERMISSION_UPDATE | PERMISSION_CREATE | PERMISSION_DELETE,
]);
/** A link to a file: read, or read + update (editing). */
const LINK_FILE_PERMS = new Set([PERMISSION_READ, PERMISSION_READ | PERMISSION_UPDATE]);

/**
 * The permission set a share carried over from Nextcloud gets, from Nextcloud's `permissions`
 * column `nc`: what Coffer's rules (checkPermissions) allow of it. Links lose the share bit
 * Nextcloud adds to every link (17 → 1) and keep the largest link set within `nc`; files lose
 * create and delete (Nextcloud ignores them on files).
 * @returns undefined when nothing allowed is left (a user or group share without read, a link with none of the link sets)
 */
export function importedPermissions(shareType: number, itemType: 'file' | 'folder', nc: number): number | undefined {
  const p = nc & PERMISSION_ALL;
  if (shareType === SHARE_TYPE_LINK) {
    const bits = (x: number) => x.toString(2).replaceAll('0', '').length;
    const within = [...(itemType === 'file' ? LINK_FILE_PERMS : LINK_FOLDER_PERMS)].filter((set) => (set & ~p) === 0);
    return within.sort((a, b) => bits(b) - bits(a) || b - a)[0];
  }
  const q = itemType === 'file' ? p & ~(PERMISSION_CREATE | PERMISSION_DELETE) : p;
  return has(q, PERMISSION_READ) ? q : undefined;
}

/** Default permissions of a new share. */
export function defaultPermissions(shareType: number, itemType: 'file' | 'folder'): number {
  if (shareType === SHARE_TYPE_LINK) return PERMISSION_READ;
  return itemType === 'file' ? PERMISSION_READ | PERMISSION_UPDATE | PERMISSION_SHARE : PERMISSION_ALL;
}

/**
 * Checks a permission set for a share.
 * @throws ValidationError (not an integer in 0–31); ForbiddenError (breaks a rule: no read on a
 *   user/group share, create or delete on a file, a link set not offered, more than the sharer holds)
 */
export function checkPermissions(shareType: number, itemType: 'file' | 'folder', perms: number, sharerPerms: number): void {
  if (!Number.isInteger(perms) || perms < 0 || perms > PERMISSION_ALL) throw new ValidationError('Invalid permissions');
  if (shareType === SHARE_TYPE_LINK) {
    if (has(perms, PERMISSION_SHARE)) throw new ForbiddenError('Public links cannot be reshared');
    const allowed = itemType === 'file' ? LINK_FILE_PERMS : LINK_FOLDER_PERMS;
    if (!allowed.has(perms)) {
      throw new ForbiddenError(itemType === 'file' ? 'Public upload is only possible for publicly shared folders' : 'Invalid permissions for a public link');
    }
  } else {
    if (!has(perms, PERMISSION_READ)) throw new ForbiddenError('Shares need at least read permissions');
    if (itemType === 'file' && (has(perms, PERMISSION_CREATE) || has(perms, PERMISSION_DELETE))) {
      throw new ForbiddenError('File shares cannot have create or delete permissions');
    }
  }
  if ((perms & ~sharerPerms) !== 0) throw new ForbiddenError('Cannot increase permissions');
}

/**
 * `oc:permissions` of a node as a user sees it (Nextcloud's letters): S shared with me, R may
 * reshare, M mount root, G read, D delete, N rename, V move, W write (files), C/K create file/folder
 * (folders). `perms` is the share's permission set (31 in one's own tree).
 */
export function davPermissions(kind: 'file' | 'dir', perms: number, opts: { shared: boolean; mountRoot: boolean }): string {
  let p = '';
  if (opts.shared) p += 'S';
  if (has(perms, PERMISSION_SHARE)) p += 'R';
  if (opts.mountRoot) p += 'M';
  if (has(perms, PERMISSION_READ)) p += 'G';
  // The mount root can always be removed from one's own tree and renamed there.
  if (opts.mountRoot || has(perms, PERMISSION_DELETE)) p += 'D';
  if (opts.mountRoot || has(perms, PERMISSION_UPDATE)) p += 'NV';
  if (kind === 'file') {
    if (has(perms, PERMISSION_UPDATE)) p += 'W';
  } else if (has(perms, PERMISSION_CREATE)) {
    p += 'CK';
  }
  return p;
}
