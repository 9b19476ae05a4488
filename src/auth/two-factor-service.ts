import { createHash, randomInt } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import { AuthenticationError, ConflictError, ThrottledError, ValidationError } from '../errors.ts';
import type { SecretBox } from './secret-box.ts';
import type { LoginAttempt, Throttler } from './throttler.ts';
import { matchTotp, newTotpSecret, totpUri } from './totp.ts';
import { TwoFactorEnforcement, type EnforcementState } from './two-factor-enforcement.ts';
import type { TwoFactorRepository } from './two-factor-repository.ts';

/** Provider ids as Nextcloud names them (`twofactorauth:state`, `twofactorauth:disable`). */
export type TwoFactorProvider = 'totp' | 'backup_codes';
export const TWO_FACTOR_PROVIDERS: readonly TwoFactorProvider[] = ['totp', 'backup_codes'];

/** A user's two-factor state. */
export interface TwoFactorState {
  /** TOTP is verified and on: logins need a second factor. */
  readonly totp: boolean;
  /** A TOTP secret was handed out but no code verified yet. */
  readonly totpPending: boolean;
  readonly backupCodes: { readonly total: number; readonly remaining: number };
  /** The admin's enforcement covers this user. */
  readonly enforced: boolean;
}

/** Backup codes: 10 per set, 12 characters of an unambiguous 32-letter alphabet (60 bits each). */
export const BACKUP_CODE_COUNT = 10;
const BACKUP_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const BACKUP_LENGTH = 12;

/** Codes as users type them: spaces and dashes ignored, case-insensitive for backup codes. */
function normaliseCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}
const hashBackupCode = (normalised: string) => createHash('sha256').update(`coffer-backup-code\0${normalised}`, 'utf8').digest('hex');

export interface TwoFactorServiceDeps {
  repo: TwoFactorRepository;
  enforcement: TwoFactorEnforcement;
  /** Seals TOTP secrets for the database. */
  box: SecretBox;
  throttle: Throttler;
  audit: AuditLog;
  /** Group ids of a user, including `admin` for admins (for enforcement by group). */
  groupsOf: (uid: string) => Promise<string[]>;
  /** Issuer shown in authenticator apps. */
  issuer?: string;
  now?: () => number;
}

/**
 * Two-factor authentication as Nextcloud's twofactor_totp and backup codes: TOTP enrolment (a
 * secret, then a verified code before it counts), the second login step, backup codes shown once
 * and usable once, the admin's enforcement. Every code check goes through the brute-force
 * throttle (per address and per user), and a TOTP time step is accepted at most once.
 */
export class TwoFactorService {
  readonly #repo: TwoFactorRepository;
  readonly #enforcement: TwoFactorEnforcement;
  readonly #box: SecretBox;
  readonly #throttle: Throttler;
  readonly #audit: AuditLog;
  readonly #groupsOf: (uid: string) => Promise<string[]>;
  readonly #issuer: string;
  readonly #now: () => number;

  constructor(d: TwoFactorServiceDeps) {
    this.#repo = d.repo;
    this.#enforcement = d.enforcement;
    this.#box = d.box;
    this.#throttle = d.throttle;
    this.#audit = d.audit;
    this.#groupsOf = d.groupsOf;
    this.#issuer = d.issuer ?? 'Coffer';
    this.#now = d.now ?? Date.now;
  }

