import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../src/db/database.ts';
import {
  AlreadyExistsError, ConflictError, ForbiddenError, NotFoundError, PreconditionFailedError, QuotaExceededError, ValidationError,
} from '../../src/errors.ts';
import { FilesService } from '../../src/files/files-service.ts';
import { silentLogger } from '../../src/logger.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { openTestDatabase } from '../support/test-database.ts';
import { userActor } from '../../src/actor.ts';

const text = (s: string) => Readable.from([Buffer.from(s)]);
async function readAll(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

for (const kind of ['sqlite', 'pgsql'] as const) {
  describe(`FilesService on ${kind}`, () => {
    let dir: string;
    let db: Db;
    let files: FilesService;
    let blobs: LocalBlobStore;
    let drop = async () => {};

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'coffer-files-'));
      ({ db, drop } = await openTestDatabase(kind, dir));
      blobs = new LocalBlobStore(join(dir, 'blobs'));
      await blobs.init();
      files = new FilesService({ db, blobs, log: silentLogger() });
      await db.insertInto('users').values({ uid: 'alice', display_name: 'Alice', email: null, password_hash: 'x', quota: null, enabled: 1, is_admin: 0, created_at: 0, last_login: null }).execute();
      await db.insertInto('users').values({ uid: 'bob', display_name: 'Bob', email: null, password_hash: 'x', quota: 100, enabled: 1, is_admin: 0, created_at: 0, last_login: null }).execute();
    });
    after(async () => {
      await db.destroy();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('write, read, sizes and etags propagate to the root', async () => {
      const root0 = await files.stat('alice', '');
      await files.mkdir('alice', 'docs');
      await files.mkdir('alice', 'docs/deep');
      const docs0 = await files.stat('alice', 'docs');
      const { node, created } = await files.writeFile(userActor('alice', 'password'), 'alice', 'docs/deep/a.txt', text('hello'), { mtime: 1700000000 });
      assert.equal(created, true);
      assert.equal(node.size, 5);
      assert.equal(node.mtime, 1700000000);
      assert.equal(node.mimetype, 'text/plain');
      const root1 = await files.stat('alice', '');
      const docs1 = await files.stat('alice', 'docs');
      assert.notEqual(root1.etag, root0.etag);
      assert.notEqual(docs1.etag, docs0.etag);
      assert.equal(root1.size, 5);
      assert.equal(docs1.size, 5);
      assert.equal(await readAll((await files.openRead(userActor('alice', 'password'), 'alice', 'docs/deep/a.txt')).stream), 'hello');
      assert.equal(await readAll((await files.openRead(userActor('alice', 'password'), 'alice', 'docs/deep/a.txt', { start: 1, end: 3 })).stream), 'ell');
      const again = await files.writeFile(userActor('alice', 'password'), 'alice', 'docs/deep/a.txt', text('hello world'));
      assert.equal(again.created, false);
      assert.equal(again.node.fileId, node.fileId);
      assert.notEqual(again.node.etag, node.etag);
      assert.equal((await files.stat('alice', 'docs')).size, 11);
      // the old blob is gone: exactly one blob for one file
      let count = 0;
      for await (const _ of blobs.list()) count++;
      assert.equal(count, 1);
    });

    test('names never reach the blob store', async () => {
      await files.writeFile(userActor('alice', 'password'), 'alice', 'secret-name.txt', text('x'));
      const names: string[] = [];
      const walk = (d: string) => { for (const e of readdirSync(d, { withFileTypes: true })) { names.push(e.name); if (e.isDirectory()) walk(join(d, e.name)); } };
      walk(join(dir, 'blobs'));
      assert.ok(!names.some((n) => n.includes('secret') || n.includes('docs')));
    });

    test('preconditions, conflicts, checksums, expected size', async () => {
      await assert.rejects(files.writeFile(userActor('alice', 'password'), 'alice', 'nope/x.txt', text('x')), ConflictError);
      await assert.rejects(files.mkdir('alice', 'nope/x'), ConflictError);
      await assert.rejects(files.mkdir('alice', 'docs'), AlreadyExistsError);
      await assert.rejects(files.writeFile(userActor('alice', 'password'), 'alice', 'docs', text('x')), ConflictError);
      await assert.rejects(files.writeFile(userActor('alice', 'password'), 'alice', 'docs/deep/a.txt', text('x'), { ifNoneMatch: ['*'] }), PreconditionFailedError);
      await assert.rejects(files.writeFile(userActor('alice', 'password'), 'alice', 'docs/deep/a.txt', text('x'), { ifMatch: ['wrong'] }), PreconditionFailedError);
      await assert.rejects(files.writeFile(userActor('alice', 'password'), 'alice', 'new.txt', text('x'), { ifMatch: ['*'] }), PreconditionFailedError);
      const sha = createHash('sha1').update('abc').digest('hex');
      const ok = await files.writeFile(userActor('alice', 'password'), 'alice', 'sum.txt', text('abc'), { checksum: `SHA1:${sha}` });
      assert.equal(ok.node.checksum, `SHA1:${sha}`);
      await assert.rejects(files.writeFile(userActor('alice', 'password'), 'alice', 'sum2.txt', text('abd'), { checksum: `SHA1:${sha}` }), ValidationError);
      await assert.rejects(files.writeFile(userActor('alice', 'password'), 'alice', 'len.txt', text('abc'), { expectedSize: 4 }), ValidationError);
      assert.equal(await files.tryStat('alice', 'sum2.txt'), undefined);
      assert.equal(await files.tryStat('alice', 'len.txt'), undefined);
      await assert.rejects(files.stat('alice', 'a/../b'), ValidationError);
      await assert.rejects(files.delete('alice', ''), ForbiddenError);
    });

    test('move keeps file ids, rewrites subtrees, overwrite rules', async () => {
      await files.mkdir('alice', 'm');
      await files.mkdir('alice', 'm/sub');
      const f = await files.writeFile(userActor('alice', 'password'), 'alice', 'm/sub/f.bin', text('12345'));
      await files.properties.patch(f.node.fileId, [{ op: 'set', prop: { namespace: 'urn:x', name: 'p', value: 'v' } }]);
      const before = (await files.stat('alice', '')).size;
      const r = await files.move(userActor('alice', 'password'), 'alice', 'm', 'moved');
      assert.equal(r.created, true);
      const moved = await files.stat('alice', 'moved/sub/f.bin');
      assert.equal(moved.fileId, f.node.fileId);
      assert.equal((await files.properties.get(moved.fileId))[0].value, 'v');
      await assert.rejects(files.stat('alice', 'm/sub/f.bin'), NotFoundError);
      assert.equal((await files.stat('alice', '')).size, before);
      assert.equal((await files.stat('alice', 'moved')).size, 5);
      await files.writeFile(userActor('alice', 'password'), 'alice', 'target.txt', text('t'));
      await assert.rejects(files.move(userActor('alice', 'password'), 'alice', 'moved/sub/f.bin', 'target.txt', { overwrite: false }), AlreadyExistsError);
      const o = await files.move(userActor('alice', 'password'), 'alice', 'moved/sub/f.bin', 'target.txt', { overwrite: true });
      assert.equal(o.created, false);
      assert.equal(await readAll((await files.openRead(userActor('alice', 'password'), 'alice', 'target.txt')).stream), '12345');
      await assert.rejects(files.move(userActor('alice', 'password'), 'alice', 'moved', 'moved/sub/x'), ForbiddenError);
      await assert.rejects(files.move(userActor('alice', 'password'), 'alice', 'moved', 'nothere/x'), ConflictError);
    });

    test('copy gives new ids, copies content, checksums and properties; depth 0', async () => {
      await files.mkdir('alice', 'c');
      const f = await files.writeFile(userActor('alice', 'password'), 'alice', 'c/f.txt', text('copy me'), { checksum: 'MD5:' + createHash('md5').update('copy me').digest('hex') });
      await files.properties.patch(f.node.fileId, [{ op: 'set', prop: { namespace: 'urn:x', name: 'q', value: '1' } }]);
      const r = await files.copy(userActor('alice', 'password'), 'alice', 'c', 'c2');
      assert.equal(r.created, true);
      const copied = await files.stat('alice', 'c2/f.txt');
      assert.notEqual(copied.fileId, f.node.fileId);
      assert.equal(copied.checksum, f.node.checksum);
      assert.equal(await readAll((await files.openRead(userActor('alice', 'password'), 'alice', 'c2/f.txt')).stream), 'copy me');
      assert.equal((await files.properties.get(copied.fileId)).length, 1);
      assert.equal((await files.stat('alice', 'c2')).size, 7);
      await files.copy(userActor('alice', 'password'), 'alice', 'c', 'c3', { depth: 0 });
      assert.deepEqual(await files.children('alice', 'c3'), []);
      await assert.rejects(files.copy(userActor('alice', 'password'), 'alice', 'c', 'c2', { overwrite: false }), AlreadyExistsError);
    });

    test('delete removes subtree, blobs and updates sizes', async () => {
      const used = (await files.quota('alice')).used;
      const sz = (await files.stat('alice', 'c2')).size;
      await files.delete('alice', 'c2');
      assert.equal((await files.quota('alice')).used, used - sz);
      await assert.rejects(files.stat('alice', 'c2/f.txt'), NotFoundError);
      await assert.rejects(files.delete('alice', 'c2'), NotFoundError);
    });

    test('quota is enforced (507 material)', async () => {
      await files.writeFile(userActor('bob', 'password'), 'bob', 'a.bin', Readable.from([Buffer.alloc(60)]));
      await assert.rejects(files.writeFile(userActor('bob', 'password'), 'bob', 'b.bin', Readable.from([Buffer.alloc(60)])), QuotaExceededError);
      await assert.rejects(files.writeFile(userActor('bob', 'password'), 'bob', 'b.bin', Readable.from([Buffer.alloc(1)]), { expectedSize: 50 }), QuotaExceededError);
      assert.equal((await files.quota('bob')).used, 60);
    });

    test('unicode names are NFC and children sort', async () => {
      await files.mkdir('alice', 'u');
      await files.writeFile(userActor('alice', 'password'), 'alice', 'u/cafe\u0301 +;&.txt', text('x'));
      const n = await files.stat('alice', 'u/caf\u00e9 +;&.txt');
      assert.equal(n.name, 'caf\u00e9 +;&.txt');
      await files.writeFile(userActor('alice', 'password'), 'alice', 'u/A', text('x'));
      assert.deepEqual((await files.children('alice', 'u')).map((c) => c.name), ['A', 'caf\u00e9 +;&.txt']);
    });

    test('recalculate checksum', async () => {
      const sum = await files.recalculateChecksum(userActor('alice', 'password'), 'alice', 'target.txt', 'SHA1');
      assert.equal(sum, 'SHA1:' + createHash('sha1').update('12345').digest('hex'));
      assert.match((await files.stat('alice', 'target.txt')).checksum ?? '', /SHA1:/);
    });

    test('walk honours depth', async () => {
      const all: string[] = [];
      for await (const n of files.walk('alice', 'moved', Infinity)) all.push(n.path);
      assert.deepEqual(all, ['moved', 'moved/sub']);
      assert.ok(existsSync(dir));
    });
  });
}
