import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import { AuthenticationError, ThrottledError } from '../errors.ts';
import type { AppPasswordService } from './app-password-service.ts';
import { looksLikeAppPassword } from './app-password-service.ts';
import { parseBasicAuth } from './basic-auth.ts';
import type { Throttler } from './throttler.ts';
import type { AuthenticatedUser, UserRecord } from './types.ts';
import type { UserService } from './user-service.ts';

export interface AuthenticatorDeps {
  users: UserService;
  appPasswords: AppPasswordService;
  throttle: Throttler;
  audit: AuditLog;
  /** How long a verified credential is remembered (default 5 min). */
  cacheTtlMs?: number;
  /** Most cached credentials (default 10,000). */
  cacheMax?: number;
  /**
   * Called after every successful password / app-password login with the presented secret
   * (per-user-key mode unlocks the user's private key with it). Must not throw.
   */
  onLogin?: (uid: string, via: 'password' | 'app-password', secret: string) => Promise<void>;
  /**
   * Two-factor state: a user who needs a second factor never gets in with the login password
   * alone (clients then need an app password), unless the caller runs the second step itself.
   */
  secondFactor?: { requiresSecondFactor(uid: string): Promise<boolean> };
}

interface CacheEntry {
  uid: string;
  via: 'password' | 'app-password';
  /** The PHC string that verified the password: a changed password (in any process) misses. */
  passwordHash?: string;
  appPasswordId?: number;
  expires: number;
}

/**
 * Checks credentials on every login path (HTTP Basic with the login password or an app password,
 * and the web form through `authenticatePassword`), with brute-force throttling (Throttler,
 * docs/BRUTEFORCE.md) and audit entries.
 * Verified credentials are cached for a few minutes under SHA-256(per-process salt ‖ uid ‖ password)
 * because sync clients authenticate every request and argon2id is deliberately slow; a cache hit
 * still re-reads the user row (disabled users and changed passwords take effect at once, also from
 * other processes) and, for app passwords, checks the token was not revoked.
 */
export class Authenticator {
  readonly #users: UserService;
  readonly #appPasswords: AppPasswordService;
  readonly #throttle: Throttler;
  readonly #audit: AuditLog;
  readonly #ttl: number;
  readonly #max: number;
  readonly #onLogin: AuthenticatorDeps['onLogin'];
  readonly #secondFactor: AuthenticatorDeps['secondFactor'];
  readonly #salt = randomBytes(32);
  readonly #cache = new Map<string, CacheEntry>();
  /** Password checks in progress, by credential and client (see authenticatePassword). */
  readonly #inflight = new Map<string, Promise<{ user: UserRecord }>>();

  constructor(deps: AuthenticatorDeps) {
    this.#users = deps.users;
    this.#appPasswords = deps.appPasswords;
    this.#throttle = deps.throttle;
    this.#audit = deps.audit;
    this.#ttl = deps.cacheTtlMs ?? 5 * 60_000;
    this.#max = deps.cacheMax ?? 10_000;
    this.#onLogin = deps.onLogin;
    this.#secondFactor = deps.secondFactor;
  }

  /**
   * Authenticates an `Authorization` header (Basic; login password or app password).
   * @throws AuthenticationError (401) when missing, malformed or wrong
   * @throws ThrottledError (429) when this client's attempt budget is used up
   */
  async authenticateBasic(authorizationHeader: string | undefined, ip: string): Promise<AuthenticatedUser> {
    const creds = parseBasicAuth(authorizationHeader);
    if (creds === undefined) throw new AuthenticationError('No credentials');
    if (creds === null) {
      // Counted like a wrong password (the reservation stays as the failure).
      await this.#throttle.begin({ ip }).catch((e) => this.#onThrottled(e, ip, undefined, 'basic'));
      await this.#audit.loginFailure({ ip, method: 'basic', reason: 'malformed' });
      throw new AuthenticationError('Malformed credentials');
    }
    return this.authenticatePassword(creds.user, creds.password, ip, { method: 'basic' });
  }

