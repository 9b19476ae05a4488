import { createHash } from 'node:crypto';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NextcloudSource } from './nextcloud-source.ts';

/** Opens a Nextcloud file's plaintext (see NextcloudImporter.openPlain). */
export type PlainOpener = (owner: string, physical: string, size: number, encrypted: number, keyArea: string, keyPath: string) => Promise<Readable>;

/** One old version or trash item read (and verified) from the source. */
export interface NcHistoryItem {
  readonly owner: string;
  readonly kind: 'version' | 'trash' | 'trash-version';
  /** Path below the user's folder (`files_versions/a.txt.v1796…`, `files_trashbin/files/x.d1796…/y`). */
  readonly physical: string;
  readonly size: number;
  readonly mtime: number;
  /** Versions: the version's timestamp (`.v<ts>`). */
  readonly versionTimestamp?: number;
  /** Versions of live files: the live file's id (its Coffer file id too). */
  readonly liveFileId?: number;
  /** Versions: `oc_files_versions.metadata` (author, label), JSON as Nextcloud stored it. */
  readonly metadata?: string;
  /** Trash: deletion time (`.d<ts>`) and the folder it was deleted from (`oc_files_trash.location`). */
  readonly deletedAt?: number;
  readonly originalLocation?: string;
}

export interface NcHistoryReport {
  versions: number;
  trash: number;
  bytes: number;
  /** What happened to them (written through a sink, or only read and verified). */
  pending: string;
  items?: (NcHistoryItem & { sha256: string })[];
}

/**
 * THE SEAM for Coffer's versions and trash (branch `versions`): once they exist, implement this
 * (write `plain` as a version of `item.liveFileId`, or as a trash item of `item.owner`) and pass it to
 * NextcloudImporter. Until then no sink is given and the items are only read, verified and reported.
 */
export interface NcHistorySink {
  /** Stores one item; `plain` is its verified plaintext (consume it fully). @throws on failure (the item is reported as skipped) */
  write(item: NcHistoryItem, plain: Readable): Promise<void>;
}

/** `a/b.txt.v123` → `a/b.txt`; `x.v5.d9` → `x.d9` (the key of a trashed file's version is the trashed file's). */
function liveOf(p: string): string {
  return p.replace(/\.v\d+(\.d\d+)?$/, '$1');
}

/**
 * Reads every old version (`files_versions/`) and trash item (`files_trashbin/`) of each user,
 * decrypting and checking each block against its own `encrypted` counter, hashes the plaintext, and
 * hands it to `sink` when there is one. Failures go to `skipped`, by name.
 */
export async function readNcVersionsAndTrash(src: NextcloudSource, homes: Map<string, { storage: number }>, open: PlainOpener,
  skipped: { what: string; reason: string }[], sink?: NcHistorySink): Promise<NcHistoryReport> {
  const report: NcHistoryReport = {
    versions: 0, trash: 0, bytes: 0, items: [],
    pending: sink ? 'written' : 'read and verified; written once Coffer has versions and trash (branch "versions")',
  };
  const versionRows = new Map((await src.versions()).map((v) => [`${v.fileId}/${v.timestamp}`, v.metadata]));
  const trashRows = new Map((await src.trash()).map((t) => [`${t.user}/${t.name}.d${t.timestamp}`, t.location]));
  for (const [owner, home] of homes) {
    for (const area of ['files_versions', 'files_trashbin/files', 'files_trashbin/versions']) {
      for await (const e of src.entries(home.storage, area, 'file')) {
        const rel = e.path.slice(area.length + 1);
        const kind = area === 'files_versions' ? 'version' : area === 'files_trashbin/files' ? 'trash' : 'trash-version';
        const keyArea = area === 'files_versions' ? 'files' : 'files_trashbin/files';
        const keyPath = kind === 'trash' ? rel : liveOf(rel);
        const vts = /\.v(\d+)(?:\.d\d+)?$/.exec(rel)?.[1];
        const top = rel.split('/')[0]!;
        const dts = /\.d(\d+)$/.exec(kind === 'trash-version' ? top.replace(/\.v\d+(?=\.d\d+$)/, '') : top)?.[1];
        const live = kind === 'version' ? await src.entryAt(home.storage, `files/${liveOf(rel)}`) : undefined;
        const item: NcHistoryItem = {
          owner, kind, physical: e.path, size: e.size, mtime: e.mtime,
          ...(vts ? { versionTimestamp: Number(vts) } : {}),
          ...(live ? { liveFileId: live.fileId, metadata: versionRows.get(`${live.fileId}/${vts}`) } : {}),
          ...(dts ? { deletedAt: Number(dts), originalLocation: trashRows.get(`${owner}/${top.replace(/\.v\d+(?=\.d\d+$)/, '')}`) } : {}),
        };
        try {
          const h = createHash('sha256');
          const plain = await open(owner, e.path, e.size, e.encrypted, keyArea, keyPath);
          if (sink) {
            const tee = new PassThrough();
            tee.on('data', (c: Buffer) => h.update(c));
            plain.on('error', (err) => tee.destroy(err));
            await sink.write(item, plain.pipe(tee));
          } else {
            await pipeline(plain, new Writable({ write(c: Buffer, _e, cb) { h.update(c); cb(); } }));
          }
          report.items!.push({ ...item, sha256: h.digest('hex') });
          if (kind === 'trash') report.trash++;
          else report.versions++;
          report.bytes += e.size;
        } catch (err) {
          skipped.push({ what: `${owner}/${e.path}`, reason: (err as Error).message });
        }
      }
    }
  }
  return report;
}
