import type { Readable } from 'node:stream';
import type { Actor } from '../actor.ts';
import type { RowSealer } from '../db/row-sealer.ts';
import { transact, type Db } from '../db/database.ts';
import { ConflictError } from '../errors.ts';
import type { NodeRepository } from '../files/node-repository.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { newBlobId } from '../storage/blob-id.ts';
import type { TrashRepository } from '../trash/trash-repository.ts';
import type { VersionRepository } from '../versions/version-repository.ts';
import type { KeptHistory, NcHistoryItem, NcHistorySink, NcTrashMember, NcTrashTop, TrashBlob } from './nextcloud-history.ts';
import type { NcPendingRepository } from './nextcloud-pending-repository.ts';

export interface NcHistoryWriterDeps {
  db: Db;
  blobs: BlobStore;
  sealer: RowSealer;
  nodes: NodeRepository;
  versions: VersionRepository;
  trash: TrashRepository;
  /** Who writes the content (the importer, acting as the server). */
  actor: Actor;
  /** Pending rows of what is kept in Nextcloud's form (per-user keys, owner without recovery). */
  pending: NcPendingRepository;
}

/** `{"author":"alice","label":"Final"}` as Nextcloud stores it in oc_files_versions.metadata; junk reads as nothing. */
export function versionMetadata(json: string | undefined): { author: string | null; label: string | null } {
  try {
    const m = JSON.parse(json ?? '') as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
    return { author: str(m.author), label: str(m.label) };
  } catch {
    return { author: null, label: null };
  }
}

/** Nextcloud's `location` (`Scratch`, `.` for the root) and name → Coffer's original location (the path it had). */
export function originalPath(location: string, name: string): string {
  const dir = location.replace(/^\/+|\/+$/g, '');
  return dir === '' || dir === '.' ? name : `${dir}/${name}`;
}

/**
 * The importer's NcHistorySink: Nextcloud's versions become Coffer version rows and its trash
 * items Coffer trash items, their content written through the content store (encrypted at rest
 * when encryption is on, bound to the file id it belongs to, rows sealed) exactly as the importer
 * writes live files.
 *
 * Crash safety: a version is a blob put, then its row (a rerun finds the row and skips it); a trash
 * item's blobs are put first and the item with all its nodes is inserted in one transaction, so a
 * rerun finds it whole or not at all. A blob whose row never came is an orphan that garbage
 * collection removes.
 */
export class NcHistoryWriter implements NcHistorySink {
  readonly #d: NcHistoryWriterDeps;

