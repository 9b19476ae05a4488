/**
 * The repository's fast paths (helper D): pooled file ids, the one-query write context, the
 * one-statement propagation, the lean folder listing (SQLite rows as arrays) and the compiled-once
 * query templates — each checked against the plain Kysely query it replaces, on both databases.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.ts';
import { QueryTemplate } from '../../src/db/query-template.ts';
import { ROWS_AS_ARRAYS } from '../../src/db/statement-cache.ts';
import { NodeRepository, newEtag, toNode } from '../../src/files/node-repository.ts';
import type { FileNode } from '../../src/files/types.ts';
import { openTestDatabase } from '../support/test-database.ts';

for (const kind of ['sqlite', 'pgsql'] as const) {
  describe(`NodeRepository fast paths on ${kind}`, () => {
    let dir: string;
    let db: Db;
    let repo: NodeRepository;
    let drop = async () => {};
    const ids: Record<string, number> = {};

    async function add(path: string, kindOf: 'file' | 'dir', parent: string | null, size = 0): Promise<FileNode> {
      const fileId = await repo.allocateFileId();
      ids[path] = fileId;
      return repo.insert(db, {
        fileId, owner: 'alice', parentId: parent === null ? null : ids[parent]!, path, name: path.split('/').pop()!, kind: kindOf,
        size, mtime: 1000, etag: newEtag(), mimetype: kindOf === 'dir' ? 'httpd/unix-directory' : 'text/plain',
        blobId: kindOf === 'file' ? `blob${fileId}xxxxxxxx` : null, blobCodec: kindOf === 'file' ? 'plain' : null,
        checksum: kindOf === 'file' ? 'SHA1:abc' : null,
      });
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'coffer-repo-'));
      ({ db, drop } = await openTestDatabase(kind, dir));
      repo = new NodeRepository(db);
      await db.insertInto('users').values({ uid: 'alice', display_name: 'Alice', email: null, password_hash: 'x', quota: 5000, enabled: 1, is_admin: 0, created_at: 0, last_login: null }).execute();
      await db.insertInto('users').values({ uid: 'bob', display_name: 'Bob', email: null, password_hash: 'x', quota: null, enabled: 1, is_admin: 0, created_at: 0, last_login: null }).execute();
      await add('', 'dir', null, 30);
      await add('a', 'dir', '', 30);
      await add('a/b', 'dir', 'a', 30);
      await add('a/b/f.txt', 'file', 'a/b', 10);
      await add('a/b/g & <h>.txt', 'file', 'a/b', 20);
      await add('a/b/sub', 'dir', 'a/b', 0);
    });
    after(async () => {
      await db.destroy();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('pooled file ids are unique under concurrency and never collide with direct inserts', async () => {
      const fresh = new NodeRepository(db);
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? fresh.allocateFileId(db) : fresh.allocateFileId())));
      got.push(...await Promise.all(Array.from({ length: 40 }, () => repo.allocateFileId())));
      assert.equal(new Set(got).size, got.length);
      assert.ok(got.every((id) => Number.isInteger(id) && id > 0));
    });

    test('writeContext returns the node, its parent, the root and the quota in one query', async () => {
      const c = await repo.writeContext(db, 'alice', 'a/b/f.txt');
      assert.equal(c.node?.fileId, ids['a/b/f.txt']);
      assert.equal(c.parent?.fileId, ids['a/b']);
      assert.equal(c.root?.fileId, ids['']);
      assert.equal(c.quota, 5000);
      const missing = await repo.writeContext(db, 'alice', 'a/new.txt');
      assert.equal(missing.node, undefined);
      assert.equal(missing.parent?.path, 'a');
      const top = await repo.writeContext(db, 'alice', 'top.txt');
      assert.equal(top.parent?.fileId, ids['']);
      assert.equal(top.root?.fileId, ids['']);
      const none = await repo.writeContext(db, 'bob', 'x.txt');
      assert.deepEqual(none, { node: undefined, parent: undefined, root: undefined, quota: null });
      assert.deepEqual(c.node, await repo.byPath(db, 'alice', 'a/b/f.txt'));
    });

    test('propagate updates size and etag of every ancestor, and the mtime of the direct parent only', async () => {
      const before = new Map((await db.selectFrom('nodes').selectAll().where('owner', '=', 'alice').execute()).map((r) => [r.path, toNode(r)]));
      await db.transaction().execute((trx) => repo.propagate(trx, 'alice', 'a/b/f.txt', 5, 4242));
      const after = new Map((await db.selectFrom('nodes').selectAll().where('owner', '=', 'alice').execute()).map((r) => [r.path, toNode(r)]));
      for (const p of ['', 'a', 'a/b']) {
        assert.equal(after.get(p)!.size, before.get(p)!.size + 5, p);
        assert.notEqual(after.get(p)!.etag, before.get(p)!.etag, p);
      }
      assert.equal(after.get('a/b')!.mtime, 4242);
      assert.equal(after.get('a')!.mtime, before.get('a')!.mtime);
      assert.equal(after.get('')!.mtime, before.get('')!.mtime);
      assert.deepEqual(after.get('a/b/f.txt'), before.get('a/b/f.txt'));
      await repo.propagate(db, 'alice', 'a/b/f.txt', -5);
      const back = await repo.byPath(db, 'alice', 'a/b');
      assert.equal(back!.size, before.get('a/b')!.size);
      assert.equal(back!.mtime, 4242);
    });

    test('the lean folder listing equals the full-row listing', async () => {
      const parent = (await repo.byPath(db, 'alice', 'a/b'))!;
      const lean = await repo.children(db, parent.fileId, parent);
      const full = await repo.children(db, parent.fileId);
      assert.deepEqual(lean, full);
      assert.deepEqual(lean.map((n) => n.name), ['f.txt', 'g & <h>.txt', 'sub']);
      const root = (await repo.byPath(db, 'alice', ''))!;
      assert.deepEqual(await repo.children(db, root.fileId, root), await repo.children(db, root.fileId));
    });

    test('swapContent is a compare-and-swap on the blob id', async () => {
      const f = (await repo.byPath(db, 'alice', 'a/b/f.txt'))!;
      const c = { blobId: 'newblob00000001', blobCodec: 'plain', size: 11, mtime: 7, etag: 'e1', checksum: null, mimetype: 'text/plain' };
      assert.equal(await repo.swapContent(db, f.fileId, 'someotherblob01', c), false);
      assert.equal(await repo.swapContent(db, f.fileId, f.blobId, c), true);
      const g = (await repo.byPath(db, 'alice', 'a/b/f.txt'))!;
      assert.equal(g.blobId, 'newblob00000001');
      assert.equal(g.size, 11);
      assert.equal(await repo.swapContent(db, f.fileId, f.blobId, c), false, 'the old blob id no longer matches');
      const sub = (await repo.byPath(db, 'alice', 'a/b/sub'))!;
      assert.equal(await repo.swapContent(db, sub.fileId, null, { ...c, blobId: 'newblob00000002' }), true, 'a null blob id matches null');
    });

    test('a QueryTemplate binds new values each run, keeps constants, and compiles per parameter count', async () => {
      const t = new QueryTemplate((d, p) => d.selectFrom('nodes').select(['path', 'kind'])
        .where('owner', '=', p[0] as string).where('kind', '=', 'dir').where('path', 'in', p.slice(1) as string[]).orderBy('path'));
      assert.deepEqual((await t.execute(db, ['alice', 'a', 'a/b/f.txt'])).rows, [{ path: 'a', kind: 'dir' }]);
      assert.deepEqual((await t.execute(db, ['alice', 'a/b', '', 'a/b/sub'])).rows.map((r) => r.path), ['', 'a/b', 'a/b/sub']);
      assert.deepEqual((await t.execute(db, ['bob', 'a'])).rows, []);
      await db.transaction().execute(async (trx) => {
        assert.equal((await t.execute(trx, ['alice', 'a'])).rows.length, 1);
      });
    });

    test('ROWS_AS_ARRAYS gives arrays on SQLite and objects on PostgreSQL, in select order', async () => {
      const { rows } = await sql<unknown>`select path, kind from nodes where owner = ${'alice'} and path = ${'a'} ${sql.raw(ROWS_AS_ARRAYS)}`.execute(db);
      assert.deepEqual(rows, kind === 'sqlite' ? [['a', 'dir']] : [{ path: 'a', kind: 'dir' }]);
      const plain = await db.selectFrom('nodes').select(['path']).where('path', '=', 'a').execute();
      assert.deepEqual(plain, [{ path: 'a' }], 'other statements still return objects');
    });
  });
}
