import { createHash } from 'node:crypto';
import { AddressRanges, unmapAddress } from '../config/address-range.ts';
import { ThrottledError } from '../errors.ts';
import type { DeviceTokens } from './device-token.ts';
import type { ThrottleStore } from './throttle-store.ts';

export interface ThrottleOptions {
  /** Delay after the first counted failure; it doubles with every further one. */
  baseDelayMs: number;
  /** Cap of the delay (Nextcloud: 25 s). */
  maxDelayMs: number;
  /** Failures are counted over this sliding window. */
  windowMs: number;
  /** Attempts from one address (IPv6: its /64) by unknown clients within the window before 429. */
  maxIpAttempts: number;
  /** Attempts of one known client (device token, or address with a recent success) for one user. */
  maxClientAttempts: number;
  /** How long an address stays known for a user after a successful login from it. */
  knownClientMs: number;
  /** Address ranges (CIDR) that are never throttled. */
  allowlist: readonly string[];
}

export const DEFAULT_THROTTLE: ThrottleOptions = Object.freeze({
  baseDelayMs: 200,
  maxDelayMs: 25_000,
  windowMs: 30 * 60_000,
  maxIpAttempts: 10,
  maxClientAttempts: 10,
  knownClientMs: 30 * 86_400_000,
  allowlist: [],
});

/** Who is trying to log in: the client address, the login name (if any), a device token (if any). */
export interface LoginSubject {
  ip: string;
  uid?: string;
  deviceToken?: string;
}

/** One admitted attempt, counted before its check; tell it how the check ended. */
export interface LoginAttempt {
  /** Delay applied before the check, in ms. */
  readonly delayMs: number;
  /** Whether the client counted as known for this user (own budget, no penalty from others). */
  readonly known: boolean;
  /** The credential was right: the attempt is not a failure; earlier typos from here are forgotten. */
  succeed(): Promise<void>;
  /** The check could not run (e.g. the database failed): the attempt is not counted. */
  abandon(): Promise<void>;
}