  constructor(deps: NcHistoryWriterDeps) { this.#d = deps; }

  async versionState(item: NcHistoryItem): Promise<'stored' | 'no-file' | 'new'> {
    if (!(await this.#liveFile(item))) return 'no-file';
    return (await this.#d.versions.get(this.#d.db, item.liveFileId!, item.versionTimestamp!)) ? 'stored' : 'new';
  }

  /** @throws ConflictError when the content's size is not the database's; storage and database errors */
  async writeVersion(item: NcHistoryItem, plain: Readable): Promise<void> {
    const file = await this.#liveFileOrThrow(item);
    await this.#insertVersion(item, file.mimetype, await this.#put(item.owner, file.fileId, item.size, plain));
  }

  /** The version row and its pending row in one transaction. @throws ConflictError when its file is gone; storage and database errors */
  async keepVersion(item: NcHistoryItem, kept: KeptHistory): Promise<void> {
    const file = await this.#liveFileOrThrow(item);
    const blob = await kept.put(file.fileId);
    await this.#insertVersion(item, file.mimetype, { ...blob, pending: { shareKey: kept.shareKey, ncVersion: kept.ncVersion } });
  }

  /** The file a version belongs to, live or in the trash. */
  async #liveFile(item: NcHistoryItem): Promise<{ fileId: number; mimetype: string } | undefined> {
    const { db, nodes, trash } = this.#d;
    return await nodes.byId(db, item.liveFileId!) ?? await trash.nodeById(db, item.liveFileId!);
  }

  /** @throws ConflictError when the file of the version is gone */
  async #liveFileOrThrow(item: NcHistoryItem): Promise<{ fileId: number; mimetype: string }> {
    const file = await this.#liveFile(item);
    if (!file) throw new ConflictError(`file ${item.liveFileId} of this version is gone`);
    return file;
  }

  async #insertVersion(item: NcHistoryItem, mimetype: string, blob: TrashBlob): Promise<void> {
    const fileId = item.liveFileId!;
    const meta = versionMetadata(item.metadata);
    try {
      await transact(this.#d.db, async (trx) => {
        await this.#d.versions.insertImported(trx, {
          fileId, owner: item.owner, version: item.versionTimestamp!, blobId: blob.blobId, blobCodec: blob.codec,
          blobSeal: this.#d.sealer.version(fileId, blob.blobId, blob.codec, item.size), size: item.size, mimetype,
          etag: item.etag, checksum: null, author: meta.author, label: meta.label, createdAt: item.mtime,
        });
        if (blob.pending) await this.#d.pending.insert(trx, { blobId: blob.blobId, fileId, owner: item.owner, ...blob.pending, size: item.size });
      });
    } catch (err) {
      await this.#d.blobs.delete(blob.blobId).catch(() => {});
      throw err;
    }
  }

  async hasTrash(top: NcTrashTop): Promise<boolean> {
    return (await this.#d.trash.findAll(this.#d.db, top.owner, top.name, top.deletedAt)).some((i) => i.owner === top.owner);
  }

  /** @throws ConflictError on a size mismatch; storage errors */
  putTrashed(top: NcTrashTop, member: NcTrashMember, plain: Readable): Promise<TrashBlob> {
    return this.#put(top.owner, member.entry.fileId, member.entry.size, plain);
  }

  /** @throws ConflictError on a size mismatch; storage errors */
  async keepTrashed(_top: NcTrashTop, member: NcTrashMember, kept: KeptHistory): Promise<TrashBlob> {
    return { ...await kept.put(member.entry.fileId), pending: { shareKey: kept.shareKey, ncVersion: kept.ncVersion } };
  }

  /** @throws ConflictError when a file id of the item is taken in Coffer; database errors */
  async commitTrash(top: NcTrashTop, members: (NcTrashMember & { blob?: TrashBlob })[]): Promise<void> {
    const { db, nodes, trash, sealer } = this.#d;
    const ids = members.map((m) => m.entry.fileId);
    try {
      await transact(db, async (trx) => {
        const taken = [...await nodes.existingIds(trx, ids), ...await trash.existingIds(trx, ids)];
        if (taken.length > 0) throw new ConflictError(`file ids already used in Coffer: ${taken.slice(0, 10).join(', ')}`);
        // sizes as Coffer keeps them: a folder's is the sum of the files below it that were imported
        const sizes = new Map<string, number>();
        for (const m of members) {
          if (m.entry.kind !== 'file' || !m.blob) continue;
          const parts = m.relPath === '' ? [] : m.relPath.split('/');
          for (let i = 0; i <= parts.length; i++) {
            const at = parts.slice(0, i).join('/');
            sizes.set(at, (sizes.get(at) ?? 0) + m.entry.size);
          }
        }
        const kept = members.filter((m) => m.entry.kind === 'dir' || m.blob);
        const item = await trash.insertItem(trx, {
          owner: top.owner, fileId: top.root.fileId, name: top.name, originalLocation: originalPath(top.location, top.name),
          deletedAt: top.deletedAt, deletedBy: top.deletedBy, kind: top.root.kind, size: sizes.get('') ?? 0,
        });
        await trash.insertNodes(trx, item.id, kept.map((m) => ({
          fileId: m.entry.fileId, owner: top.owner, parentId: m.relPath === '' ? null : m.entry.parentId, relPath: m.relPath,
          name: m.relPath === '' ? top.name : m.entry.name, kind: m.entry.kind,
          size: m.entry.kind === 'dir' ? sizes.get(m.relPath) ?? 0 : m.entry.size, mtime: m.entry.mtime, etag: m.entry.etag,
          mimetype: m.entry.mimetype, checksum: m.entry.checksum,
          blobId: m.blob?.blobId ?? null, blobCodec: m.blob?.codec ?? null,
          blobSeal: m.blob ? sealer.node(m.entry.fileId, m.blob.blobId, m.blob.codec, m.entry.size) : null,
        })));
        for (const m of members) {
          if (m.blob?.pending) await this.#d.pending.insert(trx, { blobId: m.blob.blobId, fileId: m.entry.fileId, owner: top.owner, ...m.blob.pending, size: m.entry.size });
        }
        // Coffer's own ids start above every imported one
        await nodes.reserveFileIdsThrough(trx, Math.max(...ids));
      });
    } catch (err) {
      for (const m of members) if (m.blob) await this.#d.blobs.delete(m.blob.blobId).catch(() => {});
      throw err;
    }
  }

  /** Writes content bound to `fileId`. @throws ConflictError when its size is not `size` */
  async #put(owner: string, fileId: number, size: number, plain: Readable): Promise<{ blobId: string; codec: string }> {
    const blobId = newBlobId();
    const put = await this.#d.blobs.put(blobId, plain, { fileId, owner, fresh: true, actor: this.#d.actor });
    if (put.size !== size) {
      await this.#d.blobs.delete(blobId).catch(() => {});
      throw new ConflictError(`wrote ${put.size} bytes, expected ${size}`);
    }
    return { blobId, codec: put.codec };
  }
}
