import type { Readable } from 'node:stream';
import { ForbiddenError } from '../errors.ts';
import type { BlobContext, ByteRange } from '../storage/blob-store.ts';

/**
 * Codec tag of a blob kept in Nextcloud's encrypted form by the Nextcloud import (per-user keys,
 * owner not logged in since: docs/MIGRATING-FROM-NEXTCLOUD.md). Converted to Coffer's format in the
 * background after the owner's first login; read on the fly by the owner until then.
 */
export const NC_PENDING_CODEC = 'nc-pending';

/** A file imported from Nextcloud awaits its conversion and this reader cannot open it yet (403). */
export class ImportPendingError extends ForbiddenError {
  readonly uid: string;
  constructor(uid: string, fileId: number, detail: string) {
    super(`file ${fileId} of ${uid} was imported from Nextcloud and awaits conversion to Coffer's format: ${detail} (./occ import:nextcloud:status shows what is pending)`);
    this.uid = uid;
  }
}

/** Opens the plaintext of a pending blob (src/import/nextcloud-pending-content.ts). */
export interface PendingContentReader {
  /** @throws ImportPendingError when the reader holds no key to it yet; CryptoError for a failing block (on the stream too) */
  open(blobId: string, ctx: BlobContext, range?: ByteRange): Promise<Readable>;
}
