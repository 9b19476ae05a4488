import { ancestorsOf } from '../files/paths.ts';
import type { ShareWithNode } from './share-repository.ts';
import { has, PERMISSION_ALL, PERMISSION_READ, PERMISSION_SHARE, SHARE_TYPE_LINK, type Share } from './share-types.ts';

/**
 * The live shares `uid` receives (user shares to them, group shares to their groups, not made by
 * themselves) of `owner`'s nodes at any of `paths`.
 */
export type ReceivedOnPaths = (uid: string, owner: string, paths: string[]) => Promise<ShareWithNode[]>;

/** Whether a share with these (effective) permissions grants anything: a link some bit, a user or group share read. */
function grantsAccess(s: Share): boolean {
  return s.shareType === SHARE_TYPE_LINK ? s.permissions !== 0 : has(s.permissions, PERMISSION_READ);
}

/** What a reshare may grant given what its initiator holds: nothing once they lost the share permission. */
function reshareCap(held: number): number {
  return has(held, PERMISSION_SHARE) ? held : 0;
}

/*
 * Effective permissions are computed at read time rather than by cascading updates (Nextcloud's
 * way): rights are lost through many doors (a share updated or deleted, a group membership ended,
 * an account disabled, a folder moved away), and each would need its own cascade, while reading
 * covers them all at once and restores reshares as they were made when the rights come back. It
 * costs one query per reshare hop, and nothing for the shares an owner made directly.
 */

/**
 * What `uid` holds now on `owner`'s node at `path`: everything in their own tree; otherwise the
 * union of the live shares they receive on that node or a folder above it, each capped in turn by
 * what its own initiator holds now, and void once that initiator lost the share permission (a
 * chain of reshares is as strong as its weakest link). `chain` names the users already on the
 * chain being followed: a reshare cycle grants nothing.
 */
export async function heldOn(receivedOn: ReceivedOnPaths, uid: string, owner: string, path: string, chain: ReadonlySet<string> = new Set()): Promise<number> {
  if (uid === owner) return PERMISSION_ALL;
  if (chain.has(uid)) return 0;
  const rows = await receivedOn(uid, owner, [path, ...ancestorsOf(path)]);
  const next = new Set(chain).add(uid);
  let acc = 0;
  for (const r of rows) {
    const { permissions, initiator } = r.share;
    if ((permissions & ~acc) === 0) continue; // adds nothing to what is already held
    acc |= initiator === owner ? permissions : permissions & reshareCap(await heldOn(receivedOn, initiator, owner, r.node.path, next));
    if (acc === PERMISSION_ALL) break;
  }
  return acc;
}

/**
 * `rows` with their effective permissions: a share the owner made as stored; a reshare capped by
 * what its initiator holds now (heldOn), and left out when that leaves it nothing (no read), like
 * an expired share.
 */
export async function withEffectivePermissions<T extends ShareWithNode>(receivedOn: ReceivedOnPaths, rows: readonly T[]): Promise<T[]> {
  const out: T[] = [];
  const held = new Map<string, Promise<number>>();
  for (const r of rows) {
    const sh = r.share;
    if (sh.initiator === sh.owner) { out.push(r); continue; }
    const key = `${sh.initiator}\0${sh.owner}\0${r.node.path}`;
    let ceiling = held.get(key);
    if (!ceiling) { ceiling = heldOn(receivedOn, sh.initiator, sh.owner, r.node.path); held.set(key, ceiling); }
    const permissions = sh.permissions & reshareCap(await ceiling);
    const capped = permissions === sh.permissions ? r : { ...r, share: { ...sh, permissions } };
    if (grantsAccess(capped.share)) out.push(capped);
  }
  return out;
}
