import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError } from '../errors.ts';
import { ncInt, ncText } from './nextcloud-columns.ts';
import type { NcEntry, NextcloudSource } from './nextcloud-source.ts';

/** Opens a Nextcloud file's plaintext (see NextcloudImporter.openPlain). */
export type PlainOpener = (owner: string, physical: string, size: number, encrypted: number, keyArea: string, keyPath: string) => Promise<Readable>;

/**
 * A version or trashed file whose key the importer lacks (per-user keys, owner without recovery),
 * kept in Nextcloud's form for conversion after the owner's first login: its share key, and the
 * copy of its bytes.
 */
export interface KeptHistory {
  readonly shareKey: Buffer;
  /** Its `encrypted` counter. */
  readonly ncVersion: number;
  /** Copies its bytes into the blob store as they are (bound to `fileId`). @throws ConflictError on a size mismatch */
  put(fileId: number): Promise<{ blobId: string; codec: string }>;
}

/** Keeps what `open` has no key for (NcPendingFiles.keepHistory); undefined when the owner has no share key of it either. */
export type HistoryKeeper = (item: NcHistoryItem, encrypted: number, keyArea: string, keyPath: string) => Promise<KeptHistory | undefined>;

/** A stored blob of a trash member; `pending` when it is kept in Nextcloud's form. */
export interface TrashBlob { readonly blobId: string; readonly codec: string; readonly pending?: { readonly shareKey: Buffer; readonly ncVersion: number } }

/** One old version or trashed file read (and verified) from the source. */
export interface NcHistoryItem {
  readonly owner: string;
  readonly kind: 'version' | 'trash' | 'trash-version';
  /** Path below the user's folder (`files_versions/a.txt.v1796…`, `files_trashbin/files/x.d1796…/y`). */
  readonly physical: string;
  readonly size: number;
  readonly mtime: number;
  /** Its filecache etag. */
  readonly etag: string;
  /** Versions: the version's timestamp (`.v<ts>`). */
  readonly versionTimestamp?: number;
  /**
   * Versions: the id of the file they are versions of (its Coffer file id too): the live file, or
   * for versions of trashed files (`trash-version`) the trashed file.
   */
  readonly liveFileId?: number;
  /** Versions: `oc_files_versions.metadata` (author, label), JSON as Nextcloud stored it. */
  readonly metadata?: string;
  /** Trash: deletion time (`.d<ts>`) and the folder it was deleted from (`oc_files_trash.location`). */
  readonly deletedAt?: number;
  readonly originalLocation?: string;
}

/** One trash item (what one delete moved to Nextcloud's trash), as `oc_files_trash` and the filecache describe it. */
export interface NcTrashTop {
  readonly owner: string;
  /** Name it had (`Old Drafts`). */
  readonly name: string;
  readonly deletedAt: number;
  /** The folder it was deleted from, as Nextcloud stores it (`Scratch`, `.` for the root). */
  readonly location: string;
  readonly deletedBy: string;
  /** Its filecache entry (`files_trashbin/files/<name>.d<ts>`). */
  readonly root: NcEntry;
}

/** A file or folder of a trash item, with where it sits inside it (`relPath` '' is the item itself). */
export interface NcTrashMember {
  readonly entry: NcEntry;
  readonly relPath: string;
}

export interface NcHistoryReport {
  versions: number;
  /** Trashed files (in `trashItems` items: a trashed folder is one item). */
  trash: number;
  trashItems?: number;
  bytes: number;
  /** Versions and trashed files kept in Nextcloud's form for their owner's first login (included in versions / trash). */
  kept?: number;
  /** Versions and trash items already stored by an interrupted earlier run. */
  resumed?: number;
  /** What happened to them (written through a sink, or only read and verified). */
  pending: string;
  /** Dry run only (a write keeps no per-item list: memory stays flat): every item read, with its plaintext sha256. */
  items?: (NcHistoryItem & { sha256: string })[];
}

/**
 * Where versions and trash items go (NcHistoryWriter writes them as Coffer versions and trash
 * items). Each version is one row; each trash item becomes visible whole, in one transaction, after
 * its content is stored: a rerun after a crash finds it complete or absent.
 */
export interface NcHistorySink {
  /**
   * 'stored' when a rerun finds the version there already, 'no-file' when the file it belongs to
   * was not imported (skipped), else 'new'.
   */
  versionState(item: NcHistoryItem): Promise<'stored' | 'no-file' | 'new'>;
  /** Stores one version (`plain` is its verified plaintext: consume it fully). @throws on failure (reported as skipped) */
  writeVersion(item: NcHistoryItem, plain: Readable): Promise<void>;
  /** Stores one version kept in Nextcloud's form (its row names the copied blob, with its pending row). @throws on failure */
  keepVersion(item: NcHistoryItem, kept: KeptHistory): Promise<void>;
  /** Whether the trash item is stored already (a rerun). */
  hasTrash(top: NcTrashTop): Promise<boolean>;
  /** Stores one trashed file's content, invisible until commitTrash. @throws on failure */
  putTrashed(top: NcTrashTop, member: NcTrashMember, plain: Readable): Promise<TrashBlob>;
  /** Stores one trashed file's bytes kept in Nextcloud's form, invisible until commitTrash. @throws on failure */
  keepTrashed(top: NcTrashTop, member: NcTrashMember, kept: KeptHistory): Promise<TrashBlob>;
  /**
   * Makes a trash item visible with its members (files with the content putTrashed stored), in
   * one transaction. @throws on failure (the blobs are then released by the sink)
   */
  commitTrash(top: NcTrashTop, members: (NcTrashMember & { blob?: TrashBlob })[]): Promise<void>;
}

