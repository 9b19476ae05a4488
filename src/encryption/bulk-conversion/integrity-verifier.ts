import { BLOB_HOLDERS, type FileRows } from '../file-rows.ts';
import { PLAIN_CODEC } from '../../storage/blob-store.ts';
import type { ConvertibleNode, EncryptionService } from '../encryption-service.ts';
import { runPool } from './task-pool.ts';

/** Where integrity failures are recorded (the audit log). */
export interface IntegrityAudit {
  record(event: string, fields: Record<string, unknown>): Promise<void>;
}

export interface DamagedFile {
  readonly fileid: number;
  readonly owner: string;
  /** Path in the owner's tree. */
  readonly path: string;
  /** `USER/files/PATH`, as occ names files. */
  readonly file: string;
  readonly encrypted: boolean;
  readonly reason: string;
}

export interface VerifyReport {
  readonly checked: number;
  readonly encrypted: number;
  readonly plain: number;
  /** Plaintext bytes read. */
  readonly bytes: number;
  readonly seconds: number;
  readonly damaged: readonly DamagedFile[];
}

export interface VerifyOptions {
  owner?: string;
  concurrency?: number;
  onProgress?: (p: { done: number; bytes: number; elapsedMs: number }) => void;
}

/** `USER/files/PATH`. */
export function occFileName(owner: string, path: string): string {
  return path === '' ? `${owner}/files` : `${owner}/files/${path}`;
}

/**
 * encryption:verify: reads every file's content through the decoder (encrypted blobs are fully
 * authenticated; plain blobs must exist and have the recorded size), and records each damaged file
 * in the audit log as `integrity.failure`. Never changes anything.
 */
export class IntegrityVerifier {
  readonly #enc: EncryptionService;
  readonly #audit: IntegrityAudit;
  readonly #rows: FileRows | undefined;
  /** `rows`, when given, let a file that was overwritten or deleted during the check count as intact (the server may run). */
  constructor(o: { encryption: EncryptionService; audit: IntegrityAudit; rows?: FileRows }) {
    this.#enc = o.encryption;
    this.#audit = o.audit;
    this.#rows = o.rows;
  }

  async #changedMeanwhile(node: ConvertibleNode): Promise<boolean> {
    if (!this.#rows) return false;
    const row = await this.#rows.currentBlob(node.rowId ?? node.fileid, node.holder);
    return !row || row.blobId !== node.blobId;
  }

  /** @throws database errors; per-file failures are reported, not thrown. */
  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    const start = Date.now();
    let checked = 0, encrypted = 0, plain = 0, bytes = 0;
    const damaged: DamagedFile[] = [];
    await runPool(this.#files(opts.owner), opts.concurrency ?? 4, async (node) => {
      const isEnc = node.codec !== PLAIN_CODEC;
      const reason = await this.#enc.verifyNode(node);
      checked++;
      if (isEnc) encrypted++; else plain++;
      if (reason === undefined || await this.#changedMeanwhile(node)) {
        bytes += reason === undefined ? node.size : 0;
      } else {
        const d: DamagedFile = { fileid: node.fileid, owner: node.owner, path: node.path, file: occFileName(node.owner, node.path), encrypted: isEnc, reason };
        damaged.push(d);
        await this.#audit.record('integrity.failure', {
          uid: node.owner, path: d.file, fileid: node.fileid, source: 'encryption:verify', message: reason,
        }).catch(() => {});
      }
      opts.onProgress?.({ done: checked, bytes, elapsedMs: Date.now() - start });
    });
    damaged.sort((a, b) => a.file.localeCompare(b.file));
    return { checked, encrypted, plain, bytes, seconds: (Date.now() - start) / 1000, damaged };
  }

  async *#files(owner?: string): AsyncGenerator<ConvertibleNode & { path: string }> {
    // versions and trashed files too: their blobs are read back the same way
    for (const holder of BLOB_HOLDERS) {
      let after = 0;
      for (;;) {
        const page = await this.#enc.filesToVerify({ after, owner, limit: 256, holder });
        if (page.length === 0) break;
        yield* page;
        after = page[page.length - 1]!.rowId;
      }
    }
  }
}
