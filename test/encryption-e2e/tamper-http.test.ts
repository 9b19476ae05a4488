/**
 * Over HTTP, every tamper class on a stored blob (bit flip in a chunk and in the header, truncate,
 * truncate a whole chunk, extend, swap two files' blobs, roll back to an older version's ciphertext,
 * reorder chunks) is refused: a 5xx DAV error or an aborted body, never wrong bytes. The audit log
 * records it, and `./occ encryption:verify` names every damaged file and exits 7. Trash items and
 * versions too: a trashed file with a flipped bit is refused by the trashbin endpoint, and verify
 * names it and a trashed file's damaged version by their paths.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, truncateSync, appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { davGet, davPut, markedContent, occFor, sha256 } from './helpers.ts';

const HEADER = 140;
const RAW_CHUNK = 65536 + 16;

describe('tampered blobs are refused over HTTP and named by encryption:verify', () => {
  let t: TestInstance;
  const original = new Map<string, Buffer>();
  const damaged: string[] = [];
  /** Damaged trash items and versions of trashed files, as verify names them (after `admin/files/`). */
  const damagedHistory: string[] = [];
  let trashFlipHref = '';

  async function blobPath(path: string): Promise<string> {
    const n = await t.app.files.stat(ADMIN.uid, path);
    assert.equal(n.blobCodec, 'cfe1', `${path} is encrypted`);
    assert.ok(hasLocalPaths(t.app.rawBlobs));
    return t.app.rawBlobs.pathOf(n.blobId!);
  }

  async function put(path: string, size: number): Promise<void> {
    const b = markedContent(`tamper-${path}`, size);
    original.set(path, b);
    await davPut(t, ADMIN.uid, path, b);
  }

  before(async () => {
    t = await startTestInstance();
    await t.app.appConfig.set('encryption', 'enabled', 'yes');
    await t.app.encryption.enable();
    await put('intact.bin', 150_000);
    await put('flip.bin', 200_000);
    await put('flip-small.txt', 1000);
    await put('flip-header.bin', 70_000);
    await put('trunc.bin', 200_000);
    await put('trunc-chunk.bin', 3 * 65536 + 100);
    await put('extend.bin', 100_000);
    await put('swapA.bin', 80_000);
    await put('swapB.bin', 80_000);
    await put('reorder.bin', 3 * 65536);
    // Rollback: save version 1's ciphertext, write version 2, put version 1's bytes back in its place.
    await put('roll.bin', 90_000);
    const v1 = readFileSync(await blobPath('roll.bin'));
    await put('roll.bin', 90_000);
    const rollPath = await blobPath('roll.bin');

    const flip = (p: string, off: number) => { const b = readFileSync(p); b[off] = b[off]! ^ 0x01; writeFileSync(p, b); };
    flip(await blobPath('flip.bin'), HEADER + RAW_CHUNK + 1000);
    flip(await blobPath('flip-small.txt'), HEADER + 10);
    flip(await blobPath('flip-header.bin'), 70); // inside the wrapped data key
    const tp = await blobPath('trunc.bin');
    truncateSync(tp, readFileSync(tp).length - 100);
    const tc = await blobPath('trunc-chunk.bin');
    truncateSync(tc, HEADER + 3 * RAW_CHUNK); // the final (short) chunk is gone; the rest is well-formed
    appendFileSync(await blobPath('extend.bin'), Buffer.alloc(50, 7));
    const [a, b] = [await blobPath('swapA.bin'), await blobPath('swapB.bin')];
    const [ba, bb] = [readFileSync(a), readFileSync(b)];
    writeFileSync(a, bb);
    writeFileSync(b, ba);
    writeFileSync(rollPath, v1);
    const rp = await blobPath('reorder.bin');
    const r = readFileSync(rp);
    const c0 = Buffer.from(r.subarray(HEADER, HEADER + RAW_CHUNK));
    const c1 = Buffer.from(r.subarray(HEADER + RAW_CHUNK, HEADER + 2 * RAW_CHUNK));
    c1.copy(r, HEADER);
    c0.copy(r, HEADER + RAW_CHUNK);
    writeFileSync(rp, r);
    // Trash: a trashed file with a flipped bit; a trashed file intact but for its (older) version.
    await put('trashed-flip.bin', 100_000);
    const tf = await blobPath('trashed-flip.bin');
    await put('trashed-vers.bin', 80_000);
    const tvId = (await t.app.files.stat(ADMIN.uid, 'trashed-vers.bin')).fileId;
    await put('trashed-vers.bin', 90_000);
    const [tv] = await t.app.versions.repo.list(t.app.db, tvId);
    assert.ok(tv && tv.blobCodec === 'cfe1', 'the version is encrypted');
    for (const p of ['trashed-flip.bin', 'trashed-vers.bin']) {
      const r = await t.fetch(`/remote.php/dav/files/admin/${p}`, { method: 'DELETE' });
      assert.equal(r.status, 204, `DELETE ${p}`);
    }
    flip(tf, HEADER + 500);
    assert.ok(hasLocalPaths(t.app.rawBlobs));
    flip(t.app.rawBlobs.pathOf(tv.blobId), HEADER + RAW_CHUNK + 10);
    const list = await t.fetch('/remote.php/dav/trashbin/admin/trash', { method: 'PROPFIND', headers: { Depth: '1' } });
    trashFlipHref = [...(await list.text()).matchAll(/<d:href>([^<]*trashed-flip\.bin[^<]*)<\/d:href>/g)][0]![1]!;
    damagedHistory.push('trashed-flip.bin', `trashed-vers.bin.v${tv.version}`);
    damaged.push('flip.bin', 'flip-small.txt', 'flip-header.bin', 'trunc.bin', 'trunc-chunk.bin', 'extend.bin', 'swapA.bin', 'swapB.bin', 'roll.bin', 'reorder.bin');
  });
  after(async () => { await t?.stop(); });

  test('each tamper class: GET and range GET answer 5xx or abort, never wrong bytes; the intact file is served', async () => {
    const ok = await davGet(t, ADMIN.uid, 'intact.bin');
    assert.equal(ok.status, 200);
    assert.equal(sha256(ok.body!), sha256(original.get('intact.bin')!));
    // A range that covers the damaged part of each file (the header for swap/rollback/header flips).
    const damagedRange: Record<string, (size: number) => string> = {
      'flip.bin': () => 'bytes=65536-70000',
      'reorder.bin': () => 'bytes=0-99',
    };
    for (const p of damaged) {
      const orig = original.get(p)!;
      const size = orig.length;
      const must = [undefined, (damagedRange[p] ?? ((n: number) => `bytes=${Math.max(0, n - 70_000)}-${n - 1}`))(size)];
      for (const range of must) {
        const r = await davGet(t, ADMIN.uid, p, range);
        assert.ok(r.aborted || r.status >= 500, `${p} ${range ?? 'full'}: served ${r.status} with ${r.body?.length} bytes`);
        if (!r.aborted) assert.match(r.body!.toString(), /Integrity check failed/, `${p}: DAV error body`);
      }
      // Other ranges: refused, or exactly the original bytes (chunks that are intact are authentic).
      for (const [s0, e0] of [[0, 99], [size - 10, size - 1], [70_000, 70_100]] as const) {
        if (e0 >= size) continue;
        const r = await davGet(t, ADMIN.uid, p, `bytes=${s0}-${e0}`);
        if (r.aborted || r.status >= 500) continue;
        assert.equal(r.status, 206, `${p} ${s0}-${e0}`);
        assert.ok(r.body!.equals(orig.subarray(s0, e0 + 1)), `${p} ${s0}-${e0}: WRONG BYTES served`);
      }
    }
  });

  test('a tampered trash item: the trashbin GET answers 5xx or aborts, never wrong bytes', async () => {
    let status = 0, body: Buffer | undefined;
    try {
      const r = await t.fetch(trashFlipHref);
      status = r.status;
      body = Buffer.from(await r.arrayBuffer());
    } catch { /* aborted */ }
    assert.ok(status === 0 || status >= 500, `trashbin GET served ${status} with ${body?.length} bytes`);
    if (body && status >= 500) assert.match(body.toString(), /Integrity check failed/);
    let audited = false;
    for (let i = 0; i < 50 && !audited; i++) {
      for await (const e of t.app.audit.read()) if (e.event === 'integrity.failure' && String(e.path).includes('trashed-flip.bin')) audited = true;
      if (!audited) await sleep(20);
    }
    assert.ok(audited, 'the audit log records the refused trash item');
  });

  test('the audit log records an integrity failure for every tampered file', async () => {
    await sleep(200);
    const entries = [];
    for await (const e of t.app.audit.read()) if (e.event === 'integrity.failure') entries.push(e);
    for (const p of damaged) {
      assert.ok(entries.some((e) => String(e.path).endsWith(`/${p}`)), `no integrity.failure audit entry for ${p}`);
    }
  });

  test('encryption:verify names every damaged file as USER/files/PATH and exits 7; --output=json lists them', async () => {
    const r = await occFor(t, ['encryption:verify']);
    assert.equal(r.code, 7, r.stderr);
    for (const p of [...damaged, ...damagedHistory]) assert.match(r.stdout, new RegExp(`^admin/files/${p.replaceAll('.', '\\.')}: .+`, 'm'), `verify does not name ${p}`);
    assert.ok(!r.stdout.includes('admin/files/intact.bin'), 'the intact file is not named');
    assert.ok(!/^admin\/files\/trashed-vers\.bin: /m.test(r.stdout), 'the intact trashed file is not named, only its version');
    assert.match(r.stdout, /12 damaged/);

    const j = await occFor(t, ['encryption:verify', 'admin', '--output=json']);
    assert.equal(j.code, 7);
    const rep = JSON.parse(j.stdout);
    assert.deepEqual(rep.damaged.map((d: { file: string }) => d.file).sort(), [...damaged, ...damagedHistory].map((p) => `admin/files/${p}`).sort());
    // verify checks kept versions too (the rollback case overwrote a file: its old blob is a version)
    const versions = (await t.app.db.selectFrom('file_versions').select('id').execute()).length;
    assert.equal(rep.checked, original.size + versions);
    let fromVerify = 0;
    for await (const e of t.app.audit.read()) if (e.event === 'integrity.failure' && e.source === 'encryption:verify') fromVerify++;
    assert.equal(fromVerify, 2 * (damaged.length + damagedHistory.length), 'each run records each damaged file');
  });
});
