/** Real images for the preview tests, made with sharp (and one crafted by hand: the image bomb). */
import { createDeflate } from 'node:zlib';
import { crc32 } from 'node:zlib';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import type { TestInstance } from '../support/test-instance.ts';

export type Creds = { uid: string; password: string };

/**
 * A photo-like image: noise over a colour, so that every preview of it has bytes found nowhere else
 * (what the plaintext checks look for).
 */
export async function photo(width: number, height: number, format: 'jpeg' | 'png' | 'webp' | 'gif', rgb: [number, number, number]): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let seed = (rgb[0] * 65_536 + rgb[1] * 256 + rgb[2] + width * 7 + height) >>> 0;
  for (let i = 0; i < raw.length; i++) {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    raw[i] = Math.max(0, Math.min(255, rgb[i % 3]! + ((seed >>> 16) % 40) - 20));
  }
  const img = sharp(raw, { raw: { width, height, channels: 3 } });
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer()
    : format === 'png' ? img.png().toBuffer()
      : format === 'webp' ? img.webp().toBuffer()
        : img.gif().toBuffer();
}

/** A two-frame animated GIF: a red first frame, a blue second one. */
export async function animatedGif(width: number, height: number): Promise<Buffer> {
  const frame = (r: number, b: number) => Buffer.alloc(width * height * 3, Buffer.from([r, 0, b]));
  const both = Buffer.concat([frame(255, 0), frame(0, 255)]);
  return sharp(both, { raw: { width, height: height * 2, channels: 3, pageHeight: height } as never }).gif({ loop: 0, delay: [100, 100] }).toBuffer();
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A valid PNG of `side` × `side` black pixels (1-bit greyscale): a decompression bomb of a few
 * hundred KiB that decodes to side² pixels (50,000² = 2.5 G pixels, 312 MB of raw rows at 1 bit,
 * 7.5 GB as the RGB a naive decoder would allocate). The rows are deflated as a stream, so making
 * it never holds them in memory.
 */
export async function pngBomb(side: number): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rowBytes = Math.ceil(side / 8) + 1; // filter byte + packed pixels
  const rowsPerChunk = Math.max(1, Math.floor((1 << 20) / rowBytes));
  const zeros = Buffer.alloc(rowsPerChunk * rowBytes);
  function* rows(): Generator<Buffer> {
    for (let left = side; left > 0; left -= rowsPerChunk) yield left >= rowsPerChunk ? zeros : zeros.subarray(0, left * rowBytes);
  }
  const parts: Buffer[] = [];
  const deflate = createDeflate({ level: 1 });
  const done = new Promise<void>((resolve, reject) => { deflate.on('end', resolve); deflate.on('error', reject); });
  deflate.on('data', (c: Buffer) => parts.push(c));
  Readable.from(rows()).pipe(deflate);
  await done;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(parts)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** PUT through WebDAV as `as`; returns the file id from OC-FileId. */
export async function upload(t: TestInstance, as: Creds, path: string, body: Buffer | string): Promise<number> {
  const r = await t.fetch(`/remote.php/dav/files/${as.uid}/${path}`, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body), as });
  if (r.status !== 201 && r.status !== 204) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
  return parseInt(r.headers.get('oc-fileid')!.slice(0, 8), 10);
}

/** A preview fetch: status, headers, body and (for images) the decoded size. */
export interface Fetched { status: number; type: string | null; etag: string | null; body: Buffer; width?: number; height?: number; ms: number }

export async function fetchPreview(t: TestInstance, path: string, init: RequestInit & { as?: Creds | null } = {}): Promise<Fetched> {
  const start = Date.now();
  const r = init.as === null ? await fetch(`${t.url}${path}`, init) : await t.fetch(path, init as RequestInit & { as?: Creds });
  const body = Buffer.from(await r.arrayBuffer());
  const ms = Date.now() - start;
  const out: Fetched = { status: r.status, type: r.headers.get('content-type'), etag: r.headers.get('etag'), body, ms };
  if (r.status === 200) {
    const m = await sharp(body).metadata();
    out.width = m.width;
    out.height = m.height;
  }
  return out;
}

/** The mean colour of an image (to tell which version or frame a preview shows). */
export async function meanColour(img: Buffer): Promise<[number, number, number]> {
  const s = await sharp(img).stats();
  return [Math.round(s.channels[0]!.mean), Math.round(s.channels[1]!.mean), Math.round(s.channels[2]!.mean)];
}

/** A small picture (sky, sun, hills) in `format`, drawn from SVG by sharp: recognisable in screenshots. */
export async function scene(width: number, height: number, format: 'jpeg' | 'png' | 'webp', sky: string, sun: string, land: string): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 100 100" preserveAspectRatio="none">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${sky}"/><stop offset="1" stop-color="#ffffff"/></linearGradient></defs>
<rect width="100" height="100" fill="url(#g)"/><circle cx="68" cy="38" r="16" fill="${sun}"/>
<path d="M0 75 Q25 55 50 72 T100 66 V100 H0 Z" fill="${land}"/></svg>`;
  const img = sharp(Buffer.from(svg));
  return format === 'jpeg' ? img.jpeg().toBuffer() : format === 'png' ? img.png().toBuffer() : img.webp().toBuffer();
}
