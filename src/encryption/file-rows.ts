/** Which files a scan wants: all, those stored plain, or those stored encrypted. */
export type StorageFilter = 'all' | 'plain' | 'encrypted';

/**
 * Which table's row names a blob: a live file, a kept version of a file, or a file in the trash bin.
 * A version's and a trashed file's blob are bound to the file id (and sealed) like the live file's.
 */
export type BlobHolder = 'node' | 'version' | 'trash';

/** Every holder, in the order conversion and verification walk them. */
export const BLOB_HOLDERS: readonly BlobHolder[] = ['node', 'version', 'trash'];

/** A file row with content, as the bulk conversion and the verifier page through them. */
export interface StoredFile {
  readonly holder: BlobHolder;
  /** The row's key within its holder, ascending in a page: the file id (node, trash) or the version's row id. */
  readonly rowId: number;
  /** The file id the blob is bound to (a version's: its file's). */
  readonly fileid: number;
  readonly owner: string;
  /** Path in the owner's tree (a version's: the file's path and its version; a trashed file's: where it was deleted from). */
  readonly path: string;
  readonly blobId: string;
  readonly codec: string;
  readonly size: number;
  /** The row's seal (row-seal.ts). */
  readonly seal: string | null;
}

/** Points a file row from one blob at another holding the same content in another codec. */
export interface BlobSwitch {
  /** Default 'node'; `rowId` then defaults to `fileId`. */
  readonly holder?: BlobHolder;
  readonly rowId?: number;
  readonly fileId: number;
  readonly oldBlobId: string;
  readonly newBlobId: string;
  readonly codec: string;
  readonly seal: string | null;
}

/**
 * What the encryption layer asks of the file rows (encrypt-all, decrypt-all, verify). A port: the
 * rows belong to the files service's repositories (files/node-file-rows.ts implements it), and
 * layers below the services do not import them.
 */
export interface FileRows {
  /** How many blobs `filter` selects over every holder (files, versions, trashed files), and their bytes. */
  countFiles(filter: StorageFilter, owner?: string): Promise<{ files: number; bytes: number }>;
  /** One page of `holder`'s (default 'node') rows with content, by ascending row id after `after`. */
  filesPage(filter: StorageFilter, opts?: { after?: number; limit?: number; owner?: string; holder?: BlobHolder }): Promise<StoredFile[]>;
  /**
   * Applies the switches in one transaction, each only if its row still names `oldBlobId`.
   * @returns per switch, whether it applied (false: the file was rewritten or deleted meanwhile).
   */
  switchBlobs(switches: readonly BlobSwitch[]): Promise<boolean[]>;
  /** The blob a row of `holder` (default 'node', keyed by `rowId`) names now and its path, or undefined when the row is gone. */
  currentBlob(rowId: number, holder?: BlobHolder): Promise<{ blobId: string | null; path: string } | undefined>;
  /** Whether a file row, a version, a trashed file or an upload chunk names `blobId`. */
  isReferenced(blobId: string): Promise<boolean>;
}
