/**
 * Migration 012 on a Coffer that imported with migration 011's `import_pending_files` (keyed by
 * file id): each pending file's row moves to `import_pending_blobs`, keyed by the blob its node
 * names (or the version an overwrite made of it, or its trashed node), with its size; a row whose
 * file no longer has a pending blob is not carried over.
 * SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { migrateToLatest } from '../../src/db/database.ts';
import * as m011 from '../../src/db/migrations/011-import-pending.ts';
import * as m014 from '../../src/db/migrations/014-trash-deleter-dismissed.ts';
import { NodeRepository } from '../../src/files/node-repository.ts';
import { NcPendingRepository } from '../../src/import/nextcloud-pending-repository.ts';
import { VersionRepository } from '../../src/versions/version-repository.ts';
import { openTestDatabase } from '../support/test-database.ts';

for (const kind of ['sqlite', 'pgsql'] as const) {
  describe(`migration 012: pending files of 011 become pending blobs (${kind})`, () => {
    it('moves each row to the blob it describes (the file\'s, or the version an overwrite made of it), with its size; drops rows of files no longer pending', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'coffer-m012-'));
      const { db, drop } = await openTestDatabase(kind, dir);
      try {
        // back to the schema 011 left: its table, 012 not applied (nor what came after: 013's indexes
        // are created if missing, 014's column is dropped here)
        await db.schema.dropTable('import_pending_blobs').execute();
        await m014.down(db);
        await m011.up(db);
        await db.deleteFrom('coffer_migrations' as never).where('name' as never, '>=', '012-import-pending-blobs' as never).execute();
        const nodes = new NodeRepository(db);
        const file = (fileId: number, name: string, size: number, blobId: string, codec: string) => nodes.insert(db, {
          fileId, owner: 'bob', parentId: 1, path: name, name, kind: 'file', size, mtime: 1, etag: `e${fileId}`, mimetype: 'text/plain',
          blobId, blobCodec: codec, checksum: null,
        });
        await nodes.insert(db, { fileId: 1, owner: 'bob', parentId: null, path: '', name: '', kind: 'dir', size: 0, mtime: 1, etag: 'e1', mimetype: 'httpd/unix-directory', blobId: null, blobCodec: null, checksum: null });
        await file(10, 'a.txt', 5000, 'b'.repeat(32), 'nc-pending');
        await file(11, 'b.txt', 7, 'c'.repeat(32), 'cfe1'); // overwritten since the import: its imported content is a version now
        await new VersionRepository().insertImported(db, {
          fileId: 11, owner: 'bob', version: 100, blobId: 'd'.repeat(32), blobCodec: 'nc-pending', blobSeal: null, size: 900, mimetype: 'text/plain',
          etag: 'v', checksum: null, author: null, label: null, createdAt: 100,
        });
        await file(12, 'c.txt', 8, 'e'.repeat(32), 'cfe1'); // converted, its row left behind: nothing pending
        for (const [fileid, nc] of [[10, 3], [11, 1], [12, 2]] as const) {
          await db.insertInto('import_pending_files' as never).values({ fileid, owner: 'bob', share_key: Buffer.from(`key${fileid}`).toString('base64'), nc_version: nc, error: null } as never).execute();
        }
        await migrateToLatest(db);
        const repo = new NcPendingRepository(db);
        assert.deepEqual(await repo.page('bob', '', 10), [
          { blobId: 'b'.repeat(32), fileId: 10, owner: 'bob', shareKey: Buffer.from('key10'), ncVersion: 3, size: 5000, error: null },
          { blobId: 'd'.repeat(32), fileId: 11, owner: 'bob', shareKey: Buffer.from('key11'), ncVersion: 1, size: 900, error: null },
        ]);
        assert.deepEqual(await repo.totals(), [{ owner: 'bob', files: 2, bytes: 5900, failed: 0 }]);
        const tables = await db.introspection.getTables();
        assert.ok(!tables.some((t) => t.name === 'import_pending_files'), '011\'s table is gone');
      } finally {
        await db.destroy();
        await drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