  /** Whether TOTP is on for `uid`. */
  async isEnabled(uid: string): Promise<boolean> {
    return (await this.#repo.getTotp(uid))?.enabled === true;
  }

  /** Whether the admin's enforcement covers `uid`. */
  async isEnforcedFor(uid: string): Promise<boolean> {
    const s = await this.#enforcement.get();
    return s.enforced && TwoFactorEnforcement.applies(s, await this.#groupsOf(uid));
  }

  /**
   * Whether a login of `uid` needs a second factor: they enrolled, or enforcement covers them (then
   * they must set it up before the web UI lets them in, and clients need an app password — as in
   * Nextcloud).
   */
  async requiresSecondFactor(uid: string): Promise<boolean> {
    return (await this.isEnabled(uid)) || (await this.isEnforcedFor(uid));
  }

  async state(uid: string): Promise<TwoFactorState> {
    const t = await this.#repo.getTotp(uid);
    return { totp: t?.enabled === true, totpPending: t !== undefined && !t.enabled, backupCodes: await this.#repo.countBackupCodes(uid), enforced: await this.isEnforcedFor(uid) };
  }

  /**
   * Starts TOTP enrolment of `uid`: a new secret (replacing an unverified one). It counts only once
   * `confirmTotp` has seen a code from it.
   * @returns the secret (base32, for manual entry) and the otpauth:// URI (for the QR code); show, never log
   * @throws ConflictError when TOTP is already enabled (disable it first)
   */
  async beginTotp(uid: string): Promise<{ secret: string; uri: string }> {
    const secret = newTotpSecret();
    if (!(await this.#repo.putPendingTotp(uid, this.#box.seal(secret, uid), Math.floor(this.#now() / 1000)))) {
      throw new ConflictError('Two-factor authentication (TOTP) is already enabled');
    }
    return { secret, uri: totpUri(secret, uid, this.#issuer) };
  }

  /**
   * The pending (unverified) secret of `uid`, to show again after a mistyped first code.
   * @returns undefined when no enrolment is pending
   */
  async pendingTotp(uid: string): Promise<{ secret: string; uri: string } | undefined> {
    const row = await this.#repo.getTotp(uid);
    if (!row || row.enabled) return undefined;
    const secret = this.#box.open(row.secretSealed, uid);
    return { secret, uri: totpUri(secret, uid, this.#issuer) };
  }

  /**
   * Verifies a first code from the pending secret and enables TOTP.
   * @throws ConflictError when no enrolment is pending; AuthenticationError for a wrong code;
   *   ThrottledError after too many wrong codes or passwords
   */
  async confirmTotp(uid: string, code: string, ip: string): Promise<void> {
    const attempt = await this.#begin(uid, ip, 'two-factor-setup');
    const row = await this.#repo.getTotp(uid);
    if (!row || row.enabled) {
      await attempt.abandon();
      throw new ConflictError('No two-factor setup is pending: start again');
    }
    const step = matchTotp(this.#box.open(row.secretSealed, uid), normaliseCode(code), this.#now());
    if (step === undefined || !(await this.#repo.enableTotp(uid, step))) await this.#fail(uid, ip, 'two-factor-setup');
    await attempt.succeed();
    await this.#audit.record('twofactor.enabled', { uid, ip, provider: 'totp' });
  }

  /**
   * The second login step: a TOTP code (each time step once) or an unused backup code.
   * @returns which provider the code belonged to
   * @throws AuthenticationError for a wrong, replayed or used code (counted by the throttle);
   *   ThrottledError after too many failures
   */
  async verifyChallenge(uid: string, code: string, ip: string): Promise<TwoFactorProvider> {
    const attempt = await this.#begin(uid, ip, 'two-factor');
    const c = normaliseCode(typeof code === 'string' ? code.slice(0, 64) : '');
    let provider: TwoFactorProvider | undefined;
    if (/^\d{6}$/.test(c)) {
      const row = await this.#repo.getTotp(uid);
      const step = row?.enabled ? matchTotp(this.#box.open(row.secretSealed, uid), c, this.#now()) : undefined;
      if (step !== undefined && await this.#repo.useStep(uid, step)) provider = 'totp';
    } else if (c.length === BACKUP_LENGTH && await this.isEnabled(uid)) {
      if (await this.#repo.useBackupCode(uid, hashBackupCode(c), Math.floor(this.#now() / 1000))) provider = 'backup_codes';
    }
    if (!provider) await this.#fail(uid, ip, 'two-factor');
    await attempt.succeed();
    await this.#audit.record('twofactor.success', { uid, ip, provider });
    return provider!;
  }

  /**
   * A new set of backup codes for `uid` (the old ones stop working).
   * @returns the codes: show them once, they are stored only hashed
   * @throws ConflictError when TOTP is not enabled (backup codes back up a second factor)
   */
  async generateBackupCodes(uid: string): Promise<string[]> {
    if (!(await this.isEnabled(uid))) throw new ConflictError('Enable two-factor authentication first');
    const codes: string[] = [];
    for (let i = 0; i < BACKUP_CODE_COUNT; i++) {
      let s = '';
      for (let j = 0; j < BACKUP_LENGTH; j++) s += BACKUP_ALPHABET[randomInt(BACKUP_ALPHABET.length)];
      codes.push(s);
    }
    await this.#repo.replaceBackupCodes(uid, codes.map(hashBackupCode), Math.floor(this.#now() / 1000));
    await this.#audit.record('twofactor.backup_codes_generated', { uid });
    return codes;
  }

  /**
   * Turns off one provider of `uid`, or all of them (an admin's `twofactorauth:disable`, the user in
   * settings, user deletion). Without TOTP the backup codes are of no use, so they go with it.
   * @returns the providers that were on and are now off
   * @throws ValidationError for an unknown provider id
   */
  async disable(uid: string, provider?: string): Promise<TwoFactorProvider[]> {
    if (provider !== undefined && !TWO_FACTOR_PROVIDERS.includes(provider as TwoFactorProvider)) throw new ValidationError(`Unknown two-factor provider: ${provider}`);
    const off: TwoFactorProvider[] = [];
    if (provider === undefined || provider === 'totp') {
      if (await this.#repo.deleteTotp(uid)) off.push('totp');
    }
    if (provider === undefined || provider === 'totp' || provider === 'backup_codes') {
      if (await this.#repo.deleteBackupCodes(uid)) off.push('backup_codes');
    }
    if (off.length) await this.#audit.record('twofactor.disabled', { uid, providers: off });
    return off;
  }

  /** Who must use a second factor. */
  enforcement(): Promise<EnforcementState> { return this.#enforcement.get(); }

  /** Sets who must use a second factor. */
  async setEnforcement(s: EnforcementState): Promise<void> {
    await this.#enforcement.set(s);
    await this.#audit.record('twofactor.enforcement', { enforced: s.enforced, groups: s.enforcedGroups, excluded: s.excludedGroups });
  }

  /** A code check is a counted attempt (reserved before the check, as a password is: docs/BRUTEFORCE.md). */
  async #begin(uid: string, ip: string, method: string): Promise<LoginAttempt> {
    try {
      return await this.#throttle.begin({ ip, uid });
    } catch (err) {
      if (err instanceof ThrottledError) await this.#audit.loginThrottled({ uid, ip, method, retryAfter: err.retryAfterSeconds });
      throw err;
    }
  }

  /** A wrong code: its attempt stays counted as the failure. */
  async #fail(uid: string, ip: string, method: string): Promise<never> {
    await this.#audit.loginFailure({ uid, ip, method, reason: 'wrong-code' });
    throw new AuthenticationError('Wrong or already used code');
  }
}
