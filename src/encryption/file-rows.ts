/** Which files a scan wants: all, those stored plain, or those stored encrypted. */
export type StorageFilter = 'all' | 'plain' | 'encrypted';

/** A file row with content, as the bulk conversion and the verifier page through them. */
export interface StoredFile {
  readonly fileid: number;
  readonly owner: string;
  readonly path: string;
  readonly blobId: string;
  readonly codec: string;
  readonly size: number;
  /** The row's seal (row-seal.ts). */
  readonly seal: string | null;
}

/** Points a file row from one blob at another holding the same content in another codec. */
export interface BlobSwitch {
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
  /** How many files with content `filter` selects, and their bytes. */
  countFiles(filter: StorageFilter, owner?: string): Promise<{ files: number; bytes: number }>;
  /** One page of files with content, by ascending file id after `after`. */
  filesPage(filter: StorageFilter, opts?: { after?: number; limit?: number; owner?: string }): Promise<StoredFile[]>;
  /**
   * Applies the switches in one transaction, each only if its row still names `oldBlobId`.
   * @returns per switch, whether it applied (false: the file was rewritten or deleted meanwhile).
   */
  switchBlobs(switches: readonly BlobSwitch[]): Promise<boolean[]>;
  /** The blob a file row names now and its path, or undefined when the file is gone. */
  currentBlob(fileId: number): Promise<{ blobId: string | null; path: string } | undefined>;
  /** Whether a file row or an upload chunk names `blobId`. */
  isReferenced(blobId: string): Promise<boolean>;
}
