import { randomBytes } from 'node:crypto';
import { sql, type RawBuilder, type SqlBool, type Transaction } from 'kysely';
import type { Db } from '../db/database.ts';
import { num, type Database, type NodesTable } from '../db/schema.ts';
import type { FileNode } from './types.ts';

/** A database handle or an open transaction. */
export type Executor = Db | Transaction<Database>;

type NodeRow = { [K in keyof NodesTable]: NodesTable[K] extends { __select__: infer S } ? S : NodesTable[K] };

/** Columns of a folder member read by `NodeRepository.children` (in this order when rows come as arrays). */
export const CHILD_COLUMNS = ['fileid', 'name', 'kind', 'size', 'mtime', 'etag', 'mimetype', 'blob_id', 'blob_codec', 'checksum', 'favorite', 'blob_seal'] as const;

/** The rows a write of one path looks at (see NodeRepository.writeContext). */
export interface WriteContext {
  node: FileNode | undefined;
  parent: FileNode | undefined;
  root: FileNode | undefined;
  /** Bytes; null = unlimited. */
  quota: number | null;
}

/** A fresh etag (16 hex chars). */
export function newEtag(): string {
  return randomBytes(8).toString('hex');
}

/** Maps a `nodes` row to a FileNode. */
export function toNode(r: Record<string, unknown>): FileNode {
  const row = r as unknown as NodeRow;
  return {
    fileId: num(row.fileid as number),
    owner: row.owner,
    parentId: row.parent_id === null ? null : num(row.parent_id),
    path: row.path,
    name: row.name,
    kind: row.kind,
    size: num(row.size as number),
    mtime: num(row.mtime as number),
    etag: row.etag,
    mimetype: row.mimetype,
    checksum: row.checksum,
    favorite: num(row.favorite) === 1,
    blobId: row.blob_id,
    blobCodec: row.blob_codec,
    blobSeal: row.blob_seal ?? null,
  };
}

/**
 * Maps a folder member read with CHILD_COLUMNS (an array when SQLite hands rows over as arrays, an
 * object otherwise) to a FileNode; owner, parent and path follow from the folder, not the row.
 */
export function toChildNode(r: unknown[] | Record<string, unknown>, parent: Pick<FileNode, 'owner' | 'path'>, parentId: number): FileNode {
  const prefix = parent.path === '' ? '' : `${parent.path}/`;
  if (Array.isArray(r)) {
    const name = r[1] as string;
    return {
      fileId: num(r[0] as number), owner: parent.owner, parentId, path: prefix + name, name,
      kind: r[2] as FileNode['kind'], size: num(r[3] as number), mtime: num(r[4] as number), etag: r[5] as string,
      mimetype: r[6] as string, checksum: r[9] as string | null, favorite: num(r[10] as number) === 1,
      blobId: r[7] as string | null, blobCodec: r[8] as string | null, blobSeal: (r[11] ?? null) as string | null,
    };
  }
  const name = r.name as string;
  return {
    fileId: num(r.fileid as number), owner: parent.owner, parentId, path: prefix + name, name,
    kind: r.kind as FileNode['kind'], size: num(r.size as number), mtime: num(r.mtime as number), etag: r.etag as string,
    mimetype: r.mimetype as string, checksum: r.checksum as string | null, favorite: num(r.favorite as number) === 1,
    blobId: r.blob_id as string | null, blobCodec: r.blob_codec as string | null, blobSeal: (r.blob_seal ?? null) as string | null,
  };
}

/** Lower and upper bounds of the subtree below `p` (exclusive of `p`): path >= lo AND path < hi. */
export function subtreeBounds(p: string): { lo: string; hi: string } {
  return p === '' ? { lo: '', hi: '\u{10FFFF}' } : { lo: `${p}/`, hi: `${p}0` };
}

/** A where clause: the path `column` (e.g. `n.path` of a joined `nodes as n`) is `path` or below it. */
export function pathAtOrBelow(column: string, path: string): RawBuilder<SqlBool> {
  const { lo, hi } = subtreeBounds(path);
  const c = sql.ref(column);
  return sql<SqlBool>`(${c} = ${path} or (${c} >= ${lo} and ${c} < ${hi}))`;
}
