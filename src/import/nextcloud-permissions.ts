import type { NcEntry } from './nextcloud-source.ts';

/**
 * What Coffer serves its owner for a node of their own tree, as Nextcloud's permission bits: a
 * file 27 (read, update, delete, share: RGDNVW), a folder 31 (and create: RGDNVCK). Nextcloud's
 * home storage gives the same, unless the file's mode on disk denied it
 * (Storage\Local::getPermissions): those restrictions are not carried over, since the disk modes
 * stop mattering once Coffer holds the content.
 */
export function cofferOwnerPermissions(kind: NcEntry['kind']): number {
  return kind === 'dir' ? 31 : 27;
}

/** A node whose Nextcloud permissions differ from what Coffer will serve. */
export interface PermissionChange {
  /** `<uid>/files/<path>`, as in the list of skipped items. */
  readonly what: string;
  readonly nextcloud: number;
  readonly coffer: number;
}

/** The PermissionChange of an entry, or undefined when Coffer serves what Nextcloud did. */
export function permissionChange(uid: string, e: NcEntry): PermissionChange | undefined {
  const coffer = cofferOwnerPermissions(e.kind);
  return e.permissions === coffer ? undefined : { what: `${uid}/${e.path}`, nextcloud: e.permissions, coffer };
}
