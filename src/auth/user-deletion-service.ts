import { transact, type Db } from '../db/database.ts';
import { ForbiddenError } from '../errors.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { KeyManager } from '../encryption/master-key/key-manager.ts';
import type { UserKeySession } from '../encryption/user-keys/user-key-session.ts';
import type { FilesService } from '../files/files-service.ts';
import type { LockService } from '../files/lock-service.ts';
import type { UploadService } from '../files/upload-service.ts';
import type { GroupService } from '../sharing/group-service.ts';
import type { ShareService } from '../sharing/share-service.ts';
import type { AppPasswordService } from './app-password-service.ts';
import type { Authenticator } from './authenticator.ts';
import type { SessionService } from './session-service.ts';
import type { UserService } from './user-service.ts';

export interface UserDeletionDeps {
  db: Db;
  users: UserService;
  auth: Authenticator;
  sessions: SessionService;
  appPasswords: AppPasswordService;
  groups: GroupService;
  shares: ShareService;
  uploads: UploadService;
  locks: LockService;
  files: FilesService;
  keys: KeyManager;
  keySession: UserKeySession;
  audit: AuditLog;
  /** Deletes the user's trash bin and versions for good (issue #15). */
  history?: { deleteAllOf(uid: string): Promise<void> };
}

/** Who deletes: an admin through OCS or the web UI (uid, address), or the CLI (no uid). */
export interface DeletionActor {
  readonly uid?: string;
  readonly ip?: string;
  readonly via: 'ocs' | 'web' | 'cli';
}

/**
 * Deleting a user, the one way every adapter does it. Everything of the user goes, so that a new
 * account with the same name inherits nothing: sessions, app passwords (and so any granted login
 * flow's password), group memberships, shares to and from them (links they made included) and the
 * mounts of those, pending uploads, locks on their tree, their trash bin and versions, their files and blobs, their key folder
 * and cached keys, preferences, and last the users row.
 *
 * The account is disabled first and its row deleted last, so a deletion that fails half-way leaves
 * a disabled account that nobody can take over, and running it again finishes the job.
 */
export class UserDeletionService {
  readonly #d: UserDeletionDeps;
  constructor(deps: UserDeletionDeps) { this.#d = deps; }

  /**
   * Deletes `uid` with everything that belongs to them.
   * @throws NotFoundError for an unknown user; ForbiddenError when an admin deletes themselves.
   */
  async delete(actor: DeletionActor, uid: string): Promise<void> {
    const d = this.#d;
    await d.users.get(uid);
    if (actor.uid !== undefined && actor.uid === uid) throw new ForbiddenError('You cannot delete yourself');
    await d.users.setEnabled(uid, false);
    d.auth.invalidateUser(uid);
    await d.sessions.revokeAll(uid);
    await d.appPasswords.revokeAll(uid);
    await d.groups.removeUserEverywhere(uid);
    await d.shares.deleteAllOfUser(uid);
    await d.uploads.removeAllFor(uid);
    await d.locks.removeUnder(uid, '');
    await d.history?.deleteAllOf(uid);
    await d.files.deleteAll(uid);
    d.keySession.lock(uid);
    await d.keys.deleteUserKeys(uid);
    // The account was disabled before the work began, but a request already under way may have
    // added a row since: sweep every per-user table in the transaction that removes the account.
    await transact(d.db, async (trx) => {
      await trx.deleteFrom('app_passwords').where('uid', '=', uid).execute();
      await trx.deleteFrom('web_sessions').where('uid', '=', uid).execute();
      await trx.deleteFrom('group_members').where('uid', '=', uid).execute();
      await trx.deleteFrom('share_mounts').where('uid', '=', uid).execute();
      await trx.deleteFrom('locks').where('owner', '=', uid).execute();
      await trx.deleteFrom('user_preferences').where('uid', '=', uid).execute();
      await d.users.deleteRecord(trx, uid);
    });
    d.auth.invalidateUser(uid);
    await d.audit.record('user.deleted', { uid, ...(actor.uid ? { by: actor.uid } : {}), ...(actor.ip ? { ip: actor.ip } : {}), via: actor.via });
  }
}
