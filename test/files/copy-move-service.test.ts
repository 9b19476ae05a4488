/**
 * CopyMoveService between two owners' trees, at the service level (SQLite and PostgreSQL): a
 * write into the source while its content is being copied makes the MOVE fail with nothing lost
 * (the new version stays where it was, no copy is committed, no blob is left behind); a failing
 * target write leaves the source untouched; the rows, sizes and ownership are right after success.
 * A file copied onto a file is an overwrite: a write or a replacement of the destination meanwhile
 * loses no content.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../src/db/database.ts';
import { ConflictError, QuotaExceededError } from '../../src/errors.ts';
import { FilesService } from '../../src/files/files-service.ts';
import { silentLogger } from '../../src/logger.ts';
import type { BlobContext, PutResult } from '../../src/storage/blob-store.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { openTestDatabase } from '../support/test-database.ts';
import { VersionRecorder } from '../../src/versions/version-recorder.ts';
import { VersionRepository } from '../../src/versions/version-repository.ts';
import { SYSTEM, userActor } from '../../src/actor.ts';

const text = (s: string) => Readable.from([Buffer.from(s)]);
async function readAll(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

/** A local store that can run a hook before a put (to interleave a concurrent write). */
class HookedStore extends LocalBlobStore {
  beforePut: ((ctx: BlobContext) => Promise<void>) | undefined;
  override async put(blobId: string, source: Readable, ctx: BlobContext): Promise<PutResult> {
    const hook = this.beforePut;
    if (hook) { this.beforePut = undefined; await hook(ctx); }
    return super.put(blobId, source, ctx);
  }
}

