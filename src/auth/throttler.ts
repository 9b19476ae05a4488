import { ThrottledError } from '../errors.ts';
import type { ThrottleStore } from './throttle-store.ts';

export interface ThrottleOptions {
  /** Delay after the first failure; it doubles with every further failure. */
  baseDelayMs: number;
  /** Cap of the delay (Nextcloud: 25 s). */
  maxDelayMs: number;
  /** Failures are counted over this sliding window. */
  windowMs: number;
  /** Failures from one IP (or IPv6 /64) within the window before requests get 429. */
  maxIpAttempts: number;
  /** Failures against one user within the window before requests get 429. */
  maxUserAttempts: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = Object.freeze({
  baseDelayMs: 200,
  maxDelayMs: 25_000,
  windowMs: 30 * 60_000,
  maxIpAttempts: 10,
  maxUserAttempts: 20,
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Normalises a client address for throttling: IPv4-mapped IPv6 becomes IPv4, IPv6 is cut to its /64
 * (one customer usually holds a whole /64, as Nextcloud assumes).
 */
export function throttleAddress(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return v4[1];
  if (!ip.includes(':')) return ip;
  const zoneless = ip.split('%')[0].toLowerCase();
  const [head, tail = ''] = zoneless.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = zoneless.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

/**
 * Brute-force protection for every login path. Each failure is recorded twice: under the client
 * address (tagged with the attempted uid) and under the uid (tagged with the address). Before a
 * credential is checked, `check` sleeps `base × 2^(n-1)` (capped) for n recent failures, and throws
 * ThrottledError once n reaches the limit. A successful login forgets only the failures of that
 * same user from that same address — an attacker who owns one account cannot wipe the record of
 * guessing other users' passwords by logging into their own.
 */
export class Throttler {
  readonly #store: ThrottleStore;
  readonly opts: ThrottleOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(store: ThrottleStore, opts: Partial<ThrottleOptions> = {}, clock: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {}) {
    this.#store = store;
    this.opts = Object.freeze({ ...DEFAULT_THROTTLE, ...opts });
    this.#now = clock.now ?? Date.now;
    this.#sleep = clock.sleep ?? sleep;
  }

  /** Delay in ms before checking a credential after `failures` recent failures. */
  delayFor(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  /**
   * Waits as long as the recent failures of this address and/or user demand.
   * @returns the delay applied, in ms
   * @throws ThrottledError (with retryAfterSeconds) when the failure limit is reached
   */
  async check(subject: { ip?: string; uid?: string }): Promise<number> {
    const now = this.#now();
    const since = now - this.opts.windowMs;
    let failures = 0;
    let retryAt = 0;
    const consider = async (key: string, max: number) => {
      const ts = await this.#store.timestamps(key, since);
      failures = Math.max(failures, ts.length);
      if (ts.length >= max) retryAt = Math.max(retryAt, ts[ts.length - max] + this.opts.windowMs);
    };
    if (subject.ip !== undefined) await consider(ipKey(subject.ip), this.opts.maxIpAttempts);
    if (subject.uid !== undefined && subject.uid !== '') await consider(userKey(subject.uid), this.opts.maxUserAttempts);
    if (retryAt > now) throw new ThrottledError(Math.max(1, Math.ceil((retryAt - now) / 1000)));
    const delay = this.delayFor(failures);
    if (delay > 0) await this.#sleep(delay);
    return delay;
  }

  /** Records a failed attempt from `ip` against `uid` (empty when no user name was given). */
  async registerFailure(ip: string, uid = ''): Promise<void> {
    const now = this.#now();
    const tag = uid.toLowerCase();
    await this.#store.add(ipKey(ip), tag, now, this.opts.windowMs);
    if (tag !== '') await this.#store.add(userKey(uid), throttleAddress(ip), now, this.opts.windowMs);
  }

  /** Forgets the failures of `uid` from `ip` (typos before the right password); others stay. */
  async registerSuccess(ip: string, uid: string): Promise<void> {
    await this.#store.removeTag(ipKey(ip), uid.toLowerCase());
    await this.#store.removeTag(userKey(uid), throttleAddress(ip));
  }
}

function ipKey(ip: string): string { return 'ip:' + throttleAddress(ip); }
function userKey(uid: string): string { return 'user:' + uid.toLowerCase(); }
