import type { Db } from '../db/database.ts';
import type { BlobSwitch, FileRows, StorageFilter, StoredFile } from '../encryption/file-rows.ts';
import { NodeRepository } from './node-repository.ts';
import { UploadRepository } from './upload-repository.ts';

/** The encryption layer's FileRows port, answered by the node and upload repositories. */
export class NodeFileRows implements FileRows {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #chunks = new UploadRepository();
  constructor(db: Db) { this.#db = db; this.#nodes = new NodeRepository(db); }

  countFiles(filter: StorageFilter, owner?: string): Promise<{ files: number; bytes: number }> {
    return this.#nodes.countFiles(this.#db, filter, owner);
  }

  filesPage(filter: StorageFilter, opts?: { after?: number; limit?: number; owner?: string }): Promise<StoredFile[]> {
    return this.#nodes.filesPage(this.#db, filter, opts);
  }

  switchBlobs(switches: readonly BlobSwitch[]): Promise<boolean[]> {
    return this.#db.transaction().execute(async (trx) => {
      const out: boolean[] = [];
      for (const s of switches) out.push(await this.#nodes.switchBlob(trx, s.fileId, s.oldBlobId, s.newBlobId, s.codec, s.seal));
      return out;
    });
  }

  async currentBlob(fileId: number): Promise<{ blobId: string | null; path: string } | undefined> {
    const n = await this.#nodes.byId(this.#db, fileId);
    return n && { blobId: n.blobId, path: n.path };
  }

  async isReferenced(blobId: string): Promise<boolean> {
    return (await this.#nodes.referencedBlobs(this.#db, [blobId])).has(blobId)
      || (await this.#chunks.referencedBlobs(this.#db, [blobId])).has(blobId);
  }
}
