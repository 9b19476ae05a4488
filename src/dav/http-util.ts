import type { IncomingMessage } from 'node:http';
import { ValidationError } from '../errors.ts';
import type { FileNode, WriteOptions } from '../files/types.ts';
import { clampMtime, parseMtime } from '../files/mtime.ts';

/** A single header value (the first when repeated). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The quoted etag DAV sends (`"abc"`). */
export function quotedEtag(node: Pick<FileNode, 'etag'>): string {
  return `"${node.etag}"`;
}

/** `oc:id` / `OC-FileId`: fileid zero-padded to 8 digits + the instance id. */
export function ocId(fileId: number, instanceId: string): string {
  return `${String(fileId).padStart(8, '0')}${instanceId}`;
}

/** RFC 1123 date of a seconds timestamp. */
export function httpDate(seconds: number): string {
  // clamped: a row stored before mtimes were bounded must not render as "Invalid Date"
  return new Date(clampMtime(seconds) * 1000).toUTCString();
}

/**
 * Parses an If-Match / If-None-Match list into unquoted etags ('*' stays '*'; weak `W/` prefixes dropped).
 * Returns undefined when the header is absent.
 */
export function parseEtagList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (v === '*') return ['*'];
  const out: string[] = [];
  const re = /\s*(?:W\/)?(?:"([^"]*)"|([^,\s]+))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < v.length && (m = re.exec(v)) !== null) {
    out.push(m[1] ?? m[2]!);
    if (m[0] === '') break;
  }
  return out;
}

/** Whether `etag` (unquoted) is in the list ('*' matches anything). */
export function etagMatches(list: string[], etag: string): boolean {
  return list.includes('*') || list.includes(etag);
}

/** Parses an HTTP date header into seconds, or undefined when absent or invalid. */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * Parses `X-OC-Mtime` (seconds, possibly fractional).
 * @throws ValidationError when present but not a number.
 */
export function parseOcMtime(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  return parseMtime(value, 'X-OC-Mtime');
}

/** Depth header: '0' | '1' | 'infinity', or undefined when absent. @throws ValidationError for other values. */
export function parseDepth(req: IncomingMessage): 0 | 1 | 'infinity' | undefined {
  const v = header(req, 'depth');
  if (v === undefined) return undefined;
  const t = v.trim().toLowerCase();
  if (t === '0') return 0;
  if (t === '1') return 1;
  if (t === 'infinity') return 'infinity';
  throw new ValidationError('Invalid Depth header');
}

/** Overwrite header: true unless 'F'. @throws ValidationError for values other than T/F. */
export function parseOverwrite(req: IncomingMessage): boolean {
  const v = header(req, 'overwrite');
  if (v === undefined) return true;
  const t = v.trim().toUpperCase();
  if (t === 'T') return true;
  if (t === 'F') return false;
  throw new ValidationError('Invalid Overwrite header');
}

/** Whether the request announces a body (non-zero Content-Length or chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const len = header(req, 'content-length');
  if (len !== undefined) return Number(len) > 0;
  return header(req, 'transfer-encoding') !== undefined;
}

/** Discards whatever is left of a request body (so a keep-alive connection stays usable). */
export function drain(req: IncomingMessage): void {
  if (!req.complete && !req.destroyed) req.resume();
}

/** An inclusive byte range. */
export interface ParsedRange { start: number; end: number }

/**
 * Interprets a Range header against a size. Returns undefined to serve the whole body (absent,
 * malformed, multiple ranges), 'unsatisfiable' for 416, or one inclusive range.
 */
export function parseRange(value: string | undefined, size: number): ParsedRange | 'unsatisfiable' | undefined {
  if (!value) return undefined;
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(value);
  if (!m) return undefined;
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length !== 1) return undefined;
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(specs[0]!);
  if (!r || (r[1] === '' && r[2] === '')) return undefined;
  if (r[1] === '') {
    const n = Number(r[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
  if (r[2] !== '' && Number(r[2]) < start) return undefined; // syntactically invalid: ignore
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * The write options a PUT or a chunked upload's final MOVE carries: X-OC-Mtime, OC-Checksum,
 * If-Match and If-None-Match.
 * @throws ValidationError for a malformed header
 */
export function writeOptionsFromHeaders(req: IncomingMessage): WriteOptions {
  return writeOptionsFrom((name) => header(req, name));
}

/** A header lookup by lower-case name: a request's, or a bulk upload part's. */
export type HeaderGetter = (name: string) => string | undefined;

/** writeOptionsFromHeaders over any header lookup. @throws ValidationError for a malformed header */
export function writeOptionsFrom(get: HeaderGetter): WriteOptions {
  const opts: WriteOptions = {};
  const mtime = parseOcMtime(get('x-oc-mtime'));
  if (mtime !== undefined) opts.mtime = mtime;
  const checksum = get('oc-checksum');
  if (checksum) opts.checksum = checksum.trim();
  const ifMatch = parseEtagList(get('if-match'));
  if (ifMatch) opts.ifMatch = ifMatch;
  const ifNoneMatch = parseEtagList(get('if-none-match'));
  if (ifNoneMatch) opts.ifNoneMatch = ifNoneMatch;
  return opts;
}
