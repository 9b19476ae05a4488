import { parseExpireDate } from '../sharing/share-input.ts';

/**
 * The day a Nextcloud share expires on, as its users saw it (`YYYY-MM-DD`). Nextcloud stores the
 * midnight that starts the chosen day in the timezone of the user who set it (ShareAPIController
 * parseDate, Share20\Manager; the user's `core/timezone` preference, else config.php's
 * `default_timezone`, else UTC), and shows that day back in that timezone. An unknown timezone
 * counts as UTC, as Nextcloud does.
 */
export function ncExpiryDay(instant: number, timeZone: string): string {
  const fmt = (tz: string) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant * 1000);
  try {
    return fmt(timeZone);
  } catch {
    return fmt('UTC');
  }
}

/**
 * Coffer's expiration for a Nextcloud one (Unix seconds → Unix seconds): the same day, as Coffer
 * stores a day (the end of it, parseExpireDate), so every client shows the date Nextcloud showed.
 * Nextcloud ends a share as that day starts, Coffer as it ends: the link works one day longer
 * (the day it says it expires on), as every link made in Coffer does.
 */
export function importedExpiration(instant: number, timeZone: string): number {
  return parseExpireDate(ncExpiryDay(instant, timeZone));
}
