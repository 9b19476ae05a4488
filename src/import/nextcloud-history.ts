import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NextcloudSource } from './nextcloud-source.ts';

/** Opens a Nextcloud file's plaintext (see NextcloudImporter.openPlain). */
export type PlainOpener = (owner: string, physical: string, size: number, encrypted: number, keyArea: string, keyPath: string) => Promise<Readable>;

/** One old version or trash item read (and verified) from the source. */
export interface NcHistoryItem {
  readonly owner: string;
  readonly kind: 'version' | 'trash' | 'trash-version';
  /** Path below the user's folder (`files_versions/a.txt.v1796…`, `files_trashbin/files/x.d1796…`). */
  readonly physical: string;
  readonly size: number;
  readonly sha256: string;
}

export interface NcHistoryReport {
  versions: number;
  trash: number;
  bytes: number;
  /** Why they are read and verified but not written yet. */
  pending: string;
  items?: NcHistoryItem[];
}

/**
 * Where old versions and trash items get written once Coffer has them (branch `versions`): the
 * importer calls it for each verified item with its plaintext. Until then nothing implements it and
 * the items are only read, verified and reported.
 */
export interface NcHistorySink {
  write(item: Omit<NcHistoryItem, 'sha256'> & { liveFileId?: number; deletedAt?: number; originalLocation?: string }, plain: Readable): Promise<void>;
}

/** `a/b.txt.v123` → `a/b.txt`; `x.v5.d9` → `x.d9` (the key of a trashed file's version is the trashed file's). */
function liveOf(p: string): string {
  return p.replace(/\.v\d+(\.d\d+)?$/, '$1');
}

/**
 * Reads every old version (`files_versions/`) and trash item (`files_trashbin/`) of each user,
 * decrypting and checking each block against its own `encrypted` counter, and hashes the plaintext.
 * Failures go to `skipped`, by name.
 */
export async function readNcVersionsAndTrash(src: NextcloudSource, homes: Map<string, { storage: number }>, open: PlainOpener,
  skipped: { what: string; reason: string }[]): Promise<NcHistoryReport> {
  const report: NcHistoryReport = { versions: 0, trash: 0, bytes: 0, pending: 'read and verified; written once Coffer has versions and trash (branch "versions")', items: [] };
  for (const [owner, home] of homes) {
    for (const area of ['files_versions', 'files_trashbin/files', 'files_trashbin/versions']) {
      for await (const e of src.entries(home.storage, area, 'file')) {
        const rel = e.path.slice(area.length + 1);
        const kind = area === 'files_versions' ? 'version' : area === 'files_trashbin/files' ? 'trash' : 'trash-version';
        const keyArea = area === 'files_versions' ? 'files' : 'files_trashbin/files';
        const keyPath = kind === 'trash' ? rel : liveOf(rel);
        try {
          const h = createHash('sha256');
          await pipeline(await open(owner, e.path, e.size, e.encrypted, keyArea, keyPath), new Writable({ write(c: Buffer, _e, cb) { h.update(c); cb(); } }));
          report.items!.push({ owner, kind, physical: e.path, size: e.size, sha256: h.digest('hex') });
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
