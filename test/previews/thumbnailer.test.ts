/**
 * The Thumbnailer's budget with real sharp: a bounded queue (the request beyond it is refused at
 * once, and the waiting ones hold no file in memory: their loader runs only once they have a slot),
 * the decoder chosen from the first bytes, the pixel limit, and the preview spec's rounding.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { NotFoundError } from '../../src/errors.ts';
import { PreviewBusyError, Thumbnailer } from '../../src/previews/thumbnailer.ts';
import { sniffImage } from '../../src/previews/image-formats.ts';
import { parsePreviewSpec, specKey } from '../../src/previews/preview-spec.ts';
import { photo } from './helpers.ts';

const SPEC = { width: 64, height: 64, fit: 'crop' as const };

describe('Thumbnailer', () => {
  it('one image at a time, one waiting: the third request is refused at once; loaders run in turn', async () => {
    const th = new Thumbnailer({ concurrency: 1, maxQueue: 1 });
    const img = await photo(200, 100, 'jpeg', [10, 20, 30]);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const loaded: string[] = [];
    const first = th.render(async () => { loaded.push('first'); await gate; return img; }, SPEC);
    const second = th.render(async () => { loaded.push('second'); return img; }, SPEC);
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(th.render(async () => img, SPEC), PreviewBusyError);
    assert.deepEqual(loaded, ['first'], 'the waiting request has not read its file');
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual([a.width, a.height, b.width, b.height], [64, 64, 64, 64]);
    assert.deepEqual(loaded, ['first', 'second']);
    // the slots are free again
    assert.equal((await th.render(async () => img, SPEC)).mimetype, 'image/jpeg');
  });

  it('the decoder is chosen from the first bytes: SVG, TIFF, PDF and text get no preview', async () => {
    const th = new Thumbnailer();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    const tiff = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#f00' } }).tiff().toBuffer();
    for (const [name, bytes] of [['svg', svg], ['tiff', tiff], ['pdf', Buffer.from('%PDF-1.7\n')], ['text', Buffer.from('hello')]] as const) {
      assert.equal(sniffImage(bytes), undefined, name);
      await assert.rejects(th.render(async () => bytes, SPEC), NotFoundError, name);
    }
    for (const f of ['jpeg', 'png', 'webp', 'gif'] as const) assert.equal(sniffImage(await photo(8, 8, f, [1, 2, 3])), f);
  });

  it('the pixel limit and the byte limit refuse before decoding; a damaged JPEG gets no preview', async () => {
    const th = new Thumbnailer({ maxInputPixels: 100 * 100, maxInputBytes: 200_000 });
    await assert.rejects(th.render(async () => photo(101, 100, 'png', [5, 5, 5]), SPEC), /pixel limit/);
    assert.equal((await th.render(async () => photo(100, 100, 'png', [5, 5, 5]), SPEC)).width, 64);
    await assert.rejects(th.render(async () => Buffer.alloc(200_001, 0xff), SPEC), /too large/);
    const jpeg = await photo(100, 100, 'jpeg', [50, 60, 70]);
    await assert.rejects(th.render(async () => jpeg.subarray(0, 300), SPEC), NotFoundError);
  });

  it('preview specs: powers of two from 32 to 2048, -1 = largest, crop unless a=1', () => {
    const spec = (q: string) => specKey(parsePreviewSpec(new URLSearchParams(q)));
    assert.equal(spec(''), '32x32-crop');
    assert.equal(spec('x=33&y=100'), '64x128-crop');
    assert.equal(spec('x=5000&y=-1&a=1'), '2048x2048-fill');
    assert.equal(spec('x=256&y=256&a=true&mode=cover'), '256x256-cover');
    assert.equal(spec('x=256&y=256&a=0&mode=cover'), '256x256-crop');
    for (const bad of ['x=0', 'y=-2', 'x=1.5', 'x=1e3', 'mode=bogus']) assert.throws(() => parsePreviewSpec(new URLSearchParams(bad)), /x|y|mode/, bad);
  });
});
