import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a device token stays valid after the successful login that issued it. */
export const DEVICE_TOKEN_DAYS = 180;

/**
 * Signed "known device" tokens (OWASP's device cookie): issued after a successful web login, they
 * let that browser log in as that user with its own attempt budget, whatever an attacker does to
 * the account's or the address's counters. Format `v1.<device id>.<expiry s>.<mac>`, the MAC an
 * HMAC-SHA256 under a key derived from the instance secret over version, user, device and expiry:
 * the user id is bound but not readable in the cookie; a token of another user never matches.
 */
export class DeviceTokens {
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#key = createHmac('sha256', secret).update('coffer known device v1').digest();
  }

  /** A fresh token for `uid` (a new device id). */
  issue(uid: string, nowMs = Date.now()): string {
    const device = randomBytes(12).toString('base64url');
    const exp = Math.floor(nowMs / 1000) + DEVICE_TOKEN_DAYS * 86_400;
    return `v1.${device}.${exp}.${this.#mac(uid, device, exp)}`;
  }

  /**
   * The device id when `token` is a valid, unexpired token of `uid` (compared in constant time).
   * @returns undefined for anything else (malformed, expired, another user's, forged)
   */
  verify(token: string | undefined, uid: string, nowMs = Date.now()): string | undefined {
    if (!token || token.length > 200) return undefined;
    const m = /^v1\.([A-Za-z0-9_-]{16})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return undefined;
    const exp = Number(m[2]);
    if (exp * 1000 <= nowMs) return undefined;
    const want = Buffer.from(this.#mac(uid, m[1], exp));
    const got = Buffer.from(m[3]);
    return got.length === want.length && timingSafeEqual(got, want) ? m[1] : undefined;
  }

  #mac(uid: string, device: string, exp: number): string {
    return createHmac('sha256', this.#key).update(`v1|${uid.toLowerCase()}|${device}|${exp}`).digest('base64url');
  }
}