for (const kind of ['sqlite', 'pgsql'] as const) {
  describe(`CopyMoveService across owners on ${kind}`, () => {
    let dir: string;
    let db: Db;
    let files: FilesService;
    /** The same tree, keeping overwritten content as versions. */
    let kept: FilesService;
    const versions = new VersionRepository();
    let blobs: HookedStore;
    let drop = async () => {};
    const content = async (uid: string, p: string) => readAll((await files.openRead(userActor(uid, 'password'), uid, p)).stream);
    const liveBlobs = async () => new Set((await db.selectFrom('nodes').select('blob_id').where('blob_id', 'is not', null).execute()).map((r) => r.blob_id!));
    const storedBlobs = async () => { const out: string[] = []; for await (const b of blobs.list()) out.push(b.blobId); return out.sort(); };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'coffer-cm-'));
      ({ db, drop } = await openTestDatabase(kind, dir));
      blobs = new HookedStore(join(dir, 'blobs'));
      await blobs.init();
      files = new FilesService({ db, blobs, log: silentLogger() });
      kept = new FilesService({ db, blobs, log: silentLogger(), versions: new VersionRecorder(versions) });
      for (const [uid, quota] of [['alice', null], ['bob', 50]] as const) {
        await db.insertInto('users').values({ uid, display_name: uid, email: null, password_hash: 'x', quota, enabled: 1, is_admin: 0, created_at: 0, last_login: null }).execute();
      }
    });
    after(async () => {
      await db.destroy();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a folder moves into another tree: new owner, sizes on both sides, source gone, blobs swapped', async () => {
      await files.mkdir('alice', 'src');
      await files.mkdir('alice', 'src/in');
      await files.writeFile(userActor('alice', 'password'), 'alice', 'src/a.txt', text('aaaa'));
      await files.writeFile(userActor('alice', 'password'), 'alice', 'src/in/b.txt', text('bb'));
      await files.ensureHome('bob');
      const before = await storedBlobs();
      const r = await files.moveBetween(SYSTEM, { uid: 'alice', path: 'src' }, { uid: 'bob', path: 'got' });
      assert.equal(r.created, true);
      assert.equal(r.node.owner, 'bob');
      assert.equal(r.node.size, 6);
      assert.equal((await files.stat('bob', '')).size, 6);
      assert.equal((await files.stat('alice', '')).size, 0);
      assert.equal(await files.tryStat('alice', 'src'), undefined);
      assert.equal(await content('bob', 'got/in/b.txt'), 'bb');
      assert.equal((await files.stat('bob', 'got/in')).size, 2);
      const after = await storedBlobs();
      assert.equal(after.length, before.length, 'one blob per file, the old ones deleted');
      assert.ok(after.every((b) => !before.includes(b)));
      assert.deepEqual(after, [...await liveBlobs()].sort());
    });

    test('a write into the source during the copy: ConflictError, the new version kept, nothing committed, no blob left', async () => {
      await files.mkdir('alice', 'busy');
      await files.writeFile(userActor('alice', 'password'), 'alice', 'busy/1.txt', text('one'));
      await files.writeFile(userActor('alice', 'password'), 'alice', 'busy/2.txt', text('two'));
      blobs.beforePut = async (ctx) => {
        assert.equal(ctx.owner, 'bob');
        await files.writeFile(userActor('alice', 'password'), 'alice', 'busy/2.txt', text('two, second version'));
      };
      await assert.rejects(files.moveBetween(SYSTEM, { uid: 'alice', path: 'busy' }, { uid: 'bob', path: 'busy' }), ConflictError);
      assert.equal(await content('alice', 'busy/2.txt'), 'two, second version');
      assert.equal(await content('alice', 'busy/1.txt'), 'one');
      assert.equal(await files.tryStat('bob', 'busy'), undefined);
      assert.deepEqual(await storedBlobs(), [...await liveBlobs()].sort());
      // a file added below the source meanwhile is not lost either
      blobs.beforePut = async () => { await files.writeFile(userActor('alice', 'password'), 'alice', 'busy/3.txt', text('three')); };
      await assert.rejects(files.moveBetween(SYSTEM, { uid: 'alice', path: 'busy' }, { uid: 'bob', path: 'busy' }), ConflictError);
      assert.equal(await content('alice', 'busy/3.txt'), 'three');
      assert.deepEqual(await storedBlobs(), [...await liveBlobs()].sort());
      // undisturbed, it goes through
      await files.moveBetween(SYSTEM, { uid: 'alice', path: 'busy' }, { uid: 'bob', path: 'busy' });
      assert.equal(await content('bob', 'busy/2.txt'), 'two, second version');
    });

    test('the receiving owner\'s quota: refused before any byte is copied, and checked again at commit', async () => {
      await files.writeFile(userActor('alice', 'password'), 'alice', 'big.txt', text('x'.repeat(60)));
      const stored = await storedBlobs();
      await assert.rejects(files.copyBetween(SYSTEM, { uid: 'alice', path: 'big.txt' }, { uid: 'bob', path: 'big.txt' }), QuotaExceededError);
      assert.deepEqual(await storedBlobs(), stored);
      // space taken by bob while the copy runs: the commit refuses, the written copy is removed
      // (mid.txt fills bob's space exactly: the early check lets it through, the commit's does not)
      const fits = 'y'.repeat(50 - (await files.quota('bob')).used);
      await files.writeFile(userActor('alice', 'password'), 'alice', 'mid.txt', text(fits));
      blobs.beforePut = async () => { await files.writeFile(userActor('bob', 'password'), 'bob', 'filler.txt', text('z')); };
      await assert.rejects(files.moveBetween(SYSTEM, { uid: 'alice', path: 'mid.txt' }, { uid: 'bob', path: 'mid.txt' }), QuotaExceededError);
      assert.equal(blobs.beforePut, undefined, 'refused at the commit, after the content was written');
      assert.equal(await content('alice', 'mid.txt'), fits);
      assert.equal(await files.tryStat('bob', 'mid.txt'), undefined);
      assert.deepEqual(await storedBlobs(), [...await liveBlobs()].sort());
    });

    test('a file copied onto a file while it is overwritten or replaced: no content lost, no blob left', async () => {
      const alice = userActor('alice', 'password');
      await kept.writeFile(alice, 'alice', 'cp-src.txt', text('the source'), { mtime: 1_700_000_300 });
      await kept.writeFile(alice, 'alice', 'cp-dst.txt', text('v1'), { mtime: 1_700_000_100 });
      const dst = await kept.stat('alice', 'cp-dst.txt');
      // a PUT commits while the copy's content is written: it is overwritten in turn, and kept
      blobs.beforePut = async () => { await kept.writeFile(alice, 'alice', 'cp-dst.txt', text('v2, a PUT meanwhile'), { mtime: 1_700_000_200 }); };
      const r = await kept.copy(alice, 'alice', 'cp-src.txt', 'cp-dst.txt');
      assert.equal(r.created, false);
      assert.equal(r.node.fileId, dst.fileId);
      assert.equal(await content('alice', 'cp-dst.txt'), 'the source');
      const vs = await versions.list(db, dst.fileId);
      assert.deepEqual(vs.map((v) => v.version), [1_700_000_200, 1_700_000_100]);
      for (const [v, want] of [[vs[0]!, 'v2, a PUT meanwhile'], [vs[1]!, 'v1']] as const) {
        assert.equal(await readAll(await blobs.get(v.blobId, v.blobCodec, { fileId: dst.fileId, owner: 'alice', actor: alice })), want);
      }
      // the destination deleted and written anew meanwhile (another file id): a conflict, nothing committed
      blobs.beforePut = async () => {
        await kept.delete('alice', 'cp-dst.txt');
        await kept.writeFile(alice, 'alice', 'cp-dst.txt', text('another file'));
      };
      await assert.rejects(kept.copy(alice, 'alice', 'cp-src.txt', 'cp-dst.txt'), ConflictError);
      assert.equal(await content('alice', 'cp-dst.txt'), 'another file');
      const versionBlobs = (await db.selectFrom('file_versions').select('blob_id').execute()).map((x) => x.blob_id);
      assert.deepEqual(await storedBlobs(), [...await liveBlobs(), ...versionBlobs].sort());
    });
  });
}