  /**
   * Authenticates a login name and password (login password, or an app password unless
   * `allowAppPassword` is false — the web login form accepts only the login password).
   * Order (docs/BRUTEFORCE.md): a valid app password is accepted before any throttling; a login
   * password is counted as an attempt first (atomically), then checked. `deviceToken` is the
   * client's known-device token, if it has one.
   * The login password of a user who needs a second factor is refused (as a wrong password: no
   * oracle for the password or the enrolment) unless `firstFactorOnly` says the caller asks for the
   * second factor next (web login) or acts for a session that already passed it.
   * @throws AuthenticationError; ThrottledError
   */
  async authenticatePassword(loginName: string, password: string, ip: string,
    opts: { method?: string; allowAppPassword?: boolean; deviceToken?: string; firstFactorOnly?: boolean } = {}): Promise<AuthenticatedUser> {
    const method = opts.method ?? 'password';
    const allowApp = opts.allowAppPassword ?? true;
    const uid = loginName;
    const subject = { ip, uid, deviceToken: opts.deviceToken };
    const key = this.#cacheKey(uid, password);
    const hit = this.#cache.get(key);

    // App passwords are 72 random characters: guessing them is hopeless, so a valid one is never
    // throttled, whatever others did from this address or to this account.
    if (allowApp && hit && hit.via === 'app-password' && hit.expires > Date.now()) {
      const user = await this.#revalidate(hit);
      if (user) {
        await this.#onLogin?.(user.uid, hit.via, password);
        return this.#toAuthenticated(user, hit.via, password, hit.appPasswordId);
      }
      this.#cache.delete(key);
    }
    if (allowApp && looksLikeAppPassword(password)) {
      const realUid = await this.#users.resolveLoginName(uid);
      const id = realUid === undefined ? undefined : await this.#appPasswords.find(realUid, password);
      if (realUid !== undefined && id !== undefined) {
        const user = await this.#users.get(realUid).catch(() => undefined);
        if (user?.enabled) {
          this.#remember(key, { uid: user.uid, via: 'app-password', appPasswordId: id });
          await this.#audit.loginSuccess({ uid: user.uid, ip, method: `${method}+app-password` });
          await this.#onLogin?.(user.uid, 'app-password', password);
          return this.#toAuthenticated(user, 'app-password', password, id);
        }
      }
    }

    // A cached login password is known right, so nothing is guessed; it is still admitted as any
    // attempt of this client would be, or a throttled guesser would tell a right guess by its answer.
    if (hit && hit.via === 'password' && hit.expires > Date.now()) {
      const { known } = await this.#throttle.admit(subject).catch((e) => this.#onThrottled(e, ip, uid, method));
      const user = await this.#revalidate(hit);
      // The login password of a user who now needs a second factor: the full check below refuses
      // it, at a wrong password's cost (a fast refusal would confirm the password).
      const recheck = user !== undefined && await this.#needsSecondFactor(user.uid, opts.firstFactorOnly);
      if (user && !recheck) {
        if (!known) await this.#throttle.markKnown(ip, uid);
        await this.#onLogin?.(user.uid, hit.via, password);
        return this.#toAuthenticated(user, hit.via, password);
      }
      this.#cache.delete(key);
    }

    // Counted before the check: parallel guesses each take a slot, and those beyond the budget
    // are refused unchecked. The same credential from the same client already being checked is
    // one guess, not another: it joins that check (a sync client's parallel first requests).
    const flight = createHash('sha256').update(key).update('\0').update(ip).update('\0').update(opts.deviceToken ?? '').update(opts.firstFactorOnly ? '\u00011' : '\u00010').digest('hex');
    let p = this.#inflight.get(flight);
    if (!p) {
      p = this.#checkPassword(key, password, subject, method, opts.firstFactorOnly);
      this.#inflight.set(flight, p);
      const done = () => { this.#inflight.delete(flight); };
      p.then(done, done);
    }
    const { user } = await p;
    await this.#onLogin?.(user.uid, 'password', password);
    return this.#toAuthenticated(user, 'password', password);
  }

  /** One counted attempt: reserve, verify, then release (right) or keep as a failure (wrong). */
  async #checkPassword(key: string, password: string, subject: { ip: string; uid: string; deviceToken?: string }, method: string, firstFactorOnly?: boolean): Promise<{ user: UserRecord }> {
    const { ip, uid } = subject;
    const attempt = await this.#throttle.begin(subject).catch((e) => this.#onThrottled(e, ip, uid, method));
    let user: UserRecord;
    let passwordHash: string;
    try {
      ({ user, passwordHash } = await this.#users.verifyPasswordWithHash(uid, password));
    } catch (err) {
      if (!(err instanceof AuthenticationError)) { await attempt.abandon().catch(() => {}); throw err; }
      await this.#needsSecondFactor(uid, firstFactorOnly).catch(() => false); // the work of a refusal below: no timing oracle
      await this.#audit.loginFailure({ uid, ip, method });
      throw err;
    }
    // The right password alone for a user who needs a second factor: counted (the attempt stays a
    // failure) and answered exactly like a wrong password, so neither the password nor the
    // enrolment can be learnt from it.
    if (await this.#needsSecondFactor(user.uid, firstFactorOnly)) {
      await this.#audit.loginFailure({ uid, ip, method, reason: 'second-factor-required' });
      throw new AuthenticationError();
    }
    await attempt.succeed();
    // Logins that go on to a second step are not cached: a cached password would answer a later guess faster.
    if (!firstFactorOnly) this.#remember(key, { uid: user.uid, via: 'password', passwordHash });
    await this.#audit.loginSuccess({ uid: user.uid, ip, method });
    return { user };
  }

  /** Whether a login password alone is not enough for `uid` here (they need a second factor the caller does not ask for). */
  async #needsSecondFactor(uid: string, firstFactorOnly: boolean | undefined): Promise<boolean> {
    return !firstFactorOnly && this.#secondFactor !== undefined && await this.#secondFactor.requiresSecondFactor(uid);
  }

