/**
 * Computes the seal of a row's blob fields (implemented by RowSeal, src/encryption/row-seal.ts):
 * the port through which the file tree's repositories and the row-seal migration seal rows without
 * knowing the key.
 */
export interface RowSealer {
  node(fileId: number, blobId: string, codec: string, size: number): string;
  chunk(chunk: string, blobId: string, codec: string, size: number): string;
}
