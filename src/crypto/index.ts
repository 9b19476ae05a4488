/** Public surface of the pure cfe1 format (docs/FORMAT.md). */
export * from './format.ts';
export * from './blob-sizes.ts';
export * from './blob-header.ts';
export * from './encrypt-stream.ts';
export * from './decrypt-stream.ts';
export { wrapKey, unwrapKey } from './key-wrap.ts';
export { hkdfSha256, hmacSha256, deriveBlobKeys } from './kdf.ts';
export { chunkNonce } from './chunk-cipher.ts';
