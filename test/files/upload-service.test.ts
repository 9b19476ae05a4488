import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { ValidationError, NotFoundError, AlreadyExistsError, QuotaExceededError } from '../../src/errors.ts';
import { UploadService, compareChunkNames, parseChunkName } from '../../src/files/upload-service.ts';
import type { ChunkInfo } from '../../src/files/upload-repository.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { userActor } from '../../src/actor.ts';

const chunk = (name: string, size: number, offset: number | null = null): ChunkInfo => ({ name, size, mtime: 0, offset, blobId: 'x', codec: 'plain' });

test('chunk names sort numerically for all three schemes', () => {
  assert.deepEqual(['10', '9', '1'].sort(compareChunkNames), ['1', '9', '10']);
  assert.deepEqual(['0000000000000010', '0000000000000002'].sort(compareChunkNames), ['0000000000000002', '0000000000000010']);
  assert.deepEqual(['000000000000010-000000000000019', '000000000000000-000000000000009'].sort(compareChunkNames),
    ['000000000000000-000000000000009', '000000000000010-000000000000019']);
  assert.deepEqual(parseChunkName('000000000000005-000000000000009'), { index: 5n, start: 5, end: 9 });
  for (const bad of ['.file', 'abc', '1-2-3', '', '-1', '1.5']) assert.throws(() => parseChunkName(bad), ValidationError, bad);
});