/** `a/b.txt.v123` → `a/b.txt`; `x.v5.d9` → `x.d9` (the key of a trashed file's version is the trashed file's). */
function liveOf(p: string): string {
  return p.replace(/\.v\d+(\.d\d+)?$/, '$1');
}

/**
 * `plain` as a stream that hashes what its reader takes (a Transform, not a 'data' listener: that
 * would start the flow before the sink reads, and the bytes would be gone).
 */
function hashing(plain: Readable): { out: Readable; digest: () => string } {
  const h = createHash('sha256');
  const out = new Transform({ transform(c: Buffer, _e, cb) { h.update(c); cb(null, c); } });
  plain.on('error', (err) => out.destroy(err));
  return { out: plain.pipe(out), digest: () => h.digest('hex') };
}

/** Reads a stream to its end, hashing it. */
async function drain(plain: Readable): Promise<string> {
  const h = createHash('sha256');
  await pipeline(plain, new Writable({ write(c: Buffer, _e, cb) { h.update(c); cb(); } }));
  return h.digest('hex');
}

/** The `oc_files_trash` rows (with `deleted_by`, NC ≥ 28, when the column exists), by `<user>/<name>.d<ts>`. */
async function trashRows(src: NextcloudSource): Promise<Map<string, { location: string; deletedBy?: string }>> {
  const out = new Map<string, { location: string; deletedBy?: string }>();
  let rows: Record<string, unknown>[];
  try {
    rows = await src.db.query('select t.id, t.user as trash_user, t.timestamp, t.location, t.deleted_by from *PREFIX*files_trash t order by t.auto_id');
  } catch {
    rows = (await src.trash()).map((t) => ({ id: t.name, trash_user: t.user, timestamp: t.timestamp, location: t.location }));
  }
  for (const r of rows) {
    const deletedBy = ncText(r.deleted_by) || undefined;
    out.set(`${ncText(r.trash_user)}/${ncText(r.id)}.d${ncInt(r.timestamp)}`, { location: ncText(r.location ?? '.'), ...(deletedBy ? { deletedBy } : {}) });
  }
  return out;
}

/**
 * Reads every old version (`files_versions/`), trash item (`files_trashbin/files/`) and version of
 * a trashed file (`files_trashbin/versions/`) of each user, decrypting and checking each block
 * against its own `encrypted` counter, hashes the plaintext, and hands it to `sink` when there is
 * one (trash items before the versions of their files). Failures go to `skipped`, by name, with
 * `integrity` set by `isIntegrity` (a block that failed its check).
 */
