import { StorageUnavailableError } from '../errors.ts';

/** What went wrong talking to S3, in the terms an admin can act on. */
export type S3Failure = 'no-such-key' | 'no-such-bucket' | 'denied' | 'bad-credentials' | 'unreachable' | 'exists' | 'invalid-range' | 'other';

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

/** Classifies an error thrown by `@aws-sdk/client-s3`. A bare 404 (HEAD) is `no-such-key`. */
export function classifyS3Error(err: unknown): S3Failure {
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket') return 'no-such-bucket';
  if (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchUpload')) return 'no-such-key';
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') return 'bad-credentials';
  if (name === 'AccessDenied' || status === 403) return 'denied';
  if (name === 'PreconditionFailed' || status === 412) return 'exists';
  if (name === 'InvalidRange' || status === 416) return 'invalid-range';
  const codes = [e.code, ...(Array.isArray(e.errors) ? e.errors.map((x) => (x as SdkErrorShape)?.code) : [])];
  if (codes.some((c) => c !== undefined && NETWORK_CODES.has(c))) return 'unreachable';
  if (name === 'TimeoutError' || name === 'RequestTimeout' || name === 'AbortError') return 'unreachable';
  return 'other';
}

/** Plain-words explanation of a failure class (no secrets: never includes the keys). */
export function explainS3Failure(kind: S3Failure, bucket: string, endpoint: string, err: unknown): string {
  const where = endpoint || 'AWS S3';
  switch (kind) {
    case 'no-such-bucket': return `the bucket "${bucket}" does not exist at ${where}`;
    case 'bad-credentials': {
      const name = (err as SdkErrorShape)?.name;
      return name === 'SignatureDoesNotMatch'
        ? `${where} rejected the request signature: the secret key is wrong (or the region does not match)`
        : `${where} does not know the access key (InvalidAccessKeyId)`;
    }
    case 'denied': return `access denied to bucket "${bucket}" at ${where} (check the access key, secret key and bucket policy)`;
    case 'unreachable': return `cannot reach the S3 endpoint ${where}: ${(err as SdkErrorShape)?.code ?? (err as SdkErrorShape)?.message ?? 'no answer'}`;
    case 'no-such-key': return 'the object does not exist';
    case 'exists': return 'the object already exists';
    case 'invalid-range': return 'the requested range is outside the object';
    default: {
      const e = err as SdkErrorShape;
      const status = e?.$metadata?.httpStatusCode;
      return `S3 error from ${where}: ${e?.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}${e?.message && e.message !== 'UnknownError' ? `: ${e.message}` : ''}`;
    }
  }
}

/**
 * The error for a storage failure that is not "blob missing": its message says what to fix,
 * `cause` keeps the SDK error.
 */
export function s3UnavailableError(op: string, kind: S3Failure, bucket: string, endpoint: string, err: unknown): StorageUnavailableError {
  return new StorageUnavailableError( `S3 ${op} failed: ${explainS3Failure(kind, bucket, endpoint, err)}`, { cause: err });
}
