import type { Sharp, SharpOptions } from 'sharp';
import { AppError, NotFoundError } from '../errors.ts';
import { DEFAULT_THUMBNAIL_LIMITS, previewable, sniffImage, type ThumbnailLimits } from './image-formats.ts';
import type { PreviewSpec } from './preview-spec.ts';

type SharpFactory = (input: Buffer, options: SharpOptions) => Sharp;

/**
 * Loads sharp (libvips) once, on first use: it costs most of a second and ~20 MiB, which no
 * `./occ` command and no server that never makes a preview should pay. libvips' operation cache goes
 * off (it would keep decoded plaintext in memory) and each image gets one libvips thread.
 */
async function loadSharp(): Promise<SharpFactory> {
  const sharp = (await import('sharp')).default;
  sharp.cache(false);
  sharp.concurrency(1);
  return sharp;
}

/** Too many previews are being made right now (the adapters answer 503 with Retry-After). */
export class PreviewBusyError extends AppError {
  constructor() { super('busy', 'Too many previews are being generated; try again shortly'); }
}

/** A rendered preview. */
export interface Thumbnail {
  readonly data: Buffer;
  readonly mimetype: 'image/jpeg' | 'image/png';
  readonly width: number;
  readonly height: number;
}

/**
 * Makes thumbnails with sharp (libvips) within a budget: a pixel limit read from the header before
 * anything is decoded (an image bomb is refused in milliseconds), a byte limit, a timeout, a fixed
 * number of images at a time with a bounded queue, libvips' operation cache off (it would keep
 * decoded plaintext in memory) and one libvips thread per image (the server has other work).
 * The output carries no metadata (EXIF, GPS) of the original.
 */
export class Thumbnailer {
  readonly limits: ThumbnailLimits;
  #sharp: Promise<SharpFactory> | undefined;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limits: Partial<ThumbnailLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_THUMBNAIL_LIMITS, ...limits });
  }

  /** Whether a file of this mimetype and size gets a preview (PROPFIND has-preview). */
  accepts(mimetype: string, size: number): boolean {
    return previewable(mimetype, size, this.limits);
  }

  /**
   * Reads the image with `load` once a slot is free (so that waiting requests hold no file in
   * memory) and renders it to the spec.
   * @throws NotFoundError when it is no image we decode, too large, damaged or too slow (no preview,
   *   as Nextcloud answers 404); PreviewBusyError when the queue is full; what `load` throws
   */
  async render(load: () => Promise<Buffer>, spec: PreviewSpec): Promise<Thumbnail> {
    await this.#acquire();
    try {
      this.#sharp ??= loadSharp();
      const sharp = await this.#sharp;
      const input = await load();
      if (input.length > this.limits.maxInputBytes) throw new NotFoundError('file too large for a preview');
      if (!sniffImage(input.subarray(0, 16))) throw new NotFoundError('no preview for this type of file');
      try {
        const img = sharp(input, {
          limitInputPixels: this.limits.maxInputPixels,
          sequentialRead: true,
          failOn: 'error',
          animated: false, // first frame of a GIF/WebP animation
        }).rotate() // EXIF orientation, before the metadata is dropped
          .resize({
            width: spec.width, height: spec.height, withoutEnlargement: true,
            fit: spec.fit === 'crop' ? 'cover' : spec.fit === 'cover' ? 'outside' : 'inside',
          })
          .timeout({ seconds: this.limits.timeoutSeconds });
        const meta = await img.metadata();
        const alpha = meta.hasAlpha === true;
        const out = alpha ? img.png({ compressionLevel: 6 }) : img.flatten().jpeg({ quality: 80 });
        const { data, info } = await out.toBuffer({ resolveWithObject: true });
        return { data, mimetype: alpha ? 'image/png' : 'image/jpeg', width: info.width, height: info.height };
      } catch (err) {
        // libvips refused it (pixel limit, damaged data, timeout): no preview, as for any other type
        throw new NotFoundError(`no preview: ${(err as Error).message}`);
      }
    } finally {
      this.#release();
    }
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.limits.concurrency) { this.#running++; return; }
    if (this.#waiting.length >= this.limits.maxQueue) throw new PreviewBusyError();
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the slot passes on
    else this.#running--;
  }
}