export async function readNcVersionsAndTrash(src: NextcloudSource, homes: Map<string, { storage: number }>, open: PlainOpener,
  skipped: { what: string; reason: string; integrity?: true }[], sink?: NcHistorySink, isIntegrity: (err: unknown) => boolean = () => false,
  keep?: HistoryKeeper): Promise<NcHistoryReport> {
  const report: NcHistoryReport = {
    versions: 0, trash: 0, trashItems: 0, bytes: 0, resumed: 0, kept: 0, ...(sink ? {} : { items: [] }),
    pending: sink ? 'written' : 'read and verified, not written',
  };
  const fail = (what: string, err: unknown) => skipped.push({ what, reason: (err as Error).message, ...(isIntegrity(err) ? { integrity: true as const } : {}) });
  const versionRows = new Map((await src.versions()).map((v) => [`${v.fileId}/${v.timestamp}`, v.metadata]));
  const trashed = await trashRows(src);
  /** What `open` has no key for, kept in Nextcloud's form when `keep` can (else the error stands). */
  const keptOr = async (err: unknown, item: NcHistoryItem, encrypted: number, keyArea: string, keyPath: string): Promise<KeptHistory> => {
    const kept = err instanceof NotFoundError && encrypted > 0 && keep ? await keep(item, encrypted, keyArea, keyPath) : undefined;
    if (!kept) throw err;
    report.kept!++;
    return kept;
  };

  const versionsOf = async (owner: string, storage: number, area: 'files_versions' | 'files_trashbin/versions') => {
    for await (const e of src.entries(storage, area, 'file')) {
      const rel = e.path.slice(area.length + 1);
      const kind = area === 'files_versions' ? 'version' : 'trash-version';
      const keyArea = area === 'files_versions' ? 'files' : 'files_trashbin/files';
      const vts = /\.v(\d+)(?:\.d\d+)?$/.exec(rel)?.[1];
      const top = liveOf(rel).split('/')[0]!;
      const dts = kind === 'trash-version' ? /\.d(\d+)$/.exec(top)?.[1] : undefined;
      const live = await src.entryAt(storage, `${keyArea}/${liveOf(rel)}`);
      const item: NcHistoryItem = {
        owner, kind, physical: e.path, size: e.size, mtime: e.mtime, etag: e.etag,
        ...(vts ? { versionTimestamp: Number(vts) } : {}),
        ...(live ? { liveFileId: live.fileId, metadata: versionRows.get(`${live.fileId}/${vts}`) } : {}),
        ...(dts ? { deletedAt: Number(dts), originalLocation: trashed.get(`${owner}/${top}`)?.location } : {}),
      };
      const what = `${owner}/${e.path}`;
      try {
        if (!vts || !live) throw new Error(`no file ${keyArea}/${liveOf(rel)} for this version`);
        if (sink) {
          const state = await sink.versionState(item);
          if (state === 'no-file') throw new Error('the file it is a version of was not imported');
          if (state === 'stored') { report.resumed!++; report.versions++; report.bytes += e.size; continue; }
        }
        let plain: Readable;
        try {
          plain = await open(owner, e.path, e.size, e.encrypted, keyArea, liveOf(rel));
        } catch (err) {
          const kept = await keptOr(err, item, e.encrypted, keyArea, liveOf(rel));
          if (sink) await sink.keepVersion(item, kept);
          report.versions++;
          report.bytes += e.size;
          continue;
        }
        let sha: string;
        if (sink) {
          const t = hashing(plain);
          await sink.writeVersion(item, t.out);
          sha = t.digest();
        } else {
          sha = await drain(plain);
        }
        report.items?.push({ ...item, sha256: sha });
        report.versions++;
        report.bytes += e.size;
      } catch (err) {
        fail(what, err);
      }
    }
  };

  for (const [owner, home] of homes) {
    await versionsOf(owner, home.storage, 'files_versions');
    // trash items one at a time: only the names of the items are held, then each item's members
    const tops: NcEntry[] = [];
    for await (const e of src.entries(home.storage, 'files_trashbin/files')) {
      if (e.path.split('/').length === 3) tops.push(e);
    }
    for (const root of tops) {
      const m = /^(.+)\.d(\d+)$/s.exec(root.name);
      if (!m) { fail(`${owner}/${root.path}`, new Error('not a trash item name (<name>.d<timestamp>)')); continue; }
      const row = trashed.get(`${owner}/${root.name}`);
      const top: NcTrashTop = { owner, name: m[1]!, deletedAt: Number(m[2]), location: row?.location ?? '.', deletedBy: row?.deletedBy ?? owner, root };
      if (sink && await sink.hasTrash(top)) {
        report.resumed!++;
        report.trashItems!++;
        for await (const e of src.entries(home.storage, root.path, 'file')) { report.trash++; report.bytes += e.size; }
        continue;
      }
      let files = 0;
      let bytes = 0;
      const members: (NcTrashMember & { blob?: TrashBlob })[] = [];
      let rootOk = true;
      for await (const e of src.entries(home.storage, root.path)) {
        const relPath = e.path === root.path ? '' : e.path.slice(root.path.length + 1);
        const member: NcTrashMember = { entry: e, relPath };
        if (e.kind === 'dir') { members.push(member); continue; }
        const keyPath = e.path.slice('files_trashbin/files/'.length);
        const item: NcHistoryItem = {
          owner, kind: 'trash', physical: e.path, size: e.size, mtime: e.mtime, etag: e.etag, deletedAt: top.deletedAt, originalLocation: top.location,
        };
        try {
          let plain: Readable;
          try {
            plain = await open(owner, e.path, e.size, e.encrypted, 'files_trashbin/files', keyPath);
          } catch (err) {
            const kept = await keptOr(err, item, e.encrypted, 'files_trashbin/files', keyPath);
            if (sink) members.push({ ...member, blob: await sink.keepTrashed(top, member, kept) });
            files++;
            bytes += e.size;
            continue;
          }
          let sha: string;
          if (sink) {
            const t = hashing(plain);
            members.push({ ...member, blob: await sink.putTrashed(top, member, t.out) });
            sha = t.digest();
          } else {
            sha = await drain(plain);
          }
          report.items?.push({ ...item, sha256: sha });
          files++;
          bytes += e.size;
        } catch (err) {
          fail(`${owner}/${e.path}`, err);
          if (relPath === '') rootOk = false;
        }
      }
      if (!rootOk) continue;
      try {
        if (sink) await sink.commitTrash(top, members);
        report.trashItems!++;
        report.trash += files;
        report.bytes += bytes;
      } catch (err) {
        fail(`${owner}/${root.path}`, err);
      }
    }
    await versionsOf(owner, home.storage, 'files_trashbin/versions');
  }
  return report;
}
