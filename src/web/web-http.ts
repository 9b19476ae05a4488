import type { IncomingMessage, ServerResponse } from 'node:http';
import { readSmallBody } from '../http/request-body.ts';
import { AppError, BLOB_MISSING_MESSAGE, BlobMissingError, INTEGRITY_FAILED_MESSAGE, STORAGE_UNAVAILABLE_MESSAGE, StorageUnavailableError, ThrottledError, ValidationError, classifyDiskFull } from '../errors.ts';
import { auditIntegrityFailure, isIntegrityFailure } from '../audit/integrity-audit.ts';
import type { HttpContext } from '../http/context.ts';
import { safeRedirectTarget } from './redirect-target.ts';

export { safeRedirectTarget } from './redirect-target.ts';

/** Content-Security-Policy of every web UI page: nothing but this origin, no framing. */
export const PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Sets the security headers every web UI response carries. */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

/** Sends a JSON body with no caching. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body), 'utf8');
  res.statusCode = status;
  setSecurityHeaders(res);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', data.length);
  res.end(data);
}

/** Sends an HTML page (never cached). */
export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  const data = Buffer.from(html, 'utf8');
  res.statusCode = status;
  setSecurityHeaders(res);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', data.length);
  res.end(data);
}

/** 303 See Other to a local path (anything that would leave this origin goes to `/` instead). */
export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.statusCode = 303;
  setSecurityHeaders(res);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Location', safeRedirectTarget(location));
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escapes text for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Reads a small request body (JSON object or urlencoded form) into a string map.
 * @throws TooLargeError over `limit`; ValidationError for malformed JSON
 */
export async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const text = (await readSmallBody(req, limit)).toString('utf8');
  if (text.trim() === '') return {};
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/json')) {
    let v: unknown;
    try { v = JSON.parse(text); } catch { throw new ValidationError('Malformed JSON'); }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('Expected a JSON object');
    return v as Record<string, unknown>;
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/** A string field of a parsed body. @throws ValidationError when missing and required */
export function str(body: Record<string, unknown>, key: string, required = true): string {
  const v = body[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (required) throw new ValidationError(`Missing ${key}`);
  return '';
}

const STATUS: Record<string, number> = {
  'not-found': 404, 'already-exists': 409, conflict: 409, 'precondition-failed': 412, locked: 423,
  'quota-exceeded': 507, invalid: 400, unauthenticated: 401, forbidden: 403, throttled: 429,
  'too-large': 413, 'not-supported': 501, 'storage-unavailable': 503, 'storage-full': 507, csrf: 403,
};

/** HTTP status of a typed error (500 for anything else). */
export function statusOf(err: unknown): number {
  if (err instanceof AppError) {
    if (STATUS[err.code]) return STATUS[err.code]!;
    const n = err.name;
    if (n === 'ValidationError') return 400;
    if (n === 'AuthenticationError') return 401;
    if (n === 'QuotaExceededError') return 507;
    return 500;
  }
  return 500;
}

/** Sends a typed error as `{error:{code,message}}`; unexpected errors are logged and hidden. */
export function sendError(res: ServerResponse, ctx: HttpContext, thrown: unknown): void {
  const err = classifyDiskFull(thrown);
  const status = statusOf(err);
  if (isIntegrityFailure(err)) {
    // also when the download already started: the connection is cut, the failure still recorded
    ctx.log.error({ err, path: ctx.rawPath }, 'web api error: integrity failure');
    auditIntegrityFailure(ctx.app.audit, err, { path: ctx.rawPath, reqId: ctx.reqId });
  }
  if (res.headersSent) { res.destroy(); return; }
  if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  if (status === 503) res.setHeader('Retry-After', '120'); // as the DAV adapter answers
  if (err instanceof AppError && err.code === 'storage-full') ctx.log.error({ err }, 'web api error: disk full');
  if (isIntegrityFailure(err)) {
    sendJson(res, 500, { error: { code: err.code, message: err instanceof BlobMissingError ? BLOB_MISSING_MESSAGE : INTEGRITY_FAILED_MESSAGE } });
    return;
  }
  if (err instanceof StorageUnavailableError) {
    // the message names the bucket and endpoint: the log gets it, the browser gets Nextcloud's words
    ctx.log.error({ err }, 'web api error');
    sendJson(res, status, { error: { code: err.code, message: STORAGE_UNAVAILABLE_MESSAGE } });
    return;
  }
  if (status >= 500 && status !== 503 && status !== 507 && status !== 501) {
    ctx.log.error({ err }, 'web api error');
    sendJson(res, status, { error: { code: 'internal', message: 'Internal error' } });
    return;
  }
  const e = err as AppError;
  sendJson(res, status, { error: { code: e.code, message: e.message } });
}
