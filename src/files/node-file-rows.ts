import type { Db } from '../db/database.ts';
import type { BlobHolder, BlobSwitch, FileRows, StorageFilter, StoredFile } from '../encryption/file-rows.ts';
import { NodeRepository } from './node-repository.ts';
import { UploadRepository } from './upload-repository.ts';
import { VersionRepository } from '../versions/version-repository.ts';
import { TrashRepository } from '../trash/trash-repository.ts';

/**
 * The encryption layer's FileRows port, answered by the node, version, trash and upload
 * repositories: versions and trashed files keep blobs of their own (by reference), which
 * encrypt-all, decrypt-all and verify must reach as well as the live files'.
 */
export class NodeFileRows implements FileRows {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #chunks = new UploadRepository();
  readonly #versions = new VersionRepository();
  readonly #trash = new TrashRepository();
  constructor(db: Db) { this.#db = db; this.#nodes = new NodeRepository(db); }

  async countFiles(filter: StorageFilter, owner?: string): Promise<{ files: number; bytes: number }> {
    const parts = await Promise.all([
      this.#nodes.countFiles(this.#db, filter, owner),
      this.#versions.countBlobs(this.#db, filter, owner),
      this.#trash.countFiles(this.#db, filter, owner),
    ]);
    return parts.reduce((a, b) => ({ files: a.files + b.files, bytes: a.bytes + b.bytes }));
  }

  filesPage(filter: StorageFilter, opts: { after?: number; limit?: number; owner?: string; holder?: BlobHolder } = {}): Promise<StoredFile[]> {
    const holder = opts.holder ?? 'node';
    if (holder === 'version') return this.#versions.blobsPage(this.#db, filter, opts);
    if (holder === 'trash') return this.#trash.filesPage(this.#db, filter, opts);
    return this.#nodes.filesPage(this.#db, filter, opts);
  }

  switchBlobs(switches: readonly BlobSwitch[]): Promise<boolean[]> {
    return this.#db.transaction().execute(async (trx) => {
      const out: boolean[] = [];
      for (const s of switches) {
        const holder = s.holder ?? 'node';
        const rowId = s.rowId ?? s.fileId;
        out.push(await (holder === 'version' ? this.#versions.switchBlob(trx, rowId, s.oldBlobId, s.newBlobId, s.codec, s.seal)
          : holder === 'trash' ? this.#trash.switchBlob(trx, rowId, s.oldBlobId, s.newBlobId, s.codec, s.seal)
            : this.#nodes.switchBlob(trx, rowId, s.oldBlobId, s.newBlobId, s.codec, s.seal)));
      }
      return out;
    });
  }

  async currentBlob(rowId: number, holder: BlobHolder = 'node'): Promise<{ blobId: string | null; path: string } | undefined> {
    if (holder === 'version') {
      const blobId = await this.#versions.blobOf(this.#db, rowId);
      return blobId === undefined ? undefined : { blobId, path: '' };
    }
    if (holder === 'trash') {
      const t = await this.#trash.blobOf(this.#db, rowId);
      return t && { blobId: t.blobId, path: '' };
    }
    const n = await this.#nodes.byId(this.#db, rowId);
    return n && { blobId: n.blobId, path: n.path };
  }

  async isReferenced(blobId: string): Promise<boolean> {
    const ids = [blobId];
    return (await this.#nodes.referencedBlobs(this.#db, ids)).has(blobId)
      || (await this.#versions.referenced(this.#db, ids)).has(blobId)
      || (await this.#trash.referenced(this.#db, ids)).has(blobId)
      || (await this.#chunks.referencedBlobs(this.#db, ids)).has(blobId);
  }
}
