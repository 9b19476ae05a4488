import { CryptoError } from '../errors.ts';

/**
 * Whether `err` (or an error it wraps, through `cause`) is a CryptoError: Nextcloud content or key
 * material that failed its check (a bad block signature, a wrong size, a modified key file). The
 * import reports such items as integrity failures (`./occ` exit 7), other skips as failures (1).
 */
export function isIntegrityFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof CryptoError) return true;
  }
  return false;
}
