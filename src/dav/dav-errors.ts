import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, BLOB_MISSING_MESSAGE, BlobMissingError, INTEGRITY_FAILED_MESSAGE, STORAGE_UNAVAILABLE_MESSAGE, StorageUnavailableError, ThrottledError, classifyDiskFull } from '../errors.ts';
import { auditIntegrityFailure, isIntegrityFailure } from '../audit/integrity-audit.ts';
import type { HttpContext } from '../http/context.ts';
import { davErrorBody } from './xml-writer.ts';
import { drain } from './http-util.ts';

/** An error that carries its HTTP status directly (protocol-level failures inside the DAV adapter). */
export class DavStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly exception = 'Sabre\\DAV\\Exception',
    readonly extraXml = '',
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const BY_CODE: Record<string, { status: number; exception: string }> = {
  'not-found': { status: 404, exception: 'Sabre\\DAV\\Exception\\NotFound' },
  'already-exists': { status: 405, exception: 'Sabre\\DAV\\Exception\\MethodNotAllowed' },
  conflict: { status: 409, exception: 'Sabre\\DAV\\Exception\\Conflict' },
  'precondition-failed': { status: 412, exception: 'Sabre\\DAV\\Exception\\PreconditionFailed' },
  locked: { status: 423, exception: 'Sabre\\DAV\\Exception\\Locked' },
  'quota-exceeded': { status: 507, exception: 'Sabre\\DAV\\Exception\\InsufficientStorage' },
  'storage-full': { status: 507, exception: 'Sabre\\DAV\\Exception\\InsufficientStorage' },
  invalid: { status: 400, exception: 'Sabre\\DAV\\Exception\\BadRequest' },
  unauthenticated: { status: 401, exception: 'Sabre\\DAV\\Exception\\NotAuthenticated' },
  forbidden: { status: 403, exception: 'Sabre\\DAV\\Exception\\Forbidden' },
  throttled: { status: 429, exception: 'Sabre\\DAV\\Exception\\TooManyRequests' },
  'too-large': { status: 413, exception: 'Sabre\\DAV\\Exception\\RequestEntityTooLarge' },
  crypto: { status: 500, exception: 'Sabre\\DAV\\Exception' },
  'blob-missing': { status: 500, exception: 'Sabre\\DAV\\Exception' },
  // as Nextcloud answers StorageNotAvailableException: clients retry later instead of failing the file
  'storage-unavailable': { status: 503, exception: 'Sabre\\DAV\\Exception\\ServiceUnavailable' },
  'not-supported': { status: 501, exception: 'Sabre\\DAV\\Exception\\NotImplemented' },
  'bad-gateway': { status: 502, exception: 'Sabre\\DAV\\Exception\\BadGateway' },
};

/** What the client is told: the messages of server-side failures name blobs, buckets and endpoints. */
function clientMessage(err: AppError): string {
  if (err.code === 'crypto') return INTEGRITY_FAILED_MESSAGE;
  if (err instanceof BlobMissingError) return BLOB_MISSING_MESSAGE;
  if (err instanceof StorageUnavailableError) return STORAGE_UNAVAILABLE_MESSAGE;
  return err.message;
}

/** The 401 challenge Nextcloud clients expect. */
export const BASIC_CHALLENGE = 'Basic realm="Nextcloud", charset="UTF-8"';

/** HTTP status for an error in the DAV adapter (`method` decides already-exists: 412 for COPY/MOVE). */
export function statusFor(err: unknown, method: string): number {
  if (err instanceof DavStatusError) return err.status;
  if (err instanceof AppError) {
    if (err.code === 'already-exists' && (method === 'COPY' || method === 'MOVE')) return 412;
    return BY_CODE[err.code]?.status ?? 500;
  }
  return 500;
}

/**
 * Answers a failed DAV request with a Sabre-style error body, or destroys the socket when the
 * headers are already out (never serve wrong or truncated bytes as if complete).
 * Integrity failures (CryptoError, BlobMissingError) are logged and audited; unknown errors
 * become a generic 500.
 */
export function sendDavError(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, thrown: unknown): void {
  const err = classifyDiskFull(thrown);
  const method = req.method ?? 'GET';
  const status = statusFor(err, method);
  const clientGone = res.destroyed || req.destroyed;
  const code = err instanceof AppError ? err.code : undefined;
  const integrity = isIntegrityFailure(err);
  // A server-side failure (storage down, say) is logged even when the request stream is gone: the
  // store destroys its source when it gives up, so a gone request does not mean a gone client.
  const serverFault = status >= 500 && (code !== undefined || !clientGone);
  if (integrity || serverFault) ctx.log.error({ err, method, path: ctx.rawPath }, 'dav request failed');
  else ctx.log.debug({ code: (err as AppError).code, msg: (err as Error).message }, 'dav request refused');
  if (integrity) auditIntegrityFailure(ctx.app.audit, err, { path: ctx.rawPath, method, reqId: ctx.reqId });
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  let exception = 'Sabre\\DAV\\Exception';
  let message = 'Internal error';
  let extra = '';
  if (err instanceof DavStatusError) {
    exception = err.exception; message = err.message; extra = err.extraXml;
  } else if (err instanceof AppError) {
    exception = status === 412 ? 'Sabre\\DAV\\Exception\\PreconditionFailed' : BY_CODE[err.code]?.exception ?? exception;
    message = clientMessage(err);
  }
  for (const h of res.getHeaderNames()) if (h !== 'x-request-id') res.removeHeader(h);
  res.statusCode = status;
  if (status === 401) res.setHeader('WWW-Authenticate', BASIC_CHALLENGE);
  if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  if (status === 503) res.setHeader('Retry-After', '120');
  if (err instanceof DavStatusError) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  const body = davErrorBody(exception, message, extra);
  res.setHeader('Content-Type', 'application/xml; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  drain(req);
  res.end(method === 'HEAD' ? undefined : body);
}
