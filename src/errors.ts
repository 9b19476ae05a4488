/**
 * Typed application errors. Services throw these; only adapters (dav, ocs, web, cli) map
 * them to HTTP statuses or exit codes, through each error's stable `code`.
 */
export class AppError extends Error {
  /** Stable machine-readable code, e.g. `not-found`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * What clients are told when the content store (S3, a mounted disk) fails: the error's own message
 * names the bucket and endpoint, which is for the server log only. Nextcloud's words for its 503.
 */
export const STORAGE_UNAVAILABLE_MESSAGE = 'Storage is temporarily not available';

/** What clients are told of a CryptoError (its message is for the server log and the audit). */
export const INTEGRITY_FAILED_MESSAGE = 'Integrity check failed';

/** What clients are told of a BlobMissingError: not a deleted file, so a sync client keeps its copy. */
export const BLOB_MISSING_MESSAGE = 'The content of this file is missing from the server\'s storage (the file was not deleted; the administrator must restore it)';

/** The thing addressed does not exist. */
export class NotFoundError extends AppError {
  constructor(message = 'Not found') { super('not-found', message); }
}

/** The target already exists (MKCOL on an existing path, Overwrite: F). */
export class AlreadyExistsError extends AppError {
  constructor(message = 'Already exists') { super('already-exists', message); }
}

/** The request conflicts with the tree's state (missing parent, file where a folder is needed). */
export class ConflictError extends AppError {
  constructor(message = 'Conflict') { super('conflict', message); }
}

/** A precondition (If-Match, If-None-Match, If header) does not hold. */
export class PreconditionFailedError extends AppError {
  constructor(message = 'Precondition failed') { super('precondition-failed', message); }
}

/** The resource is locked and the request did not present the lock token. */
export class LockedError extends AppError {
  constructor(message = 'Locked') { super('locked', message); }
}

/** The user's quota would be exceeded. */
export class QuotaExceededError extends AppError {
  constructor(message = 'Quota exceeded') { super('quota-exceeded', message); }
}

/** Input is malformed or invalid (bad name, bad XML, bad header). */
export class ValidationError extends AppError {
  constructor(message = 'Invalid input') { super('invalid', message); }
}

/** The caller is not who they claim (wrong password, unknown token). */
export class AuthenticationError extends AppError {
  constructor(message = 'Authentication failed') { super('unauthenticated', message); }
}

/** The caller is known but not allowed to do this. */
export class ForbiddenError extends AppError {
  constructor(message = 'Forbidden') { super('forbidden', message); }
}

/** Too many failed attempts; retry later. */
export class ThrottledError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = 'Too many requests') {
    super('throttled', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The server's disk (or a quota on it) is full: the write was abandoned and nothing changed.
 * Nextcloud answers 507 Insufficient Storage, which the desktop client shows and stops on instead
 * of retrying. The cause (ENOSPC, EDQUOT, SQLITE_FULL) stays for the log.
 */
export class StorageFullError extends AppError {
  constructor(message = 'Insufficient Storage: the server has no space left to store this', options?: { cause?: unknown }) { super('storage-full', message, options); }
}

/** errno and SQLite codes that mean "the disk is full". */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * `err` as a StorageFullError when it, or an error in its cause chain, says the disk is full;
 * else `err` itself. A full disk shows up as a raw errno error from any write (blob, temp file,
 * chunk, key file) or as SQLITE_FULL from a commit, so adapters classify it here, in one place,
 * before they map errors to statuses.
 */
export function classifyDiskFull(err: unknown): unknown {
  if (err instanceof StorageFullError) return err;
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && DISK_FULL_CODES.has(code)) return new StorageFullError(undefined, { cause: err });
    e = e.cause;
  }
  return err;
}

/** Configuration is missing or invalid. */
export class ConfigError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) { super('config', message, options); }
}

/** A request body or other input exceeds a limit. */
export class TooLargeError extends AppError {
  constructor(message = 'Too large') { super('too-large', message); }
}

/** The operation is not supported for this resource. */
export class NotSupportedError extends AppError {
  constructor(message = 'Not supported') { super('not-supported', message); }
}

/**
 * What a CryptoError found, one tag per kind of damage (as minio/sio's sentinel errors), so that
 * callers and tests tell them apart without parsing messages:
 * - `tag-mismatch`: an authentication tag or key commitment does not verify (tampered bytes, or a
 *   key that is not the one that sealed them);
 * - `truncated` / `extended`: bytes missing at the end, or data after the final chunk;
 * - `wrong-binding`: authentic bytes in the wrong place (another file's or version's blob, a
 *   database row that does not match its seal, a key file naming another owner);
 * - `size-mismatch`: the content's length differs from the size recorded for it;
 * - `key-missing`: the key that protects the data is not where it must be;
 * - `wrong-key`: a key, secret or password given does not open what it should;
 * - `malformed`: not in the expected format at all (bad magic, bad JSON, impossible sizes);
 * - `unsupported`: a version, cipher or codec this server does not know;
 * - `unsafe-key`: key material refused because of how it is held (an extractable HSM key).
 */
export type CryptoReason = 'tag-mismatch' | 'truncated' | 'extended' | 'wrong-binding' | 'size-mismatch'
  | 'key-missing' | 'wrong-key' | 'malformed' | 'unsupported' | 'unsafe-key';

/**
 * Ciphertext or key material failed authentication, or is malformed: tampering, truncation,
 * reordering, swapping, rollback, a wrong key. Never means "retry". Wrong arguments from our own
 * code (a 15-byte key id) are plain Errors, not CryptoErrors.
 */
export class CryptoError extends AppError {
  readonly reason: CryptoReason;
  /** The blob whose read failed, filled in by the store that read it (for the audit entry). */
  blob?: BlobRef;
  constructor(reason: CryptoReason, message: string, options?: { cause?: unknown }) {
    super('crypto', message, options);
    this.reason = reason;
  }
}

/** A stored blob and the file it belongs to. */
export interface BlobRef {
  readonly blobId: string;
  readonly fileId: number;
  readonly owner: string;
}

/**
 * A committed file's blob is not in the store: data loss (a deleted or unmounted blob directory, a
 * restore that missed blobs), never a file the user deleted. Adapters answer 500 and audit it;
 * a 404 would make sync clients delete their copy.
 */
export class BlobMissingError extends AppError {
  readonly blob: BlobRef;
  constructor(blob: BlobRef, options?: { cause?: unknown }) {
    super('blob-missing', `the content of file ${blob.fileId} of ${blob.owner} (blob ${blob.blobId}) is missing from storage`, options);
    this.blob = blob;
  }
}

/**
 * The content store (S3, a mounted disk) failed or is unreachable: retry later. The message names
 * bucket and endpoint for the server log; clients get STORAGE_UNAVAILABLE_MESSAGE.
 */
export class StorageUnavailableError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) { super('storage-unavailable', message, options); }
}

/**
 * A state-changing request lacks what proves it came from our own client (OCS-APIREQUEST header,
 * the session's request token): a possible cross-site request forgery. Nothing was changed.
 */
export class CsrfError extends AppError {
  constructor(message = 'CSRF check failed') { super('csrf', message); }
}
