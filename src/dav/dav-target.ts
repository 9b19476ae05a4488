import type { IncomingMessage } from 'node:http';
import { AppError, ForbiddenError, ValidationError } from '../errors.ts';
import type { ResolvedPath } from '../sharing/share-resolver.ts';
import { assertValidName } from '../files/paths.ts';

/** What a DAV request addresses in a user's files tree. */
export interface DavTarget {
  /** Owner of the tree. */
  uid: string;
  /** Path relative to the user's root (no leading/trailing slash, '' = root, NFC). */
  path: string;
  /** URL path prefix up to the user root, e.g. '/remote.php/dav/files/alice' (percent-encoded, no trailing slash). */
  hrefBase: string;
  /**
   * Set when the request path lies in a received share: `uid`/`path` then name the owner's tree,
   * `viewPath` the path the user addressed, `share` the resolution (permissions, mount point).
   */
  share?: ResolvedPath;
  viewPath?: string;
}

/** The Destination header names another server (RFC 4918 §9.8.5: 502). */
export class BadGatewayError extends AppError {
  constructor(message = 'Destination is on another server') { super('bad-gateway', message); }
}

/** Prefix of the per-user files trees (`<prefix><uid>/…`). */
export const DAV_FILES_PREFIX = '/remote.php/dav/files/';
/** Legacy alias of the authenticated user's files tree. */
export const WEBDAV_PREFIX = '/remote.php/webdav';

const UNRESERVED = /^[A-Za-z0-9._~-]*$/;

/** Percent-encodes one path segment (everything but RFC 3986 unreserved characters). */
export function encodeSegment(s: string): string {
  if (UNRESERVED.test(s)) return s;
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Percent-encodes a relative path segment by segment. */
export function encodePath(path: string): string {
  return path === '' ? '' : path.split('/').map(encodeSegment).join('/');
}

/** Absolute href of `path` in the target's tree; collections end in '/'. */
export function href(target: Pick<DavTarget, 'hrefBase'>, path: string, isDir: boolean): string {
  if (path === '') return `${target.hrefBase}/`;
  return `${target.hrefBase}/${encodePath(path)}${isDir ? '/' : ''}`;
}

/** hrefBase of a user's tree under /remote.php/dav/files/. */
export function filesHrefBase(uid: string): string {
  return `${DAV_FILES_PREFIX}${encodeSegment(uid)}`;
}

const FORBIDDEN_ENCODED = /%(2f|5c|00)/i;

/**
 * Decodes one raw segment into a valid name (files/paths.ts assertValidName: not blank, not even a
 * lone BOM, no control characters), so that the DAV layer itself refuses what the files layer would.
 * @throws ValidationError for bad escapes, '.', '..', and every name assertValidName refuses.
 */
export function decodeSegment(raw: string): string {
  if (FORBIDDEN_ENCODED.test(raw)) throw new ValidationError('Encoded slash, backslash or NUL in path');
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    throw new ValidationError('Malformed percent-encoding in path');
  }
  if (s === '.' || s === '..') throw new ValidationError('Path traversal is not allowed');
  const name = s.normalize('NFC');
  assertValidName(name); // also '/', NUL and other control characters, blank names, over 255 bytes
  return name;
}

/**
 * Decodes a raw (percent-encoded) path below a user root into the canonical relative path:
 * per-segment `decodeURIComponent` ('+' stays '+'), empty segments dropped, NFC.
 * @throws ValidationError for '.', '..' (raw or encoded), '%2F'/'%5C' inside a segment, NUL, bad escapes.
 */
export function decodeRelPath(raw: string): string {
  if (raw.includes('\0')) throw new ValidationError('NUL in path');
  const out: string[] = [];
  for (const seg of raw.split('/')) {
    if (seg === '') continue;
    out.push(decodeSegment(seg));
  }
  return out.join('/');
}

/**
 * Resolves a raw request path (no query) to a files-tree target for `authUid`:
 * `/remote.php/dav/files/<uid>/…` (uid must be the authenticated user) or `/remote.php/webdav/…`.
 * Returns undefined when the path is not a files-tree path.
 * @throws ForbiddenError for another user's tree; ValidationError for a bad path.
 */
export function resolveFilesTarget(rawPath: string, authUid: string): DavTarget | undefined {
  if (rawPath === WEBDAV_PREFIX || rawPath.startsWith(`${WEBDAV_PREFIX}/`)) {
    return { uid: authUid, hrefBase: WEBDAV_PREFIX, path: decodeRelPath(rawPath.slice(WEBDAV_PREFIX.length)) };
  }
  if (rawPath.startsWith(DAV_FILES_PREFIX)) {
    const rest = rawPath.slice(DAV_FILES_PREFIX.length);
    const slash = rest.indexOf('/');
    const rawUid = slash < 0 ? rest : rest.slice(0, slash);
    if (rawUid === '') return undefined;
    const uid = decodeSegment(rawUid);
    if (uid !== authUid) throw new ForbiddenError('Not your files');
    return { uid, hrefBase: filesHrefBase(uid), path: decodeRelPath(slash < 0 ? '' : rest.slice(slash)) };
  }
  return undefined;
}

const ABSOLUTE_URL = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/i;

/**
 * Resolves a `Destination` header (absolute URL or bare path) to a target in `authUid`'s files tree.
 * @throws ValidationError (400) when missing or malformed or not a files path; BadGatewayError (502)
 *   when it names another host; ForbiddenError (403) when it is another user's tree.
 */
export function resolveDestination(req: IncomingMessage, authUid: string): DavTarget {
  const target = resolveFilesTarget(destinationRawPath(req), authUid);
  if (!target) throw new ValidationError('Destination is not in a files tree');
  return target;
}

/**
 * The raw (still percent-encoded) path of a `Destination` header: an absolute URL on this host, or
 * a bare path. @throws ValidationError (400) when missing or malformed; BadGatewayError (502) for
 * another host.
 */
export function destinationRawPath(req: IncomingMessage): string {
  const header = req.headers.destination;
  if (typeof header !== 'string' || header === '') throw new ValidationError('Missing Destination header');
  const m = ABSOLUTE_URL.exec(header);
  if (m) {
    const scheme = m[1]!.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') throw new BadGatewayError();
    const authority = m[2]!.replace(/^[^@]*@/, '').toLowerCase();
    const host = (req.headers.host ?? '').toLowerCase();
    if (authority !== host && !sameHostDefaultPort(authority, host, scheme)) throw new BadGatewayError();
    return m[3] || '/';
  }
  if (header.startsWith('/')) return header.split(/[?#]/, 1)[0]!;
  throw new ValidationError('Destination must be an absolute URL or path');
}

function sameHostDefaultPort(a: string, b: string, scheme: string): boolean {
  const port = scheme === 'https' ? ':443' : ':80';
  const strip = (h: string) => (h.endsWith(port) ? h.slice(0, -port.length) : h);
  return strip(a) === strip(b);
}
