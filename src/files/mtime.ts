import { ValidationError } from '../errors.ts';

/**
 * Modification times: the one validator every path that takes an mtime goes through (X-OC-Mtime
 * on PUT, MKCOL and chunked-upload MOVE, PROPPATCH getlastmodified, the web API), and the bounds
 * every renderer can rely on. Seconds since the epoch, whole.
 */

/** The epoch: earlier times are refused (as by Nextcloud). */
export const MIN_MTIME = 0;
/**
 * 9999-12-31T23:59:59Z: the last second an HTTP date (four-digit year) can say. Beyond it listings
 * showed "Invalid Date" (past JavaScript's Date range) and zip entries got garbage dates.
 */
export const MAX_MTIME = 253_402_300_799;

/**
 * Checks an mtime that is already a number.
 * @returns the value
 * @throws ValidationError naming `what` when it is not a whole number of seconds within the bounds.
 */
export function assertValidMtime(mtime: number, what = 'modification time'): number {
  if (!Number.isSafeInteger(mtime) || mtime < MIN_MTIME || mtime > MAX_MTIME) {
    throw new ValidationError(`Invalid ${what}: expected whole seconds since 1970 up to ${MAX_MTIME} (9999-12-31)`);
  }
  return mtime;
}

/**
 * Parses an mtime sent as decimal seconds (`1700000000`, or with a fraction, which is cut off, as
 * clients such as rclone send).
 * @throws ValidationError naming `what` for anything else, or a value out of bounds.
 */
export function parseMtime(text: string, what = 'modification time'): number {
  const t = text.trim();
  if (!/^\d{1,15}(\.\d{1,9})?$/.test(t)) throw new ValidationError(`Invalid ${what}: expected seconds since 1970`);
  return assertValidMtime(Math.floor(Number(t)), what);
}

/**
 * Parses an mtime sent as seconds or as a date (HTTP date or ISO 8601; PROPPATCH getlastmodified).
 * @throws ValidationError naming `what` for an unparsable or out-of-bounds value.
 */
export function parseMtimeOrDate(text: string, what = 'modification time'): number {
  const t = text.trim();
  if (/^\d/.test(t) && !/[-:T ]/.test(t)) return parseMtime(t, what);
  const ms = Date.parse(t);
  if (!Number.isFinite(ms)) throw new ValidationError(`Invalid ${what}: not a date`);
  return assertValidMtime(Math.floor(ms / 1000), what);
}

/** `mtime` brought within the bounds (for rendering rows stored before the bounds were enforced). */
export function clampMtime(mtime: number): number {
  return Number.isFinite(mtime) ? Math.min(MAX_MTIME, Math.max(MIN_MTIME, Math.floor(mtime))) : MIN_MTIME;
}
