/** Share types, permission bits and the Share record (Nextcloud's numbering). */

export const SHARE_TYPE_USER = 0;
export const SHARE_TYPE_GROUP = 1;
export const SHARE_TYPE_LINK = 3;
export type ShareType = typeof SHARE_TYPE_USER | typeof SHARE_TYPE_GROUP | typeof SHARE_TYPE_LINK;

export const PERMISSION_READ = 1;
export const PERMISSION_UPDATE = 2;
export const PERMISSION_CREATE = 4;
export const PERMISSION_DELETE = 8;
export const PERMISSION_SHARE = 16;
export const PERMISSION_ALL = 31;

/** One share as services see it (no password hash). */
export interface Share {
  readonly id: number;
  readonly shareType: ShareType;
  /** Owner of the shared node (uid_file_owner). */
  readonly owner: string;
  /** Who created the share (uid_owner). */
  readonly initiator: string;
  /** Stable file id of the shared node. */
  readonly fileId: number;
  readonly itemType: 'file' | 'folder';
  /** uid (user shares), gid (group shares), null (links). */
  readonly shareWith: string | null;
  readonly permissions: number;
  /** Public links only. */
  readonly token: string | null;
  readonly hasPassword: boolean;
  /** Seconds since the epoch (the end of the day the client named), or null. */
  readonly expiration: number | null;
  readonly stime: number;
  /** Mount name (no slashes) the share was created with. */
  readonly fileTarget: string;
  readonly note: string;
  readonly label: string;
}

/** Input of ShareService.create. */
export interface CreateShareInput {
  /** The sharer. */
  uid: string;
  /** Path in the sharer's tree (as they see it, received shares included). */
  path: string;
  shareType: number;
  shareWith?: string;
  /** Default: 31 (folders), 19 (files) for user/group shares; 1 for links. */
  permissions?: number;
  password?: string;
  /** YYYY-MM-DD (or any ISO 8601 date); the share ends after that day. */
  expireDate?: string;
  note?: string;
  label?: string;
}

/** Fields ShareService.update may change (undefined = unchanged; '' clears password/expireDate). */
export interface UpdateShareInput {
  permissions?: number;
  password?: string;
  expireDate?: string;
  note?: string;
  label?: string;
}

/** Whether `perms` grants `bit`. */
export function has(perms: number, bit: number): boolean {
  return (perms & bit) === bit;
}

/** How a list is filtered (OCS `GET …/shares`). */
export interface ListSharesOptions {
  /** Shares of this node (a path of the user's tree). */
  path?: string;
  /** With `path`: every share of the node, not only the user's. */
  reshares?: boolean;
  /** With `path` (a folder): the shares of its direct members. */
  subfiles?: boolean;
  /** Shares received by the user instead of those they made. */
  sharedWithMe?: boolean;
}
