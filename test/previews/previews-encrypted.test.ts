/**
 * Previews at rest are encrypted like the files: no byte sequence of a served preview is found
 * anywhere in the data directory once encryption is on (and the same search finds them when it is
 * off, so the search works); encrypt-all leaves no plain preview behind; in per-user-key mode a
 * sharee and a link visitor get previews made with the share's keys.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { occ, perUserInstance, walk } from '../user-keys/helpers.ts';
import { share } from '../sharing/helpers.ts';
import { fetchPreview, photo, upload } from './helpers.ts';

const ALICE = { uid: 'alice', password: 'alice-password-1' };
const BOB = { uid: 'bob', password: 'bob-password-1' };

/** 32-byte windows from the entropy-coded middle of an image (headers and tables are alike in every JPEG). */
function windows(img: Buffer): Buffer[] {
  return [0.5, 0.6, 0.7, 0.8].map((f) => img.subarray(Math.floor(img.length * f), Math.floor(img.length * f) + 32));
}

/** Files of the data directory (database files included: a preview must not sit in a row either) holding any window. */
function filesHolding(dataDir: string, img: Buffer): string[] {
  const ws = windows(img);
  return walk(dataDir).filter((f) => !/audit\.log$/.test(f)).filter((f) => { const b = readFileSync(f); return ws.some((w) => b.includes(w)); });
}

describe('previews at rest, master-key mode', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await t.addUser(ALICE.uid, ALICE.password);
  });
  after(async () => { await t.stop(); });

  it('plain before encryption (the search finds them); after encrypt-all none is left; new previews are encrypted, bound to the version', async () => {
    const id = await upload(t, ALICE, 'before.jpg', await photo(320, 240, 'jpeg', [120, 60, 200]));
    const plain = await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=256&y=256&a=1`, { as: ALICE });
    assert.equal(plain.status, 200);
    assert.ok(filesHolding(t.dataDir, plain.body).length > 0, 'without encryption the preview is on disk as it is (control)');

    await enableEncryption(t);
    const r = occ(t, ['encryption:encrypt-all', '-n']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(filesHolding(t.dataDir, plain.body), [], 'encrypt-all dropped the plain preview');
    assert.equal((await t.app.db.selectFrom('previews').selectAll().where('codec', '=', 'plain').execute()).length, 0);

    const again = await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=256&y=256&a=1`, { as: ALICE });
    assert.equal(again.status, 200);
    const id2 = await upload(t, ALICE, 'after.jpg', await photo(300, 300, 'jpeg', [10, 180, 90]));
    const enc = await fetchPreview(t, `/index.php/core/preview?fileId=${id2}&x=128&y=128`, { as: ALICE });
    assert.equal(enc.status, 200);
    const rows = await t.app.db.selectFrom('previews').selectAll().execute();
    assert.ok(rows.length >= 2 && rows.every((row) => row.codec !== 'plain'), 'every cached preview is encrypted');
    for (const img of [again.body, enc.body]) assert.deepEqual(filesHolding(t.dataDir, img), [], 'no preview bytes in any file of the data directory');
    const raw = t.app.rawBlobs;
    assert.ok(hasLocalPaths(raw));
    for (const row of rows) {
      const stored = readFileSync(raw.pathOf(row.blob_id));
      assert.notDeepEqual([...stored.subarray(0, 3)], [0xff, 0xd8, 0xff], 'no JPEG at rest');
    }
    // a hit decrypts the cached blob: the same bytes again
    const hit = await fetchPreview(t, `/index.php/core/preview?fileId=${id2}&x=128&y=128`, { as: ALICE });
    assert.ok(hit.body.equals(enc.body));

    // swapping the cached blob of one file's preview under another's row is refused (the header binds
    // file id and blob id) and the preview is made again from the file, not served from the swap
    const [a, b] = rows;
    const pa = raw.pathOf(a!.blob_id);
    const pb = raw.pathOf(b!.blob_id);
    const ba = readFileSync(pa);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(pa, readFileSync(pb));
    writeFileSync(pb, ba);
    const fileOf = async (fid: number) => fetchPreview(t, `/index.php/core/preview?fileId=${fid}&${a!.spec.startsWith('256') ? 'x=256&y=256&a=1' : 'x=128&y=128'}`, { as: ALICE });
    const afterSwap = await fileOf(Number(a!.fileid));
    assert.equal(afterSwap.status, 200);
    const expected = Number(a!.fileid) === id ? again.body : enc.body;
    assert.ok(afterSwap.body.equals(expected), 'the right preview, remade');
  });
});

describe('previews at rest, per-user-key mode with shares and links', () => {
  let t: TestInstance;
  before(async () => {
    t = await perUserInstance();
    for (const u of [ALICE, BOB]) await t.addUser(u.uid, u.password);
  });
  after(async () => { await t.stop(); });

  it('the sharee and a link visitor get previews; none is readable on disk', async () => {
    await t.fetch('/remote.php/dav/files/alice/shared', { method: 'MKCOL', as: ALICE });
    const id = await upload(t, ALICE, 'shared/p.jpg', await photo(200, 150, 'jpeg', [200, 200, 30]));
    await share(t, ALICE, { path: '/shared', shareType: 0, shareWith: 'bob', permissions: 1 });
    await t.fetch('/remote.php/dav/files/bob/', { method: 'PROPFIND', as: BOB, headers: { Depth: '1' } });
    const b = await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=64&y=64`, { as: BOB });
    assert.equal(b.status, 200, 'the sharee (made with the share key)');
    const a = await fetchPreview(t, `/index.php/core/preview?fileId=${id}&x=64&y=64`, { as: ALICE });
    assert.equal(a.status, 200);
    assert.ok(a.body.equals(b.body), 'the owner reads the sharee\'s cached preview');
    const link = await share(t, ALICE, { path: '/shared', shareType: 3 });
    const l = await fetchPreview(t, `/index.php/apps/files_sharing/publicpreview/${link.token}?file=/p.jpg&x=128&y=128`, { as: null });
    assert.equal(l.status, 200, 'the link visitor');
    // a preview the owner made in her own folder, then the file moved into the share: the sharee
    // gets one too (the cached one if its keys reach the sharee, else made again)
    const moved = await upload(t, ALICE, 'mine.jpg', await photo(90, 90, 'jpeg', [10, 10, 240]));
    assert.equal((await fetchPreview(t, `/index.php/core/preview?fileId=${moved}&x=32&y=32`, { as: ALICE })).status, 200);
    const mv = await t.fetch('/remote.php/dav/files/alice/mine.jpg', { method: 'MOVE', as: ALICE, headers: { Destination: `${t.url}/remote.php/dav/files/alice/shared/mine.jpg` } });
    assert.equal(mv.status, 201);
    const mb = await fetchPreview(t, `/index.php/core/preview?fileId=${moved}&x=32&y=32`, { as: BOB });
    assert.equal(mb.status, 200, 'the sharee, after the move');
    const again = await fetchPreview(t, `/index.php/core/preview?fileId=${moved}&x=32&y=32`, { as: ALICE });
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(mb.body), 'the owner gets the same preview');
    const rows = await t.app.db.selectFrom('previews').select('codec').where('fileid', '=', moved).execute();
    assert.deepEqual(rows.map((r) => r.codec), ['cfe1'], 'one cached preview of it, encrypted');
    for (const img of [b.body, l.body, mb.body]) assert.deepEqual(filesHolding(t.dataDir, img), []);
    const all = await t.app.db.selectFrom('previews').selectAll().execute();
    assert.ok(all.length >= 2 && all.every((r) => r.codec !== 'plain'));
  });
});
