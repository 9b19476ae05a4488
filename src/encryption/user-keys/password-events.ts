import { ConflictError } from '../../errors.ts';
import type { ResetImpact, ResetOutcome, UserKeys } from './user-keys.ts';

/**
 * An admin password reset would make the user's encrypted files unreadable and was not confirmed.
 * (conflict → OCS 403 / DAV 409 / CLI exit 5.)
 */
export class KeyResetNotConfirmedError extends ConflictError {}

/** The warning shown before an admin reset, or undefined when the reset costs no data. */
export function resetWarning(uid: string, impact: ResetImpact): string | undefined {
  if (!impact.hasKeys) return undefined;
  if (impact.optedIn && impact.recoveryEnabled) {
    return `user ${uid} uses per-user encryption keys and opted into recovery: give the recovery key password (OC_RECOVERY_PASS) to keep their files readable; without it their encrypted files become unreadable`;
  }
  return `user ${uid} uses per-user encryption keys${impact.optedIn ? '' : ' and has not opted into recovery'}: resetting the password makes all of their encrypted files permanently unreadable (only the old password could open them)`;
}

export interface AdminResetOptions {
  /** The recovery key password: keeps the files readable (the user must have opted in). */
  recoveryPassword?: string;
  /** The admin confirmed the data loss (answered yes, or --force / confirmKeyReset=1). */
  confirmedLoss: boolean;
  /** Sets the login password (UserService.setPassword + cache invalidation). */
  setLoginPassword: () => Promise<void>;
}

/**
 * An administrator resets `uid`'s password (user:resetpassword, OCS admin edit). In master-key mode,
 * or for a user without a key pair, only the login password changes. In per-user mode: with
 * `recoveryPassword` the files stay readable; without it the reset happens only when `confirmedLoss`.
 * @throws KeyResetNotConfirmedError (nothing changed) naming the consequence; CryptoError for a
 *   wrong recovery password; ConflictError when the user did not opt into recovery.
 */
export async function adminResetPassword(userKeys: UserKeys, uid: string, newPassword: string, o: AdminResetOptions): Promise<ResetOutcome> {
  const impact = await userKeys.resetImpact(uid);
  if (!impact.hasKeys) { await o.setLoginPassword(); return 'no-keys'; }
  if (o.recoveryPassword !== undefined && o.recoveryPassword !== '') {
    return userKeys.adminReset(uid, newPassword, { recoveryPassword: o.recoveryPassword, setLoginPassword: o.setLoginPassword });
  }
  if (!o.confirmedLoss) throw new KeyResetNotConfirmedError(`${resetWarning(uid, impact)}. Not reset: confirm the data loss to proceed.`);
  return userKeys.adminReset(uid, newPassword, { setLoginPassword: o.setLoginPassword });
}

/**
 * A user changes their own password: the private key is re-wrapped (O(1)), files stay readable.
 * `oldPassword` is the request's login password when it has one; otherwise the unlocked session is used.
 * @throws UserKeyLockedError when neither works (nothing changed).
 */
export function changeOwnPassword(userKeys: UserKeys, uid: string, newPassword: string, oldPassword: string | undefined, setLoginPassword: () => Promise<void>): Promise<void> {
  return userKeys.changeOwnPassword(uid, newPassword, oldPassword, setLoginPassword);
}
