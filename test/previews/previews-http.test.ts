/**
 * Previews over HTTP against a real instance: Nextcloud's URLs, sizes and aspect, the cache (hit,
 * ETag/304, invalidation on overwrite and delete), download permissions (owner, sharee, links),
 * unsupported files and an image bomb, has-preview in PROPFIND, no quota.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { previewBlobId } from '../../src/previews/preview-store.ts';
import { GarbageCollector } from '../../src/files/garbage-collector.ts';
import { share } from '../sharing/helpers.ts';
import { animatedGif, fetchPreview, meanColour, photo, pngBomb, upload } from './helpers.ts';

const ALICE = { uid: 'alice', password: 'alice-password-1' };
const BOB = { uid: 'bob', password: 'bob-password-1' };
const CAROL = { uid: 'carol', password: 'carol-password-1' };

for (const db of ['sqlite', 'pgsql'] as const) describe(`previews over HTTP (no encryption, ${db})`, () => {
  let t: TestInstance;
  let wide: number; // 400 × 200 red JPEG in pics/
  before(async () => {
    t = await startTestInstance({ db });
    for (const u of [ALICE, BOB, CAROL]) await t.addUser(u.uid, u.password);
    await t.fetch(`/remote.php/dav/files/alice/pics`, { method: 'MKCOL', as: ALICE });
    wide = await upload(t, ALICE, 'pics/wide.jpg', await photo(400, 200, 'jpeg', [200, 30, 30]));
  });
  after(async () => { await t.stop(); });
  afterEach(async () => { await t.app.throttle.registerSuccess('127.0.0.1', ''); });

  const rows = async (fileId: number) => t.app.db.selectFrom('previews').selectAll().where('fileid', '=', fileId).execute();

  it('sizes and aspect: crop (default), a=1 fill and cover, powers of two, never enlarged', async () => {
    const crop = await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=64&y=64`, { as: ALICE });
    assert.equal(crop.status, 200);
    assert.equal(crop.type, 'image/jpeg');
    assert.deepEqual([crop.width, crop.height], [64, 64]);
    const fill = await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=250&y=250&a=1`, { as: ALICE });
    assert.deepEqual([fill.width, fill.height], [256, 128], 'rounded up to 256, aspect kept inside the box');
    const cover = await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=64&y=64&a=true&mode=cover`, { as: ALICE });
    assert.deepEqual([cover.width, cover.height], [128, 64], 'covers 64 × 64');
    const orig = await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=-1&y=-1&a=1`, { as: ALICE });
    assert.deepEqual([orig.width, orig.height], [400, 200], 'the original size, not enlarged');
    const red = await meanColour(crop.body);
    assert.ok(red[0] > 150 && red[1] < 80 && red[2] < 80, `a red preview, got ${red}`);
    for (const bad of ['x=0&y=32', 'x=abc', 'x=-5', 'mode=stretch&a=1']) {
      assert.equal((await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&${bad}`, { as: ALICE })).status, 400, bad);
    }
    assert.equal((await fetchPreview(t, `/index.php/core/preview?x=32&y=32`, { as: ALICE })).status, 400, 'no fileId');
  });

  it('the cache: a second request is a hit with the same bytes; If-None-Match gets 304; one row per size', async () => {
    const a = await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=32&y=32`, { as: ALICE });
    const before = (await rows(wide)).length;
    const b = await fetchPreview(t, `/core/preview?fileId=${wide}&x=32&y=32&c=whatever`, { as: ALICE });
    assert.equal(b.status, 200);
    assert.ok(a.body.equals(b.body), 'the cached bytes');
    assert.equal(a.etag, b.etag);
    assert.equal((await rows(wide)).length, before, 'no new row for a cache hit');
    const r = await t.fetch(`/index.php/core/preview?fileId=${wide}&x=32&y=32`, { as: ALICE, headers: { 'If-None-Match': a.etag! } });
    assert.equal(r.status, 304);
    assert.match(r.headers.get('cache-control') ?? '', /private, max-age=86400/);
    // x=20 and x=32 are the same cached size (rounded to 32)
    const c = await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=20&y=20`, { as: ALICE });
    assert.ok(c.body.equals(a.body));
  });

  it('preview.png by path; folders, text, a text file named .png and an unknown id get 404', async () => {
    const p = await fetchPreview(t, `/index.php/core/preview.png?file=/pics/wide.jpg&x=64&y=32&a=1`, { as: ALICE });
    assert.equal(p.status, 200);
    assert.deepEqual([p.width, p.height], [64, 32]);
    await upload(t, ALICE, 'notes.txt', 'just text');
    await upload(t, ALICE, 'fake.png', '<svg xmlns="http://www.w3.org/2000/svg"/>');
    for (const f of ['/notes.txt', '/fake.png', '/pics', '/missing.jpg']) {
      const r = await fetchPreview(t, `/index.php/core/preview.png?file=${encodeURIComponent(f)}&x=32&y=32`, { as: ALICE });
      assert.equal(r.status, 404, f);
    }
    assert.equal((await fetchPreview(t, `/index.php/core/preview?fileId=999999&x=32&y=32`, { as: ALICE })).status, 404);
    assert.equal((await fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=32&y=32`, { as: null })).status, 401, 'anonymous');
  });

  it('PNG with alpha stays PNG; WebP; the first frame of an animated GIF', async () => {
    const webp = await upload(t, ALICE, 'pics/green.webp', await photo(120, 90, 'webp', [20, 200, 20]));
    const w = await fetchPreview(t, `/index.php/core/preview?fileId=${webp}&x=64&y=64&a=1`, { as: ALICE });
    assert.equal(w.status, 200);
    assert.deepEqual([w.width, w.height], [64, 48]);
    const gif = await upload(t, ALICE, 'pics/anim.gif', await animatedGif(80, 80));
    const g = await fetchPreview(t, `/index.php/core/preview?fileId=${gif}&x=32&y=32`, { as: ALICE });
    assert.equal(g.status, 200);
    const [r, , b] = await meanColour(g.body);
    assert.ok(r > 200 && b < 50, `the red first frame, got ${r},${b}`);
    const sharp = (await import('sharp')).default;
    const alpha = await sharp({ create: { width: 50, height: 50, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } } }).png().toBuffer();
    const pngId = await upload(t, ALICE, 'pics/alpha.png', alpha);
    const p = await fetchPreview(t, `/index.php/core/preview?fileId=${pngId}&x=32&y=32`, { as: ALICE });
    assert.equal(p.type, 'image/png');
  });

  it('an image bomb (50,000 × 50,000 PNG) gets a fast 404, without the memory it would decode to', async () => {
    const bomb = await pngBomb(50_000);
    assert.ok(bomb.length < 2_000_000, `the bomb is small (${bomb.length} bytes)`);
    const id = await upload(t, ALICE, 'pics/bomb.png', bomb);
    const rss0 = process.memoryUsage().rss;
    const r = await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=256&y=256`, { as: ALICE });
    const grew = process.memoryUsage().rss - rss0;
    assert.equal(r.status, 404);
    assert.ok(r.ms < 3000, `refused in ${r.ms} ms`);
    assert.ok(grew < 150 * 1024 * 1024, `memory grew by ${Math.round(grew / 1048576)} MiB`);
    assert.equal((await rows(id)).length, 0, 'nothing cached');
  });

  it('an overwrite gets a new preview; the old one is gone from disk and database; so does a deleted file', async () => {
    const id = await upload(t, ALICE, 'pics/swap.jpg', await photo(100, 100, 'jpeg', [220, 20, 20]));
    const first = await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=32&y=32`, { as: ALICE });
    const [oldRow] = await rows(id);
    assert.ok(oldRow);
    const raw = t.app.rawBlobs;
    assert.ok(hasLocalPaths(raw));
    assert.ok(existsSync(raw.pathOf(oldRow.blob_id)), 'the cached preview is a blob');
    await upload(t, ALICE, 'pics/swap.jpg', await photo(100, 100, 'jpeg', [20, 20, 220]));
    assert.equal(existsSync(raw.pathOf(oldRow.blob_id)), false, 'the old version\'s preview blob is deleted');
    assert.equal((await rows(id)).length, 0);
    const second = await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=32&y=32`, { as: ALICE });
    assert.notEqual(second.etag, first.etag);
    const [r, , b] = await meanColour(second.body);
    assert.ok(b > 150 && r < 80, `the new (blue) version, got ${r},${b}`);
    const [newRow] = await rows(id);
    // the garbage collector keeps live previews
    await new GarbageCollector({ db: t.app.db, rawBlobs: raw, uploads: t.app.uploads, locks: t.app.locks }).run({ graceSeconds: 0 });
    assert.ok(existsSync(raw.pathOf(newRow!.blob_id)), 'a live preview survives the collector');
    assert.equal((await t.fetch(`/remote.php/dav/files/alice/pics/swap.jpg`, { method: 'DELETE', as: ALICE })).status, 204);
    assert.equal(existsSync(raw.pathOf(newRow!.blob_id)), false, 'deleting the file deletes its preview');
    assert.equal((await rows(id)).length, 0);
  });

  it('the collector drops previews of versions no file has any more', async () => {
    const id = await upload(t, ALICE, 'pics/gc.jpg', await photo(60, 60, 'jpeg', [90, 90, 90]));
    await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=32&y=32`, { as: ALICE });
    const [row] = await rows(id);
    // a release whose cleanup never ran: the file row points elsewhere, the preview row stays
    await t.app.db.updateTable('previews').set({ source_blob_id: '0'.repeat(32) }).where('blob_id', '=', row!.blob_id).execute();
    const raw = t.app.rawBlobs;
    assert.ok(hasLocalPaths(raw));
    const rep = await new GarbageCollector({ db: t.app.db, rawBlobs: raw, uploads: t.app.uploads, locks: t.app.locks }).run({ graceSeconds: 0 });
    assert.ok(rep.orphanedPreviews >= 1);
    assert.equal(existsSync(raw.pathOf(row!.blob_id)), false);
  });

  it('permissions as for a download: sharee after the share only; links (file, folder, password, upload-only)', async () => {
    const byId = (as: typeof BOB) => fetchPreview(t, `/index.php/core/preview?fileId=${wide}&x=32&y=32`, { as });
    assert.equal((await byId(BOB)).status, 404, 'not shared yet: as if it did not exist');
    await share(t, ALICE, { path: '/pics', shareType: 0, shareWith: 'bob', permissions: 1 });
    const b = await byId(BOB);
    assert.equal(b.status, 200);
    const own = await byId(ALICE);
    assert.ok(b.body.equals(own.body), 'the same cached preview');
    assert.equal((await fetchPreview(t, `/index.php/core/preview.png?file=/pics/wide.jpg&x=32&y=32`, { as: BOB })).status, 200, 'by path through the mount');
    assert.equal((await byId(CAROL)).status, 404, 'carol has no share');

    const fileLink = await share(t, ALICE, { path: '/pics/wide.jpg', shareType: 3 });
    const fl = await fetchPreview(t, `/index.php/apps/files_sharing/publicpreview/${fileLink.token}?x=64&y=64&a=1`, { as: null });
    assert.equal(fl.status, 200);
    assert.deepEqual([fl.width, fl.height], [64, 32]);
    const folderLink = await share(t, ALICE, { path: '/pics', shareType: 3 });
    assert.equal((await fetchPreview(t, `/index.php/apps/files_sharing/publicpreview/${folderLink.token}?file=/wide.jpg&x=32&y=32`, { as: null })).status, 200);
    assert.equal((await fetchPreview(t, `/apps/files_sharing/publicpreview/${folderLink.token}?file=/../notes.txt&x=32&y=32`, { as: null })).status, 400, 'a path leaving the folder is refused');
    assert.equal((await fetchPreview(t, `/index.php/s/${folderLink.token}/preview?file=/wide.jpg&x=32&y=32`, { as: null })).status, 200, 'the link page\'s URL');
    assert.equal((await fetchPreview(t, `/index.php/apps/files_sharing/publicpreview/NoSuchToken123?x=32&y=32`, { as: null })).status, 404);

    const pw = await share(t, ALICE, { path: '/pics/wide.jpg', shareType: 3, password: 'link-secret-9' });
    const url = `/index.php/apps/files_sharing/publicpreview/${pw.token}?x=32&y=32`;
    assert.equal((await fetchPreview(t, url, { as: null })).status, 403, 'password needed');
    const basic = (p: string) => ({ Authorization: 'Basic ' + Buffer.from(`${pw.token}:${p}`).toString('base64') });
    assert.equal((await fetchPreview(t, url, { as: null, headers: basic('wrong') })).status, 401);
    await t.app.throttle.registerSuccess('127.0.0.1', '');
    assert.equal((await fetchPreview(t, url, { as: null, headers: basic('link-secret-9') })).status, 200);

    await t.fetch(`/remote.php/dav/files/alice/drop`, { method: 'MKCOL', as: ALICE });
    await upload(t, ALICE, 'drop/in.jpg', await photo(40, 40, 'jpeg', [1, 2, 3]));
    const drop = await share(t, ALICE, { path: '/drop', shareType: 3, permissions: 4 });
    assert.equal((await fetchPreview(t, `/index.php/apps/files_sharing/publicpreview/${drop.token}?file=/in.jpg&x=32&y=32`, { as: null })).status, 403, 'upload-only link');
  });

  it('nc:has-preview in PROPFIND; previews count in no quota', async () => {
    const res = await t.fetch('/remote.php/dav/files/alice/pics', {
      method: 'PROPFIND', as: ALICE, headers: { Depth: '1' },
      body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:nc="http://nextcloud.org/ns"><d:prop><nc:has-preview/></d:prop></d:propfind>',
    });
    const xml = await res.text();
    const entry = (name: string) => new RegExp(`${name}</d:href>[\\s\\S]*?<nc:has-preview>(\\w+)</nc:has-preview>`).exec(xml)?.[1];
    assert.equal(entry('wide.jpg'), 'true');
    assert.equal(entry('bomb.png'), 'true', 'a PNG (whether it decodes is known only when tried)');
    assert.equal(entry('pics/'), 'false', 'a folder');
    const before = await t.app.files.quota('alice');
    const id = await upload(t, ALICE, 'pics/q.jpg', await photo(300, 300, 'jpeg', [5, 100, 5]));
    const mid = await t.app.files.quota('alice');
    for (const x of [32, 64, 128, 256]) assert.equal((await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=${x}&y=${x}`, { as: ALICE })).status, 200);
    const after = await t.app.files.quota('alice');
    assert.ok(mid.used > before.used);
    assert.equal(after.used, mid.used, 'four previews later, the same usage');
    const blob = previewBlobId((await t.app.files.getById(id)).blobId!, '256x256-crop');
    assert.equal((await t.app.db.selectFrom('previews').select('blob_id').where('blob_id', '=', blob).execute()).length, 1);
  });
});
