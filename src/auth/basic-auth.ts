/** Credentials from an `Authorization: Basic …` header. */
export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

/**
 * Parses `Basic base64(user:password)` (UTF-8). Returns undefined when there is no header or it
 * uses another scheme; `null` when it is a Basic header that cannot be parsed.
 */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined | null {
  if (header === undefined) return undefined;
  const m = /^\s*Basic\s+([A-Za-z0-9+/=_-]*)\s*$/i.exec(header);
  if (!m) return /^\s*Basic\b/i.test(header) ? null : undefined;
  if (m[1].length > 8192) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  const user = decoded.slice(0, i);
  const password = decoded.slice(i + 1);
  if (user === '' || user.includes('\0') || password.includes('\0')) return null;
  return { user, password };
}

/** The `WWW-Authenticate` value Nextcloud sends with a 401. */
export const BASIC_CHALLENGE = 'Basic realm="Nextcloud", charset="UTF-8"';
