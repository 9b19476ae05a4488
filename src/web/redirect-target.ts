/** Stand-in origin to resolve a target against: only what stays on it is same-origin. */
const SELF = 'http://coffer.invalid';

/**
 * A redirect target that stays on this origin, as the path (`/p?q#h`) to put in `Location`, or
 * `fallback`. The candidate is resolved against the origin like a browser would and must stay on it:
 * control and white-space characters (browsers drop tabs and newlines, so `/%09/evil.example` would
 * become `//evil.example`) and backslashes (read as `/`) are refused outright; so are schemes,
 * `//host`, and anything that resolves to a path starting with `//` (`/.//evil.example`).
 */
export function safeRedirectTarget(v: string | null | undefined, fallback = '/'): string {
  if (typeof v !== 'string' || v === '' || v.length > 2048) return fallback;
  if (/[\s\\\p{Cc}\p{Cf}]/u.test(v) || !v.startsWith('/')) return fallback;
  let u: URL;
  try { u = new URL(v, SELF); } catch { return fallback; }
  if (u.origin !== SELF || u.pathname.startsWith('//')) return fallback;
  return `${u.pathname}${u.search}${u.hash}`;
}
