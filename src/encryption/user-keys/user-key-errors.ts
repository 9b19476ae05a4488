import { ForbiddenError } from '../../errors.ts';

/**
 * Per-user-key mode: the user's private key is not unlocked in this server (no password login since
 * the server started, or the session expired). Maps to 403 (as Nextcloud's "Encryption not ready").
 */
export class UserKeyLockedError extends ForbiddenError {
  readonly uid: string;
  constructor(uid: string, detail = '') {
    super(`the encryption key of user ${uid} is locked: log in with the password again${detail ? ` (${detail})` : ''}`);
    this.uid = uid;
  }
}

/**
 * Per-user-key mode: the data was sealed to a key pair that an administrator replaced by a password
 * reset without recovery; the data cannot be decrypted any more. Maps to 403.
 */
export class UserKeysResetError extends ForbiddenError {
  readonly uid: string;
  constructor(uid: string, at: string) {
    super(`the encryption keys of user ${uid} were reset by an administrator on ${at} (password reset without the recovery key): files encrypted before that cannot be decrypted any more`);
    this.uid = uid;
  }
}
