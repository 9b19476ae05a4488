import { timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';

/** RFC 6238 parameters every authenticator app understands (and Nextcloud's twofactor_totp uses). */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of now (clock drift of the phone): ±30 s. */
export const TOTP_WINDOW = 1;

/** A new random TOTP secret (160 bits, RFC 4226's recommendation), base32. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/…` URI an authenticator app reads from the QR code. */
export function totpUri(secretBase32: string, account: string, issuer: string): string {
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS }).toString();
}

/** The time step of a moment (ms since epoch). */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of one time step. */
export function totpCode(secretBase32: string, step: number): string {
  return HOTP.generate({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: TOTP_DIGITS, counter: step });
}

/**
 * The time step within ±TOTP_WINDOW of `nowMs` whose code is `code`, or undefined. Every candidate
 * is compared, in constant time, so the answer's timing says nothing about which one matched.
 * The caller refuses steps at or before the last one used (replay).
 */
export function matchTotp(secretBase32: string, code: string, nowMs: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const given = Buffer.from(code, 'latin1');
  const now = totpStep(nowMs);
  let found: number | undefined;
  for (let step = now - TOTP_WINDOW; step <= now + TOTP_WINDOW; step++) {
    const ok = timingSafeEqual(Buffer.from(totpCode(secretBase32, step), 'latin1'), given);
    if (ok && found === undefined) found = step;
  }
  return found;
}
