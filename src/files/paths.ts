import { ValidationError } from '../errors.ts';

/**
 * Canonical form of a path inside a user's tree: segments joined by '/', no leading or trailing
 * slash, '' for the root, each segment NFC-normalised (macOS clients send NFD).
 * @throws ValidationError for '.', '..', NUL or control characters, '\\', or a segment over 255 bytes.
 */
export function normalizePath(p: string): string {
  if (p === '' || p === '/') return '';
  const out: string[] = [];
  for (const raw of p.split('/')) {
    if (raw === '') continue;
    const seg = raw.normalize('NFC');
    assertValidName(seg);
    out.push(seg);
  }
  return out.join('/');
}

/**
 * @throws ValidationError when `name` cannot be a file or folder name.
 */
export function assertValidName(name: string): void {
  if (name === '.' || name === '..') throw new ValidationError(`invalid name "${name}"`);
  if (name.includes('/')) throw new ValidationError('a name cannot contain "/"');
  // Nextcloud's fixed forbidden characters are '/' and '\\'; the DAV adapter refuses '%5C' in
  // paths, so a name with a backslash would be listed with an href no request could use.
  if (name.includes('\\')) throw new ValidationError('a name cannot contain "\\"');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new ValidationError('a name cannot contain control characters');
  if (Buffer.byteLength(name) > 255) throw new ValidationError('a name is limited to 255 bytes');
  if (name.trim() === '') throw new ValidationError('a name cannot be blank');
}

/** Parent of a canonical path ('' for top-level entries). Not defined for the root. */
export function parentPath(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** Last segment of a canonical path. */
export function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Joins canonical paths. */
export function joinPath(a: string, b: string): string {
  if (a === '') return b;
  if (b === '') return a;
  return `${a}/${b}`;
}

/** Every ancestor of `p`, root first, not including `p` itself. */
export function ancestorsOf(p: string): string[] {
  if (p === '') return [];
  const out = [''];
  let i = p.indexOf('/');
  while (i >= 0) {
    out.push(p.slice(0, i));
    i = p.indexOf('/', i + 1);
  }
  return out;
}

/** True when `inner` is `outer` or lies below it. */
export function isSameOrInside(inner: string, outer: string): boolean {
  return outer === '' || inner === outer || inner.startsWith(outer + '/');
}
