import type { NcShare } from './nextcloud-source.ts';

/** Nextcloud's `oc_share.share_type` of the per-user rows it adds below a group share. */
const NC_USERGROUP = 2;
/** `oc_share.accepted` of a share its recipient declined. */
const NC_DECLINED = 2;

/**
 * The members' own mounts of group share `s`, from the per-user rows Nextcloud adds below it
 * (share_type 2, parent = the group share): a member who renamed or moved it (their `file_target`),
 * removed it from their tree (permissions 0) or declined it (accepted 2: hidden in Coffer, which
 * has no pending state). Empty for other shares and for members without such a row.
 */
export function ncGroupShareMounts(s: NcShare, all: readonly NcShare[]): { uid: string; fileTarget: string; hidden: boolean }[] {
  if (s.shareType !== 1) return [];
  return all.filter((r) => r.shareType === NC_USERGROUP && r.parent === s.id && r.shareWith !== null)
    .map((r) => ({ uid: r.shareWith!, fileTarget: r.fileTarget, hidden: r.permissions === 0 || r.accepted === NC_DECLINED }));
}
