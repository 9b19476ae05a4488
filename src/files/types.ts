import type { Readable } from 'node:stream';
import type { ByteRange } from '../storage/blob-store.ts';

/** One file or folder of a user's tree, as the database holds it. */
export interface FileNode {
  readonly fileId: number;
  readonly owner: string;
  readonly parentId: number | null;
  /** Relative to the owner's root, no leading or trailing slash; '' is the root. NFC. */
  readonly path: string;
  readonly name: string;
  readonly kind: 'file' | 'dir';
  /** Plaintext bytes; the recursive total for folders. */
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Unquoted etag; changes on every change of the node or anything below it. */
  readonly etag: string;
  readonly mimetype: string;
  readonly checksum: string | null;
  readonly favorite: boolean;
  /** Internal: content blob (files). */
  readonly blobId: string | null;
  readonly blobCodec: string | null;
  /** Internal: the row seal of blobId/blobCodec/size (encryption/row-seal.ts); null for folders. */
  readonly blobSeal?: string | null;
  /** Internal: the blob fields are a kept version's (VersionService.asNode), sealed as one. */
  readonly sealedAs?: 'version';
}

export interface WriteOptions {
  /** Seconds; default now. */
  mtime?: number;
  /** `SHA1:hex` (and/or `MD5:hex`), stored verbatim. A SHA1 is verified against the content. */
  checksum?: string;
  /** Unquoted etag that the existing file must have (If-Match), or '*' for "must exist". */
  ifMatch?: string[];
  /** '*' = must not exist; or etags that must not match. */
  ifNoneMatch?: string[];
  /** Expected content length: a shorter or longer body is refused and nothing changes. */
  expectedSize?: number;
  mimetype?: string;
  /** Who wrote the content (a share recipient writing into the owner's tree); default the acting user, or the owner when the server writes. */
  author?: string;
  /** The file at the path must be this one (a COPY onto a file): another file there, or none, is a ConflictError instead of a new write. */
  sameFile?: number;
}

export interface WriteResult {
  readonly node: FileNode;
  readonly created: boolean;
}

export interface CopyMoveOptions {
  /** Replace an existing destination (Overwrite: T). Default true. */
  overwrite?: boolean;
  /** COPY depth: 0 copies a folder without its members; default infinity. */
  depth?: 0 | 'infinity';
}

export interface Quota {
  /** Bytes used (the root's recursive size). */
  readonly used: number;
  /** Bytes allowed, or null for unlimited. */
  readonly total: number | null;
}

/** A dead property (PROPPATCH). */
export interface DeadProperty {
  readonly namespace: string;
  readonly name: string;
  /** Inner XML of the property element. */
  readonly value: string;
}

export type PropPatchOp = { op: 'set'; prop: DeadProperty } | { op: 'remove'; namespace: string; name: string };

/** The read side of content. */
export interface FileContent {
  readonly node: FileNode;
  readonly stream: Readable;
  readonly range?: ByteRange;
}
