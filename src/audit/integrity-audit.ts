import { BlobMissingError, CryptoError } from '../errors.ts';
import type { AuditLog } from './audit-log.ts';

/** Errors already recorded: a public-link DAV request, say, passes through two adapters. */
const recorded = new WeakSet<Error>();

/** Stored data is damaged or gone: audited, answered 500, never retried. */
export function isIntegrityFailure(err: unknown): err is CryptoError | BlobMissingError {
  return err instanceof CryptoError || err instanceof BlobMissingError;
}

/**
 * Records an integrity failure as one `integrity.failure` audit entry, however many layers see
 * the error: `where` says where it surfaced (path, method, request id, source), the error says
 * what failed (reason, blob, file, owner). Never throws: the audit must not mask the failure.
 */
export function auditIntegrityFailure(audit: AuditLog | undefined, err: CryptoError | BlobMissingError, where: Record<string, unknown>): void {
  if (!audit || recorded.has(err)) return;
  recorded.add(err);
  const reason = err instanceof CryptoError ? err.reason : 'blob-missing';
  void audit.record('integrity.failure', { ...where, ...err.blob, reason, message: err.message }).catch(() => {});
}
