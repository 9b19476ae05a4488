import type { IncomingMessage } from 'node:http';
import { CsrfError } from '../errors.ts';

/** Methods that change nothing (a CORS preflight included). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the request carries Nextcloud's `OCS-APIREQUEST: true`. */
export function isOcsApiRequest(req: IncomingMessage): boolean {
  const h = req.headers['ocs-apirequest'];
  return String(Array.isArray(h) ? h[0] : h ?? '').trim().toLowerCase() === 'true';
}

/**
 * CSRF protection of the whole OCS API, whatever the authentication: a state-changing request
 * must carry `OCS-APIREQUEST: true`. A browser sends cached Basic credentials and cookies with any
 * cross-site form post, but a custom header only after a CORS preflight, which Coffer never grants.
 * (Cookie sessions additionally count only with the header: OcsCall.user.) `changesState` marks
 * the rare GET that changes state (core/getapppassword).
 * @throws CsrfError (nothing read, nothing changed)
 */
export function assertOcsCsrfSafe(req: IncomingMessage, changesState = !SAFE_METHODS.has(req.method ?? 'GET')): void {
  if (changesState && !isOcsApiRequest(req)) {
    throw new CsrfError('CSRF check failed: state-changing OCS requests need the header OCS-APIREQUEST: true');
  }
}
