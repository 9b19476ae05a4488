import type { Actor, UserActor } from '../actor.ts';
import type { UserService } from '../auth/user-service.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ChangeBus } from '../push/change-bus.ts';
import type { NotificationRepository, NotificationRow } from './notification-repository.ts';

/** Nextcloud's limits (notification:generate): short message 255 characters, long message 4000. */
export const MAX_SUBJECT = 255;
export const MAX_MESSAGE = 4000;
/** How many notifications a list returns (Nextcloud's notifications app returns the newest 25). */
export const LIST_LIMIT = 25;

/** What a new notification says. */
export interface NewNotification {
  readonly uid: string;
  readonly app: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly subject: string;
  readonly message?: string;
  readonly link?: string;
}

/**
 * Notifications of Nextcloud's notifications app: messages to one user (a share they received, an
 * admin's message) that stay until the user dismisses them. Each new one tells the user's push
 * connections `notify_notification` through the change bus (every worker and host hears it); the
 * desktop client then fetches the list.
 */
export class NotificationService {
  readonly #repo: NotificationRepository;
  readonly #users: UserService;
  readonly #bus: ChangeBus;
  readonly #log: Logger;
  readonly #now: () => number;

  constructor(deps: { repo: NotificationRepository; users: UserService; bus: ChangeBus; log: Logger; now?: () => number }) {
    this.#repo = deps.repo;
    this.#users = deps.users;
    this.#bus = deps.bus;
    this.#log = deps.log;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * `actor` (a user, or the server for `./occ notification:generate`) notifies `n.uid`.
   * @throws ValidationError (empty or too long subject, too long message); NotFoundError (unknown user)
   */
  async notify(actor: Actor, n: NewNotification): Promise<NotificationRow> {
    const [made] = await this.notifyMany(actor, [n]);
    return made!;
  }

  /**
   * Several notifications at once (the members of a group share), one insert transaction and one
   * push event. @throws as notify
   */
  async notifyMany(actor: Actor, list: readonly NewNotification[]): Promise<NotificationRow[]> {
    if (list.length === 0) return [];
    const now = this.#now();
    const rows: Omit<NotificationRow, 'id'>[] = [];
    for (const n of list) {
      const subject = n.subject.trim();
      if (subject === '') throw new ValidationError('The short message must not be empty');
      if ([...subject].length > MAX_SUBJECT) throw new ValidationError(`The short message is longer than ${MAX_SUBJECT} characters`);
      const message = n.message ?? '';
      if ([...message].length > MAX_MESSAGE) throw new ValidationError(`The long message is longer than ${MAX_MESSAGE} characters`);
      if (!(await this.#users.exists(n.uid))) throw new NotFoundError(`User "${n.uid}" does not exist`);
      rows.push({
        uid: n.uid, app: n.app, objectType: n.objectType, objectId: n.objectId, actor: actor.kind === 'user' ? actor.uid : '',
        subject, message, link: n.link ?? '', createdAt: now,
      });
    }
    const ids = await this.#repo.insert(rows);
    this.#bus.publish({ kind: 'notification', uids: [...new Set(rows.map((r) => r.uid))] });
    this.#log.debug({ uids: rows.map((r) => r.uid), ids }, 'notifications created');
    return rows.map((r, i) => ({ ...r, id: ids[i]! }));
  }

  /**
   * The objects these notifications were about are gone (a deleted share): the notifications go
   * too, as Nextcloud marks them processed, and their users' clients are told to fetch the list again.
   */
  async dismissAbout(app: string, objectType: string, objectIds: readonly string[]): Promise<void> {
    const uids = await this.#repo.deleteAbout(app, objectType, objectIds);
    if (uids.length > 0) this.#bus.publish({ kind: 'notification', uids });
  }

  /** The newest notifications of `actor`, newest first. */
  list(actor: UserActor): Promise<NotificationRow[]> {
    return this.#repo.list(actor.uid, LIST_LIMIT);
  }

  /** One notification of `actor`. @throws NotFoundError (unknown, or another user's) */
  async get(actor: UserActor, id: number): Promise<NotificationRow> {
    const r = await this.#repo.get(actor.uid, id);
    if (!r) throw new NotFoundError('Notification not found');
    return r;
  }

  /** Dismisses one notification of `actor`. @throws NotFoundError (unknown, or another user's) */
  async delete(actor: UserActor, id: number): Promise<void> {
    if (!(await this.#repo.delete(actor.uid, id))) throw new NotFoundError('Notification not found');
  }

  /** Dismisses every notification of `actor`. */
  async deleteAll(actor: UserActor): Promise<void> {
    await this.#repo.deleteAll(actor.uid);
  }
}
