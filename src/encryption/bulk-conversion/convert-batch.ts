import type { FileRows } from '../file-rows.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { ConvertJournal } from './convert-journal.ts';
import type { ConvertibleNode } from '../encryption-service.ts';
import type { RowSealer } from '../../db/row-sealer.ts';

/** A file whose new blob is written and durable, waiting for its row switch. */
export interface StagedConversion {
  readonly node: ConvertibleNode;
  readonly newId: string;
  readonly codec: string;
}

export interface ConvertBatcherOptions {
  rows: FileRows;
  /** Deletes the blob that lost (the old one after a switch, the new one after a skip). */
  blobs: Pick<BlobStore, 'delete'>;
  journal: ConvertJournal;
  /** Seals the converted rows (row-seal.ts). */
  sealer?: RowSealer;
  /** Called once per file after its batch committed and the losing blob is gone. */
  onSettled: (s: StagedConversion, result: 'converted' | 'skipped') => void;
  /** Most files per transaction (default 32). */
  maxBatch?: number;
  /** A batch is committed once its oldest file waited this long (default 50 ms), so progress stays live. */
  maxAgeMs?: number;
}

/**
 * Collects staged conversions and switches their rows in one transaction per batch (each UPDATE
 * guarded by the old blob id, so a file written meanwhile keeps its new content), then deletes the
 * losing blobs and records the batch as settled in the journal with one append. Before the commit
 * every old blob is live; after it every new one is: a crash in between is undone by
 * ConvertJournal.recover(). One batch commits at a time.
 */
export class ConvertBatcher {
  readonly #o: ConvertBatcherOptions;
  readonly #max: number;
  readonly #maxAge: number;
  #pending: StagedConversion[] = [];
  #oldest = 0;
  #flushing: Promise<void> | undefined;

  constructor(o: ConvertBatcherOptions) {
    this.#o = o;
    this.#max = Math.max(1, o.maxBatch ?? 32);
    this.#maxAge = o.maxAgeMs ?? 50;
  }

  /**
   * Queues one staged file; commits the batch when it is full or old enough.
   * @throws database errors of the commit (the batch stays in the journal for recovery).
   */
  async add(s: StagedConversion): Promise<void> {
    if (this.#pending.length === 0) this.#oldest = Date.now();
    this.#pending.push(s);
    if (this.#pending.length >= this.#max || Date.now() - this.#oldest >= this.#maxAge) await this.flush();
  }

  /**
   * Commits everything queued (waits for a commit in progress first).
   * @throws database errors of the commit.
   */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const p = this.#commit(batch);
    this.#flushing = p;
    try { await p; } finally { this.#flushing = undefined; }
  }

  async #commit(batch: StagedConversion[]): Promise<void> {
    const switched = await this.#o.rows.switchBlobs(batch.map((s) => ({
      holder: s.node.holder, rowId: s.node.rowId, fileId: s.node.fileid, oldBlobId: s.node.blobId, newBlobId: s.newId, codec: s.codec,
      seal: this.#o.sealer?.ofHolder(s.node.holder ?? 'node', s.node.fileid, s.newId, s.codec, s.node.size) ?? null,
    })));
    await Promise.all(batch.map((s, i) => this.#o.blobs.delete(switched[i] ? s.node.blobId : s.newId)));
    await this.#o.journal.endMany(batch.map((s) => s.newId));
    batch.forEach((s, i) => this.#o.onSettled(s, switched[i] ? 'converted' : 'skipped'));
  }
}
