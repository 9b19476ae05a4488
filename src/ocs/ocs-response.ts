import type { ServerResponse } from 'node:http';
import { BASIC_CHALLENGE } from '../auth/basic-auth.ts';
import { AppError, ThrottledError, classifyDiskFull } from '../errors.ts';
import { renderOcs, type OcsFormat, type OcsMeta } from './ocs-format.ts';

/** Which OCS API a request came through: `/ocs/v1.php` or `/ocs/v2.php`. */
export type OcsVersion = 1 | 2;

/** OCS status for "not authorised" (both versions; HTTP 401). */
export const OCS_UNAUTHORISED = 997;
/** OCS v1 status for "not found" (HTTP 200 on v1, 404 on v2). */
export const OCS_NOT_FOUND = 998;

/**
 * An OCS-level failure with an explicit status: an HTTP-like status (400, 403, 404, …) or an
 * OCS-specific one (101, 102, … below 200: HTTP 400 on v2).
 */
export class OcsError extends Error {
  readonly status: number;
  constructor(status: number, message = '') { super(message); this.status = status; }
}

/** How a result is rendered for one request. */
export interface OcsTarget {
  readonly version: OcsVersion;
  readonly format: OcsFormat;
}

/**
 * Sends a successful OCS answer (v1 statuscode 100, v2 200; HTTP 200).
 */
export function sendOcsData(res: ServerResponse, t: OcsTarget, data: unknown, extra: { totalitems?: string; itemsperpage?: string } = {}): void {
  const meta: OcsMeta = t.version === 1
    ? { status: 'ok', statuscode: 100, message: 'OK', totalitems: extra.totalitems ?? '', itemsperpage: extra.itemsperpage ?? '' }
    : { status: 'ok', statuscode: 200, message: 'OK' };
  write(res, t, 200, meta, data);
}

/**
 * Sends an OCS failure with `status` (an HTTP-like or OCS code) as Nextcloud maps it:
 * v1 — meta statuscode 997 for 401 (HTTP 401), 998 for 404, else the code; HTTP 200 otherwise.
 * v2 — meta statuscode the code (997 for 401); HTTP the code, 400 for codes outside 200–599.
 * 412, 429 and 503 are real HTTP statuses on both versions (CSRF refusal, throttling, maintenance).
 */
export function sendOcsFailure(res: ServerResponse, t: OcsTarget, status: number, message: string): void {
  let statuscode = status;
  let http: number;
  if (status === 401 || status === OCS_UNAUTHORISED) {
    statuscode = OCS_UNAUTHORISED;
    http = 401;
    res.setHeader('WWW-Authenticate', BASIC_CHALLENGE);
  } else if (t.version === 1) {
    if (status === 404) statuscode = OCS_NOT_FOUND;
    // a CSRF refusal (412, as Nextcloud) is a real HTTP status too: nothing was done
    http = status === 412 || status === 429 || status === 503 || status >= 500 && status < 600 ? status : 200;
  } else {
    if (status === OCS_NOT_FOUND) { statuscode = 404; }
    http = statuscode >= 200 && statuscode < 600 ? statuscode : 400;
  }
  const meta: OcsMeta = t.version === 1
    ? { status: 'failure', statuscode, message, totalitems: '', itemsperpage: '' }
    : { status: 'failure', statuscode, message };
  write(res, t, http, meta, []);
}

/** Maps AppError codes to OCS statuses. */
const CODE_STATUS: Record<string, number> = {
  'unauthenticated': 401,
  'forbidden': 403,
  'not-found': 404,
  'invalid': 400,
  'already-exists': 409,
  'conflict': 409,
  'too-large': 413,
  'throttled': 429,
  'csrf': 412,
  'not-supported': 501,
  'quota-exceeded': 507,
  'storage-full': 507,
};

/**
 * Renders any thrown value as an OCS failure; returns false when it is not an expected error
 * (the caller then lets the server's 500 path log it).
 */
export function sendOcsException(res: ServerResponse, t: OcsTarget, thrown: unknown): boolean {
  if (res.headersSent) return false;
  const err = classifyDiskFull(thrown);
  if (err instanceof OcsError) { sendOcsFailure(res, t, err.status, err.message); return true; }
  if (!(err instanceof AppError)) return false;
  const status = CODE_STATUS[err.code];
  if (status === undefined) return false;
  if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  sendOcsFailure(res, t, status, status === 401 ? 'Current user is not logged in' : err.message);
  return true;
}

function write(res: ServerResponse, t: OcsTarget, http: number, meta: OcsMeta, data: unknown): void {
  const body = renderOcs(t.format, meta, data);
  res.statusCode = http;
  res.setHeader('Content-Type', t.format === 'json' ? 'application/json; charset=utf-8' : 'text/xml; charset=UTF-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.end(body);
}
