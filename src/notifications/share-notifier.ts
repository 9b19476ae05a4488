import type { Actor } from '../actor.ts';
import type { UserService } from '../auth/user-service.ts';
import type { FileNode } from '../files/types.ts';
import type { Logger } from '../logger.ts';
import type { ShareEvents } from '../sharing/share-events.ts';
import { SHARE_TYPE_GROUP, type Share } from '../sharing/share-types.ts';
import type { NotificationService } from './notification-service.ts';

/**
 * "alice shared Project with you": one notification to each user a new user or group share
 * reaches (files_sharing's notification, object `share` with the share's id), so that the
 * desktop client and the web UI show it. Never throws: a share never fails because of it.
 */
export class ShareNotifier implements ShareEvents {
  readonly #notifications: NotificationService;
  readonly #users: UserService;
  readonly #log: Logger;

  constructor(deps: { notifications: NotificationService; users: UserService; log: Logger }) {
    this.#notifications = deps.notifications;
    this.#users = deps.users;
    this.#log = deps.log;
  }

  async created(actor: Actor, share: Share, node: FileNode, recipients: readonly string[]): Promise<void> {
    try {
      const sharer = await this.#users.get(share.initiator).then((u) => u.displayName || u.uid, () => share.initiator);
      const name = node.path === '' ? node.owner : node.name;
      const subject = share.shareType === SHARE_TYPE_GROUP
        ? `${sharer} shared ${name} with group ${share.shareWith}`
        : `${sharer} shared ${name} with you`;
      await this.#notifications.notifyMany(actor, recipients.map((uid) => ({
        uid, app: 'files_sharing', objectType: 'share', objectId: String(share.id), subject: subject.slice(0, 255),
      })));
    } catch (err) {
      this.#log.warn({ err, shareId: share.id }, 'could not notify the recipients of a share');
    }
  }

  /** A deleted share's notifications go (the recipient can no longer open it). */
  async deleted(shareIds: readonly number[]): Promise<void> {
    await this.#notifications.dismissAbout('files_sharing', 'share', shareIds.map(String))
      .catch((err: unknown) => this.#log.warn({ err, shareIds }, 'could not dismiss the notifications of deleted shares'));
  }
}
