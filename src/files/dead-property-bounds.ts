import { QuotaExceededError } from '../errors.ts';

/** Dead properties one file or folder may hold (PROPPATCH). */
export const MAX_DEAD_PROPERTIES = 256;
/** Their total size: namespaces, names and values, in characters. */
export const MAX_DEAD_PROPERTY_BYTES = 256 * 1024;

/** A node's dead properties: how many, and their total size. */
export interface PropertyUsage {
  readonly count: number;
  readonly size: number;
}

/**
 * Every PROPFIND allprop returns a node's dead properties, and repeated PROPPATCHes would grow them
 * (and the database) without end: a patch may not leave a node over a bound and bigger than it was.
 * A node over a bound from before still shrinks.
 * @throws QuotaExceededError (RFC 4918's 507 Insufficient Storage for PROPPATCH)
 */
export function assertPropertyBounds(before: PropertyUsage, after: PropertyUsage): void {
  if ((after.count > MAX_DEAD_PROPERTIES && after.count > before.count) || (after.size > MAX_DEAD_PROPERTY_BYTES && after.size > before.size)) {
    throw new QuotaExceededError(`A file or folder holds at most ${MAX_DEAD_PROPERTIES} dead properties of ${MAX_DEAD_PROPERTY_BYTES / 1024} KiB in all`);
  }
}
