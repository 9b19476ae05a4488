import { ValidationError } from '../errors.ts';

/**
 * Reading a column of Nextcloud's database the same way on every engine. openNcDatabase hands rows
 * over with text for text (blobs decoded, JSON and date-times as the text the database holds), but
 * the drivers differ underneath (pg: bigint and numeric as strings; better-sqlite3: numbers; a Date
 * or a parsed JSON value if a driver is set up otherwise), so the readers accept each form.
 */

/** An integer column (bigint arrives as a string from pg); null/empty → 0. */
export function ncInt(v: unknown): number {
  if (v === null || v === undefined || v === '') return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number(v);
}

/** A text column (a JSON value a driver parsed is serialized again); null → ''. */
export function ncText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A date-time column (`oc_share.expiration`, …) as Unix seconds; null when unset (NULL, '', or
 * MySQL's zero date). Nextcloud writes them as `Y-m-d H:i:s` in PHP's default timezone, which it
 * sets to UTC at boot (lib/base.php), and reads them back the same way: a value without a zone is
 * UTC, whatever the database server's or this process's timezone. A value with an offset
 * (timestamptz) counts with it; a Date counts as the instant it is.
 * @throws ValidationError for a value that is no date-time (never guessed: an expiry read wrong
 *   would lengthen or cut a share's life)
 */
export function ncDateTime(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new ValidationError('unreadable date-time in the Nextcloud database (an invalid date)');
    return Math.floor(v.getTime() / 1000);
  }
  const text = ncText(v).trim();
  if (/^0000-00-00/.test(text)) return null;
  const m = DATE_TIME.exec(text);
  if (!m) throw new ValidationError(`unreadable date-time "${text}" in the Nextcloud database`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (!Number.isFinite(ms) || check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1) {
    throw new ValidationError(`unreadable date-time "${text}" in the Nextcloud database`);
  }
  if (zone && zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const offset = (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60_000;
    ms -= z[1] === '+' ? offset : -offset;
  }
  return Math.floor(ms / 1000);
}