/** What `./occ security:bruteforce:attempts` shows for an address. */
export interface AddressStatus {
  address: string;
  allowlisted: boolean;
  attempts: number;
  /** Delay the next login attempt of an unknown client from there waits, in ms. */
  delayMs: number;
  /** Seconds until an unknown client from there may try again (0 = not blocked). */
  blockedForSeconds: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Normalises a client address for throttling: IPv4-mapped IPv6 becomes IPv4, IPv6 is cut to its /64
 * (one customer usually holds a whole /64, as Nextcloud assumes).
 */
export function throttleAddress(ip: string): string {
  const a = unmapAddress(ip);
  if (!a.includes(':')) return a;
  const zoneless = a.toLowerCase();
  const [head, tail = ''] = zoneless.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = zoneless.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

/**
 * Brute-force protection for every password and token check (docs/BRUTEFORCE.md). Each attempt is
 * reserved in the store atomically *before* its check (`begin`), so parallel guesses cannot
 * outrun the count; a right credential releases its reservation (`succeed`).
 *
 * Components: a known client (a valid device token of that user, or an address with a recent
 * success for that user) is counted only against its own budget and never pays for anyone
 * else's failures; an unknown client is counted per address (hard limit → 429: password
 * spraying) and per account (a delay that grows to `maxDelayMs`, never a refusal, so an attacker
 * cannot lock the owner out). Allow-listed ranges are never throttled. Valid app passwords and
 * sessions are accepted before any of this (Authenticator).
 */
export class Throttler {
  readonly #store: ThrottleStore;
  readonly opts: ThrottleOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #devices: DeviceTokens | undefined;
  readonly #allow: AddressRanges;

  /** @throws Error when an allow-list entry is not an address or CIDR range */
  constructor(store: ThrottleStore, opts: Partial<ThrottleOptions> = {},
    env: { now?: () => number; sleep?: (ms: number) => Promise<void>; devices?: DeviceTokens } = {}) {
    this.#store = store;
    this.opts = Object.freeze({ ...DEFAULT_THROTTLE, ...opts });
    this.#now = env.now ?? Date.now;
    this.#sleep = env.sleep ?? sleep;
    this.#devices = env.devices;
    this.#allow = new AddressRanges(this.opts.allowlist);
  }

  /** Delay in ms before checking a credential after `failures` counted failures. */
  delayFor(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  /** Whether `ip` is in the allow-list (never throttled). */
  isAllowlisted(ip: string): boolean {
    return this.#allow.has(ip);
  }

  /**
   * Counts an attempt before its check and waits as long as the counts demand.
   * @returns the attempt; call `succeed()` when the credential was right, nothing when wrong
   * @throws ThrottledError (with retryAfterSeconds) when this client's budget is used up;
   *   the store's error when it is unreachable (fail closed)
   */
  async begin(s: LoginSubject): Promise<LoginAttempt> {
    if (this.#allow.has(s.ip)) return { delayMs: 0, known: false, succeed: async () => {}, abandon: async () => {} };
    const now = this.#now();
    const addr = throttleAddress(s.ip);
    const acct = s.uid ? accountId(s.uid) : '';
    const client = s.uid ? await this.#knownClient(s.uid, addr, s.deviceToken, now) : undefined;
    const held: [string, string][] = [];
    const take = async (key: string, tag: string, max: number): Promise<number> => {
      const r = await this.#store.reserve(key, tag, now, this.opts.windowMs, max);
      if (!r.admitted) throw this.#throttled(r.freeAt ?? now + this.opts.windowMs, now);
      held.push([key, r.id!]);
      return r.count;
    };
    let count: number;
    if (client) {
      count = await take(clientKey(acct, client), addr, this.opts.maxClientAttempts);
    } else {
      count = await take(ipKey(addr), acct, this.opts.maxIpAttempts);
      if (acct) count = Math.max(count, await take(userKey(acct), addr, 0));
    }
    const delay = this.delayFor(count);
    if (delay > 0) await this.#sleep(delay);
    const release = async () => { for (const [k, id] of held) await this.#store.release(k, id); };
    return {
      delayMs: delay,
      known: client !== undefined,
      succeed: async () => {
        await release();
        if (acct) await this.#succeeded(addr, acct, client);
      },
      abandon: release,
    };
  }

  /**
   * Runs another secret check (e.g. the recovery key password) as one counted attempt: reserved
   * before `check` runs, released when it passes, kept as a failure when it throws an error that
   * `isWrong` recognises (any other error abandons the attempt).
   * @throws ThrottledError before `check` runs; whatever `check` throws
   */
  async guard<T>(s: LoginSubject, check: () => Promise<T>, isWrong: (err: unknown) => boolean): Promise<T> {
    const attempt = await this.begin(s);
    let r: T;
    try {
      r = await check();
    } catch (err) {
      if (!isWrong(err)) await attempt.abandon().catch(() => {});
      throw err;
    }
    await attempt.succeed();
    return r;
  }

  /**
   * For a credential already known to be right (the verified-credential cache): admits it as
   * `begin` would, without counting (nothing is guessed), so a throttled client cannot learn a
   * right guess from a different answer.
   * @returns the delay applied and whether the client was known
   * @throws ThrottledError; the store's error
   */
  async admit(s: LoginSubject): Promise<{ delayMs: number; known: boolean }> {
    if (this.#allow.has(s.ip)) return { delayMs: 0, known: true };
    const now = this.#now();
    const since = now - this.opts.windowMs;
    const addr = throttleAddress(s.ip);
    const acct = s.uid ? accountId(s.uid) : '';
    const client = s.uid ? await this.#knownClient(s.uid, addr, s.deviceToken, now) : undefined;
    const look = async (key: string, max: number): Promise<number> => {
      const t = await this.#store.peek(key, since, this.opts.windowMs, max);
      if (t.freeAt !== undefined) throw this.#throttled(t.freeAt, now);
      return t.count;
    };
    let count = client ? await look(clientKey(acct, client), this.opts.maxClientAttempts) : await look(ipKey(addr), this.opts.maxIpAttempts);
    if (!client && acct) count = Math.max(count, await look(userKey(acct), 0));
    const delay = this.delayFor(count);
    if (delay > 0) await this.#sleep(delay);
    return { delayMs: delay, known: client !== undefined };
  }

  /** Marks `ip` as a known client of `uid` (after a right credential that did not go through begin). */
  async markKnown(ip: string, uid: string): Promise<void> {
    if (this.#allow.has(ip)) return;
    await this.#store.mark(knownKey(accountId(uid), throttleAddress(ip)), this.#now(), this.opts.knownClientMs);
  }

  /** Records a failed attempt from `ip` against `uid` (empty when no user name was given), unconditionally. */
  async registerFailure(ip: string, uid = ''): Promise<void> {
    const now = this.#now();
    const addr = throttleAddress(ip);
    const acct = uid ? accountId(uid) : '';
    await this.#store.reserve(ipKey(addr), acct, now, this.opts.windowMs, 0);
    if (acct) await this.#store.reserve(userKey(acct), addr, now, this.opts.windowMs, 0);
  }

  /** Forgets the failures of `uid` from `ip` (typos before the right password); others stay. */
  async registerSuccess(ip: string, uid: string): Promise<void> {
    const addr = throttleAddress(ip);
    const acct = accountId(uid);
    await this.#store.removeTag(ipKey(addr), acct);
    if (acct) await this.#store.removeTag(userKey(acct), addr);
  }

  /** Counted attempts in the window: of an address (unknown clients) or against an account. */
  async attempts(of: { ip: string } | { uid: string }): Promise<number> {
    const key = 'ip' in of ? ipKey(throttleAddress(of.ip)) : userKey(accountId(of.uid));
    return (await this.#store.peek(key, this.#now() - this.opts.windowMs, this.opts.windowMs, 0)).count;
  }

  /** What an unknown client from `ip` faces now (`./occ security:bruteforce:attempts`). */
  async addressStatus(ip: string): Promise<AddressStatus> {
    const now = this.#now();
    const address = throttleAddress(ip);
    const t = await this.#store.peek(ipKey(address), now - this.opts.windowMs, this.opts.windowMs, this.opts.maxIpAttempts);
    return {
      address, allowlisted: this.#allow.has(ip), attempts: t.count, delayMs: this.delayFor(t.count),
      blockedForSeconds: t.freeAt !== undefined && t.freeAt > now ? Math.ceil((t.freeAt - now) / 1000) : 0,
    };
  }

  /** Forgets every counted attempt of `ip` (`./occ security:bruteforce:reset`). */
  async resetAddress(ip: string): Promise<void> {
    await this.#store.clear(ipKey(throttleAddress(ip)));
  }

  async #knownClient(uid: string, addr: string, deviceToken: string | undefined, now: number): Promise<string | undefined> {
    const device = this.#devices?.verify(deviceToken, uid, now);
    if (device) return `d:${device}`;
    return (await this.#store.marked(knownKey(accountId(uid), addr), now)) ? `a:${addr}` : undefined;
  }

  async #succeeded(addr: string, acct: string, client: string | undefined): Promise<void> {
    await this.#store.removeTag(ipKey(addr), acct);
    await this.#store.removeTag(userKey(acct), addr);
    if (client) await this.#store.clear(clientKey(acct, client));
    await this.#store.mark(knownKey(acct, addr), this.#now(), this.opts.knownClientMs);
  }

  #throttled(freeAt: number, now: number): ThrottledError {
    return new ThrottledError(Math.max(1, Math.ceil((freeAt - now) / 1000)));
  }
}

/**
 * A login name as a key part: lower case, URI-encoded (no ':' inside keys), and hashed when long
 * (a Basic header may carry any user name; keys and tags stay short).
 */
function accountId(uid: string): string {
  const enc = encodeURIComponent(uid.toLowerCase());
  return enc.length <= 64 ? enc : 'h.' + createHash('sha256').update(enc).digest('hex').slice(0, 40);
}

function ipKey(addr: string): string { return 'ip:' + addr; }
function userKey(acct: string): string { return 'user:' + acct; }
function clientKey(acct: string, client: string): string { return `client:${acct}:${client}`; }
function knownKey(acct: string, addr: string): string { return `known:${acct}:${addr}`; }
