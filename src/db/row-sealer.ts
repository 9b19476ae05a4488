/**
 * Computes the seal of a row's blob fields (implemented by RowSeal, src/encryption/row-seal.ts):
 * the port through which the file tree's repositories and the row-seal migration seal rows without
 * knowing the key.
 */
export interface RowSealer {
  node(fileId: number, blobId: string, codec: string, size: number): string;
  /** The seal of a kept version's blob fields (file_versions): another domain than node's. */
  version(fileId: number, blobId: string, codec: string, size: number): string;
  /** The seal a row of `holder` gets: a version's, or a file row's (live files and the trash). */
  ofHolder(holder: 'node' | 'version' | 'trash', fileId: number, blobId: string, codec: string, size: number): string;
  /** True when `seal` is the `expected` seal (constant time). */
  matches(expected: string, seal: string | null | undefined): boolean;
  chunk(chunk: string, blobId: string, codec: string, size: number): string;
}
