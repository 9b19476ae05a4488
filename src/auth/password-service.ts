import type { AuditLog } from '../audit/audit-log.ts';
import { adminResetPassword, changeOwnPassword } from '../encryption/user-keys/password-events.ts';
import type { ResetOutcome, UserKeys } from '../encryption/user-keys/user-keys.ts';
import { ForbiddenError, ValidationError } from '../errors.ts';
import type { Authenticator } from './authenticator.ts';
import type { SessionService } from './session-service.ts';
import type { AuthenticatedUser } from './types.ts';
import type { UserService } from './user-service.ts';

export interface PasswordServiceDeps {
  users: UserService;
  userKeys: UserKeys;
  auth: Authenticator;
  sessions: SessionService;
  audit: AuditLog;
}

/** Where a password change came from (audit log). */
export interface PasswordChangeOrigin {
  /** Client address ('' from the CLI). */
  readonly ip: string;
  /** 'web', 'ocs', 'cli'. */
  readonly via: string;
}

/**
 * Every change of a login password, by any path (web UI, OCS, ./occ), goes through here, so that
 * each one does all of it: the per-user private key is re-wrapped or reset, cached credentials are
 * forgotten, and the user's other web sessions end (with their per-session key wrappings) — a
 * session that someone opened with the old password must not outlive it. App passwords stay valid,
 * as in Nextcloud (they are revoked separately).
 */
export class PasswordService {
  readonly #d: PasswordServiceDeps;

  constructor(deps: PasswordServiceDeps) { this.#d = deps; }

  /**
   * `actor` changes their own password. Needs the current password, checked like a login
   * (throttled, audited), and an actor who logged in with a password (Basic or a web session):
   * an app password cannot change the password it derives from, as in Nextcloud.
   * Ends every other web session of the user (all but `keepSessionId`).
   * @returns how many other web sessions ended
   * @throws ForbiddenError (app password); AuthenticationError (wrong current password);
   *   ThrottledError; ValidationError (empty or too long); UserKeyLockedError (per-user keys that
   *   cannot be re-wrapped) — nothing changed in each case
   */
  async changeOwn(actor: AuthenticatedUser, current: string, next: string, o: PasswordChangeOrigin & { keepSessionId?: number }): Promise<number> {
    const { users, userKeys, auth, audit } = this.#d;
    if (actor.via === 'app-password') throw new ForbiddenError('An app password cannot change the login password: log in with your password');
    if (typeof next !== 'string' || next.length === 0) throw new ValidationError('The new password must not be empty');
    await auth.authenticatePassword(actor.uid, current, o.ip, { method: `${o.via}-password-change`, allowAppPassword: false, firstFactorOnly: true });
    await changeOwnPassword(userKeys, actor.uid, next, current, () => users.setPassword(actor.uid, next));
    const ended = await this.#afterChange(actor.uid, o.keepSessionId);
    await audit.record('user.password_changed', { uid: actor.uid, ip: o.ip, via: o.via });
    return ended;
  }

  /**
   * An administrator (or the CLI, `by` undefined) sets `uid`'s password; see adminResetPassword for
   * what happens to per-user keys. Ends every web session of the user.
   * @throws KeyResetNotConfirmedError; CryptoError (wrong recovery password); ConflictError;
   *   ValidationError; NotFoundError — nothing changed in each case
   */
  async adminReset(by: string | undefined, uid: string, next: string,
    o: PasswordChangeOrigin & { recoveryPassword?: string; confirmedLoss: boolean }): Promise<ResetOutcome> {
    const { users, userKeys, audit } = this.#d;
    if (typeof next !== 'string' || next.length === 0) throw new ValidationError('The new password must not be empty');
    await users.get(uid);
    const outcome = await adminResetPassword(userKeys, uid, next, {
      recoveryPassword: o.recoveryPassword, confirmedLoss: o.confirmedLoss,
      setLoginPassword: () => users.setPassword(uid, next),
    });
    await this.#afterChange(uid, undefined);
    await audit.record('user.password_reset', { uid, ...(by ? { by } : {}), ...(o.ip ? { ip: o.ip } : {}), via: o.via, encryption: outcome });
    return outcome;
  }

  /** Forgets cached credentials and ends the user's web sessions but one; returns how many ended. */
  async #afterChange(uid: string, keepSessionId: number | undefined): Promise<number> {
    this.#d.auth.invalidateUser(uid);
    return this.#d.sessions.revokeAll(uid, keepSessionId);
  }
}
