import { ValidationError } from '../errors.ts';

/** How a preview fills its box (Nextcloud's `a` and `mode` parameters). */
export type PreviewFit = 'crop' | 'fill' | 'cover';

/**
 * A normalized preview request. Sizes are rounded up to a power of two between MIN_SIDE and
 * MAX_SIDE (as Nextcloud rounds them), so that a file version has at most 147 cached previews (7
 * widths × 7 heights × 3 fits) however many sizes clients ask for; clients scale the answer to their box.
 */
export interface PreviewSpec {
  readonly width: number;
  readonly height: number;
  /** crop: exactly width × height, centred (a=0); fill: inside the box; cover: covers the box (a=1). */
  readonly fit: PreviewFit;
}

export const MIN_SIDE = 32;
export const MAX_SIDE = 2048;

/** The cache key of a spec, e.g. `256x256-crop` (stored in previews.spec). */
export function specKey(s: PreviewSpec): string {
  return `${s.width}x${s.height}-${s.fit}`;
}

function bucket(n: number): number {
  if (n === -1) return MAX_SIDE; // "the original size", bounded
  let b = MIN_SIDE;
  while (b < n && b < MAX_SIDE) b *= 2;
  return b;
}

function intParam(q: URLSearchParams, name: string, dflt: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^-?\d{1,9}$/.test(v)) throw new ValidationError(`${name} must be an integer`);
  const n = Number(v);
  if (n === 0 || n < -1) throw new ValidationError(`${name} must be positive (or -1 for the original size)`);
  return n;
}

/** Nextcloud's booleans in query strings: `1`/`true` are true, `0`/`false`/empty are false. */
function boolParam(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return v === '1' || v.toLowerCase() === 'true';
}

/**
 * The spec of a request's `x`, `y` (default 32; -1 = original size), `a` (keep the aspect ratio:
 * no crop) and `mode` (`fill` or `cover`, only with a=1).
 * @throws ValidationError for x or y of 0, negative or not an integer, or an unknown mode
 */
export function parsePreviewSpec(q: URLSearchParams): PreviewSpec {
  const x = intParam(q, 'x', 32);
  const y = intParam(q, 'y', 32);
  const keepAspect = boolParam(q, 'a', false);
  const mode = q.get('mode') ?? 'fill';
  if (mode !== 'fill' && mode !== 'cover') throw new ValidationError('mode must be fill or cover');
  return { width: bucket(x), height: bucket(y), fit: keepAspect ? mode : 'crop' };
}
