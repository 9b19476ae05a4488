/**
 * What previews are made of and within which budget: pure, no image library loaded (PROPFIND asks
 * `has-preview` of every listed file; sharp loads only when a preview is first made).
 */

/** The work budget of preview generation (per process). */
export interface ThumbnailLimits {
  /** Images with more pixels (width × height, from the header) are refused before decoding. */
  readonly maxInputPixels: number;
  /** Files larger than this get no preview (the source is read into memory to decode it). */
  readonly maxInputBytes: number;
  /** A decode + resize that runs longer is abandoned. */
  readonly timeoutSeconds: number;
  /** Images decoded at the same time. */
  readonly concurrency: number;
  /** Requests waiting for a slot; beyond that, PreviewBusyError. */
  readonly maxQueue: number;
}

export const DEFAULT_THUMBNAIL_LIMITS: ThumbnailLimits = Object.freeze({
  maxInputPixels: 50_000_000,
  maxInputBytes: 64 * 1024 * 1024,
  timeoutSeconds: 15,
  concurrency: 1,
  maxQueue: 32,
});

/** The image formats previews are made of, by the mimetype Coffer gives their files. */
export const PREVIEW_MIMETYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif']);

/** Whether a file of this mimetype and size gets a preview under `limits` (PROPFIND `nc:has-preview`). */
export function previewable(mimetype: string, size: number, limits: Pick<ThumbnailLimits, 'maxInputBytes'> = DEFAULT_THUMBNAIL_LIMITS): boolean {
  return size > 0 && size <= limits.maxInputBytes && PREVIEW_MIMETYPES.has(mimetype);
}

export type ImageKind = 'jpeg' | 'png' | 'gif' | 'webp' | 'avif';

/**
 * The format the first bytes announce, among those previews are made of. The decoder is chosen
 * from these bytes, not from the file name: an SVG, TIFF, PDF or anything else renamed `.png`
 * never reaches a decoder we did not choose (librsvg, libtiff, …).
 */
export function sniffImage(head: Buffer): ImageKind | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (head.length >= 6 && (head.toString('latin1', 0, 6) === 'GIF87a' || head.toString('latin1', 0, 6) === 'GIF89a')) return 'gif';
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp' && /^avi[fs]$/.test(head.toString('latin1', 8, 12))) return 'avif';
  return undefined;
}