  /** Forgets cached credentials of `uid` (after a password change, app-password revocation, deletion). */
  invalidateUser(uid: string): void {
    for (const [k, e] of this.#cache) if (e.uid === uid) this.#cache.delete(k);
  }

  /** Forgets everything cached. */
  clearCache(): void { this.#cache.clear(); }

  async #revalidate(e: CacheEntry): Promise<UserRecord | undefined> {
    const found = await this.#users.getWithHash(e.uid).catch(() => undefined);
    if (!found || !found.user.enabled) return undefined;
    if (e.via === 'password') return found.passwordHash === e.passwordHash ? found.user : undefined;
    return (await this.#appPasswords.stillValid(e.uid, e.appPasswordId!)) ? found.user : undefined;
  }

  #remember(key: string, e: Omit<CacheEntry, 'expires'>): void {
    if (this.#cache.size >= this.#max) {
      const now = Date.now();
      for (const [k, v] of this.#cache) if (v.expires <= now) this.#cache.delete(k);
      while (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.delete(key);
    this.#cache.set(key, { ...e, expires: Date.now() + this.#ttl });
  }

  #cacheKey(uid: string, password: string): string {
    return createHash('sha256').update(this.#salt).update(uid, 'utf8').update('\0').update(password, 'utf8').digest('hex');
  }

  async #onThrottled(err: unknown, ip: string, uid: string | undefined, method: string): Promise<never> {
    if (err instanceof ThrottledError) await this.#audit.loginThrottled({ uid, ip, method, retryAfter: err.retryAfterSeconds });
    throw err;
  }

  #toAuthenticated(u: UserRecord, via: 'password' | 'app-password', password: string, appPasswordId?: number): AuthenticatedUser {
    return via === 'password'
      ? { uid: u.uid, displayName: u.displayName, isAdmin: u.isAdmin, via, loginPassword: password }
      : { uid: u.uid, displayName: u.displayName, isAdmin: u.isAdmin, via, appPasswordId };
  }
}
