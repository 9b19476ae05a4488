import type { Actor } from '../actor.ts';
import type { FileNode } from '../files/types.ts';
import type { Share } from './share-types.ts';

/**
 * The port through which the share service tells of new user and group shares (notifications and
 * the activity stream listen). Implementations never throw: a share never fails because of them.
 */
export interface ShareEvents {
  /** `actor` created `share` of `node`; `recipients` are the users it reaches (a group's members, the sharer and owner excepted). */
  created(actor: Actor, share: Share, node: FileNode, recipients: readonly string[]): Promise<void>;
  /** These shares are gone (deleted, or with their user or group). */
  deleted(shareIds: readonly number[]): Promise<void>;
}
