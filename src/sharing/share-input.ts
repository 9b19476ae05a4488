import { ValidationError } from '../errors.ts';

const MAX_NOTE = 4000;
const MAX_LABEL = 255;

/**
 * Parses an expiration date (`YYYY-MM-DD`, or an ISO date-time whose date part counts) into the
 * instant the share ends: the end of that day (UTC), so a link "expiring on" a day works that day.
 * @throws ValidationError for anything else
 */
export function parseExpireDate(v: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(v.trim());
  if (!m) throw new ValidationError('Invalid date, date format must be YYYY-MM-DD');
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(ms);
  if (!Number.isFinite(ms) || d.getUTCDate() !== Number(m[3]) || d.getUTCMonth() !== Number(m[2]) - 1) {
    throw new ValidationError('Invalid date, date format must be YYYY-MM-DD');
  }
  return ms / 1000 + 86_400;
}

/** parseExpireDate for a new expiration: the day must not be over at `now` (seconds). @throws ValidationError */
export function parseFutureExpireDate(v: string, now: number): number {
  const t = parseExpireDate(v);
  if (t <= now) throw new ValidationError('Expiration date is in the past');
  return t;
}

/** The `YYYY-MM-DD` a stored expiration instant stands for (the inverse of parseExpireDate). */
export function expirationDay(instant: number): string {
  return new Date((instant - 86_400) * 1000).toISOString().slice(0, 10);
}

/**
 * A share's note, checked.
 * @throws ValidationError when longer than 4000 characters
 */
export function checkNote(v: string): string {
  return checkText(v, MAX_NOTE, 'note');
}

/**
 * A share's label, checked.
 * @throws ValidationError when longer than 255 characters
 */
export function checkLabel(v: string): string {
  return checkText(v, MAX_LABEL, 'label');
}

function checkText(v: string, max: number, what: string): string {
  if (v.length > max) throw new ValidationError(`The ${what} is too long`);
  return v;
}
