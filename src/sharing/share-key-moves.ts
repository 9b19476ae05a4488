import type { Readable } from 'node:stream';
import { currentReader } from '../encryption/reader-grant.ts';
import type { ShareTopology } from '../encryption/share-keys.ts';
import { FilesService } from '../files/files-service.ts';
import type { TreeRef } from '../files/copy-move-service.ts';
import type { CopyMoveOptions, WriteOptions, WriteResult } from '../files/types.ts';
import type { ShareKeySync } from './share-key-sync.ts';

/**
 * FilesService whose moves within one tree keep per-user-mode sharing readable: a file or folder
 * moved below a shared node it was not below before gets its data keys added to that node's keyring
 * (keys never move with renames; only the keyring learns the newcomers). A write that committed
 * under another key than its shared folder's (the folder was shared meanwhile) is added the same
 * way (ShareKeySync.afterWrite), and so is every file a copy or a move from another owner's tree
 * writes. Everything else is FilesService.
 */
export class ShareKeyedFilesService extends FilesService {
  #sync: ShareKeySync | undefined;
  #topology: ShareTopology | undefined;

  /** Connects the share-key bookkeeping (set once the sharing services exist). */
  attachShareKeys(sync: ShareKeySync, topology: ShareTopology): void {
    this.#sync = sync;
    this.#topology = topology;
  }

  override async writeFile(uid: string, path: string, source: Readable, opts: WriteOptions = {}): Promise<WriteResult> {
    const res = await super.writeFile(uid, path, source, opts);
    const { node } = res;
    if (this.#sync && node.blobId) {
      await this.#sync.afterWrite(node.owner, node.fileId, node.blobId, currentReader() ?? { uid });
    }
    return res;
  }

  override move(uid: string, src: string, dst: string, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    return this.#tracked({ uid, path: src }, () => super.move(uid, src, dst, opts));
  }

  override async moveBetween(from: TreeRef, to: TreeRef, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    if (from.uid === to.uid) return this.#tracked(from, () => super.moveBetween(from, to, opts));
    return this.#written(await super.moveBetween(from, to, opts), to.uid);
  }

  override async copy(uid: string, src: string, dst: string, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    return this.#written(await super.copy(uid, src, dst, opts), uid);
  }

  override async copyBetween(from: TreeRef, to: TreeRef, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    return this.#written(await super.copyBetween(from, to, opts), to.uid);
  }

  /**
   * New blobs (a copy, or a move into another owner's tree, re-encrypts) chose their keys before
   * they committed, like writeFile's: the same check, for every file that arrived.
   */
  async #written(res: WriteResult, uid: string): Promise<WriteResult> {
    if (this.#sync) await this.#sync.afterArrival(res.node.owner, res.node.fileId, currentReader() ?? { uid });
    return res;
  }

  async #tracked(from: TreeRef, run: () => Promise<WriteResult>): Promise<WriteResult> {
    const sync = this.#sync;
    const topo = this.#topology;
    const node = sync && topo ? await this.tryStat(from.uid, from.path) : undefined;
    const before = node && topo ? await topo.sharedAncestors(from.uid, node.fileId) : [];
    const res = await run();
    if (!sync || !topo) return res;
    const after = await topo.sharedAncestors(res.node.owner, res.node.fileId);
    const nearest = after[0];
    if (nearest !== undefined && !before.includes(nearest)) {
      await sync.afterArrival(res.node.owner, res.node.fileId, currentReader() ?? { uid: from.uid });
    }
    return res;
  }
}