test('verifyChunks: contiguous offsets, consecutive indices, total length', () => {
  assert.equal(UploadService.verifyChunks([chunk('0', 5, 0), chunk('1', 5, 5), chunk('2', 2, 10)], 12), 12);
  assert.equal(UploadService.verifyChunks([chunk('1', 5), chunk('2', 5)], null), 10);
  assert.equal(UploadService.verifyChunks([chunk('000000000000000-000000000000004', 5, 0), chunk('000000000000005-000000000000009', 5, 5)], 10), 10);
  assert.throws(() => UploadService.verifyChunks([chunk('0', 5, 0), chunk('2', 5, 10)], null), /gap or overlap/);
  assert.throws(() => UploadService.verifyChunks([chunk('0', 5, 0), chunk('1', 5, 4)], null), /gap or overlap/);
  assert.throws(() => UploadService.verifyChunks([chunk('1', 5), chunk('3', 5)], null), /missing chunk/);
  assert.throws(() => UploadService.verifyChunks([chunk('1', 5), chunk('2', 5)], 11), /OC-Total-Length/);
  assert.equal(UploadService.verifyChunks([], 0), 0);
});

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`UploadService on ${db}`, () => {
    let t: TestInstance;
    before(async () => { t = await startTestInstance({ db }); await t.app.files.ensureHome('admin'); });
    after(async () => { await t.stop(); });

    test('create, put (replace), list in numeric order, assemble atomically, remove', async () => {
      const up = t.app.uploads;
      await up.create('admin', 'u1', { totalLength: 11 });
      await assert.rejects(up.create('admin', 'u1'), AlreadyExistsError);
      assert.equal((await up.putChunk(userActor('admin', 'password'), 'admin', 'u1', '10', Readable.from([Buffer.from('d')]))).created, true);
      await up.putChunk(userActor('admin', 'password'), 'admin', 'u1', '9', Readable.from([Buffer.from('XXXX')]));
      assert.equal((await up.putChunk(userActor('admin', 'password'), 'admin', 'u1', '9', Readable.from([Buffer.from('hello ')]))).created, false, 'replaced');
      await up.putChunk(userActor('admin', 'password'), 'admin', 'u1', '8', Readable.from([Buffer.from('')]));
      await assert.rejects(up.putChunk(userActor('admin', 'password'), 'admin', 'u1', '11', Readable.from([Buffer.from('worl')]), { expectedSize: 5 }), ValidationError);
      await up.putChunk(userActor('admin', 'password'), 'admin', 'u1', '11', Readable.from([Buffer.from('worl')]));
      // order by number: 8 (empty), 9, 10, 11 → "hello " + "d" + "worl" — indices consecutive
      assert.deepEqual((await up.chunks('admin', 'u1')).map((c) => c.name), ['8', '9', '10', '11']);
      const res = await up.assemble(userActor('admin', 'password'), 'admin', 'u1', 'out.txt', { mtime: 1234567890, checksum: 'SHA1:' + createHash('sha1').update('hello dworl').digest('hex') });
      assert.equal(res.created, true);
      assert.equal(res.node.size, 11);
      assert.equal(res.node.mtime, 1234567890);
      const content = await t.app.files.openRead(userActor('admin', 'password'), 'admin', 'out.txt');
      let text = '';
      for await (const b of content.stream) text += (b as Buffer).toString();
      assert.equal(text, 'hello dworl');
      assert.equal(await up.tryGet('admin', 'u1'), undefined, 'upload removed after assembly');
      assert.equal((await up.chunks('admin', 'u1')).length, 0);
      await assert.rejects(up.remove('admin', 'u1'), NotFoundError);
      await assert.rejects(up.putChunk(userActor('admin', 'password'), 'admin', 'nope', '1', Readable.from([Buffer.from('x')])), NotFoundError);
    });

    test('a gap leaves the destination untouched and keeps the upload', async () => {
      const up = t.app.uploads;
      await t.app.files.writeFile(userActor('admin', 'password'), 'admin', 'keep.txt', Readable.from([Buffer.from('original')]), {});
      await up.create('admin', 'gap');
      await up.putChunk(userActor('admin', 'password'), 'admin', 'gap', '000000000000000-000000000000002', Readable.from([Buffer.from('abc')]));
      await up.putChunk(userActor('admin', 'password'), 'admin', 'gap', '000000000000005-000000000000007', Readable.from([Buffer.from('fgh')]));
      await assert.rejects(up.assemble(userActor('admin', 'password'), 'admin', 'gap', 'keep.txt', {}), ValidationError);
      const node = await t.app.files.stat('admin', 'keep.txt');
      assert.equal(node.size, 8);
      assert.equal((await up.chunks('admin', 'gap')).length, 2, 'chunks kept for a retry');
      await assert.rejects(up.putChunk(userActor('admin', 'password'), 'admin', 'gap', '000000000000003-000000000000009', Readable.from([Buffer.from('de')])), ValidationError, 'size does not match the name');
      await up.remove('admin', 'gap');
    });

    test('quota: an upload larger than the free space is refused at create', async () => {
      await t.addUser('q', 'q-password-123', { quota: 100 });
      await t.app.files.ensureHome('q');
      await assert.rejects(t.app.uploads.create('q', 'big', { totalLength: 101 }), QuotaExceededError);
      await t.app.uploads.create('q', 'fits', { totalLength: 100 });
      await assert.rejects(t.app.uploads.putChunk(userActor('q', 'password'), 'q', 'fits', '1', Readable.from([Buffer.from('x')]), { totalLength: 1000 }), QuotaExceededError);
      await t.app.uploads.remove('q', 'fits');
      // Chunks of unassembled uploads are capped at the whole quota (no disk filling past it).
      await t.app.uploads.create('q', 'p1');
      await t.app.uploads.create('q', 'p2');
      await t.app.uploads.putChunk(userActor('q', 'password'), 'q', 'p1', '1', Readable.from([Buffer.alloc(60)]));
      await assert.rejects(t.app.uploads.putChunk(userActor('q', 'password'), 'q', 'p2', '1', Readable.from([Buffer.alloc(60)])), QuotaExceededError);
      await t.app.uploads.putChunk(userActor('q', 'password'), 'q', 'p1', '1', Readable.from([Buffer.alloc(90)])); // replacing its own chunk counts once
      await t.app.uploads.putChunk(userActor('q', 'password'), 'q', 'p2', '1', Readable.from([Buffer.alloc(10)]));
      assert.deepEqual((await t.app.uploads.chunks('q', 'p2')).map((c) => c.size), [10]);
      await t.app.uploads.removeAllFor('q');
      assert.deepEqual(await t.app.uploads.list('q'), []);
    });

    test('cleanup removes uploads idle for 24 h with their chunk blobs, keeps active ones', async () => {
      const up = t.app.uploads;
      const now = Math.floor(Date.now() / 1000);
      await up.create('admin', 'stale', {}, now - 90_000);
      await up.putChunk(userActor('admin', 'password'), 'admin', 'stale', '1', Readable.from([Buffer.from('old')]), {}, now - 90_000);
      await up.create('admin', 'resumed', {}, now - 90_000);
      await up.putChunk(userActor('admin', 'password'), 'admin', 'resumed', '1', Readable.from([Buffer.from('recent')]), {}, now - 60);
      await up.create('admin', 'fresh', {}, now);
      const staleBlob = (await up.chunks('admin', 'stale'))[0]!.blobId;
      const blobsBefore = new Set<string>();
      for await (const e of t.app.rawBlobs.list()) blobsBefore.add(e.blobId);
      assert.ok(blobsBefore.has(staleBlob));
      assert.equal(await up.cleanup(now), 1);
      assert.equal(await up.tryGet('admin', 'stale'), undefined);
      assert.ok(await up.tryGet('admin', 'resumed'));
      assert.ok(await up.tryGet('admin', 'fresh'));
      const after: string[] = [];
      for await (const e of t.app.rawBlobs.list()) after.push(e.blobId);
      assert.ok(!after.includes(staleBlob), 'chunk blob deleted');
      await up.remove('admin', 'resumed');
      await up.remove('admin', 'fresh');
    });
  });
}
