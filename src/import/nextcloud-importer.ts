import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type { App } from '../app.ts';
import { AppRegistry } from '../apps/app-registry.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { NodeRepository } from '../files/node-repository.ts';
import { newBlobId } from '../storage/blob-id.ts';
import { systemActor } from '../actor.ts';
import { runPool } from '../encryption/bulk-conversion/task-pool.ts';
import type { NcConfig } from './nextcloud-config.ts';
import type { NcKeyRing } from './nextcloud-keys.ts';
import { NcDecryptStream } from './nextcloud-crypto.ts';
import type { NcEntry, NcShare, NextcloudSource } from './nextcloud-source.ts';
import type { NcUserKeyImport } from './nextcloud-user-keys.ts';
import type { NcPendingFiles } from './nextcloud-pending-conversion.ts';
import { readNcVersionsAndTrash, type NcHistoryReport, type NcHistorySink } from './nextcloud-history.ts';
import { NcHistoryWriter } from './nextcloud-history-writer.ts';
import { isIntegrityFailure } from './integrity-failure.ts';
import { importedExpiration } from './nextcloud-share-expiration.ts';
import { ncGroupShareMounts } from './nextcloud-share-mounts.ts';
import { importedPermissions } from '../sharing/share-permissions.ts';
import { permissionChange, type PermissionChange } from './nextcloud-permissions.ts';

/** The importer acts as the server: it writes every user's tree. */
const IMPORTER = systemActor('import:nextcloud');

/** Files imported at once (streams: memory stays at a few chunks per file). */
const FILE_CONCURRENCY = 4;
/** Bytes per read of a Nextcloud file: 32 of its 8 KiB blocks (fewer reads and pushes than 64 KiB). */
const READ_CHUNK = 256 * 1024;

/** App config rows that mark an import (resumption: a second run continues the same source). */
export const IMPORT_APP = 'import_nextcloud';

/** One thing not imported, with why; `integrity` when its content or key failed its check (isIntegrityFailure). */
export interface Skipped { readonly what: string; readonly reason: string; readonly integrity?: true }

/** What an import did (or, with dryRun, would do). */
export interface ImportReport {
  users: number;
  groups: number;
  appPasswords: number;
  folders: number;
  files: number;
  bytes: number;
  shares: number;
  /** Files kept in Nextcloud's encrypted form until their owner's first login (per-user keys; included in files). */
  pending?: number;
  /** Files already present from an interrupted earlier run. */
  resumed: number;
  history: NcHistoryReport;
  skipped: Skipped[];
  /** Files and folders whose Nextcloud permissions differ from what Coffer serves (imported all the same, with Coffer's). */
  permissionsChanged: PermissionChange[];
  /** Users whose Nextcloud quota is no size Coffer understands ("5 GB", bytes, "none"): imported without a limit. */
  quotasNotUnderstood: { uid: string; quota: string }[];
  /** Dry run only: the sha256 of every file's plaintext as read (for checking against the source). */
  checked?: { owner: string; path: string; sha256: string }[];
}

export interface ImportOptions {
  readonly dryRun: boolean;
  /** Called after each file with the totals so far (progress bar). */
  readonly onProgress?: (p: { files: number; bytes: number; totalFiles: number; totalBytes: number }) => void;
  /** Per-user-key target: users' key pairs before the first file, dropped import wrappings at the end. */
  readonly userKeys?: Pick<NcUserKeyImport, 'prepare' | 'finish'>;
  /** Per-user-key target: keeps files the keys given cannot open, for conversion at the owner's first login. */
  readonly pendingFiles?: Pick<NcPendingFiles, 'keep' | 'keepHistory'>;
}

/**
 * Carries a Nextcloud instance into a freshly installed Coffer: users (with their password hashes),
 * groups, app passwords, every user's files and folders (file ids, etags, mtimes, checksums kept;
 * content decrypted from Nextcloud's format and written through Coffer's content store, so it is
 * encrypted at rest when encryption is on), and shares. Reads the Nextcloud side only.
 *
 * Crash safety: each file is one blob put followed by one row insert; a rerun skips file ids that
 * already have their row (and refuses a different source), so nothing is imported twice and a
 * half-written blob is an orphan the garbage collector removes.
 */
export class NextcloudImporter {
  readonly #app: App;
  readonly #cfg: NcConfig;
  readonly #src: NextcloudSource;
  readonly #keys: NcKeyRing;
  readonly #repo: NodeRepository;
  readonly #history: NcHistorySink | undefined;

  /** `history` writes old versions and trash items (default: as Coffer versions and trash items, NcHistoryWriter). */
  constructor(app: App, cfg: NcConfig, src: NextcloudSource, keys: NcKeyRing, history?: NcHistorySink) {
    this.#app = app;
    this.#cfg = cfg;
    this.#src = src;
    this.#keys = keys;
    this.#repo = new NodeRepository(app.db, app.sealer);
    this.#history = history ?? new NcHistoryWriter({
      db: app.db, blobs: app.blobs, sealer: app.sealer, nodes: this.#repo, versions: app.versions.repo, trash: app.trash.repo, actor: IMPORTER, pending: app.ncPending.repo,
    });
  }

  /**
   * Checks that the import can run: no Nextcloud uid exists in Coffer (unless this is a rerun of the
   * same source), no Nextcloud file id is taken by another tree. Changes nothing.
   * @throws ConflictError naming the conflicting uids / file ids
   */
  async preflight(): Promise<{ resuming: boolean }> {
    const marker = await this.#app.appConfig.get(IMPORT_APP, 'instanceid');
    const done = await this.#app.appConfig.get(IMPORT_APP, 'completed');
    if (marker !== undefined && marker !== this.#cfg.instanceId) {
      throw new ConflictError(`this Coffer already holds an import of another Nextcloud instance (${marker})`);
    }
    const resuming = marker === this.#cfg.instanceId && done === undefined;
    const users = await this.#src.users();
    const taken: string[] = [];
    for (const u of users) {
      // uids are unique ignoring case: `Alice` in Coffer blocks Nextcloud's `alice`
      const existing = await this.#app.users.resolveLoginName(u.uid);
      if (existing !== undefined) taken.push(existing === u.uid ? u.uid : `${u.uid} (Coffer's ${existing})`);
    }
    if (taken.length > 0 && !resuming) {
      throw new ConflictError(`these Nextcloud users already exist in Coffer: ${taken.join(', ')}; nothing was imported`);
    }
    if (!resuming) {
      for (const u of users) {
        const home = await this.#src.home(u.uid);
        if (!home) continue;
        const ids: number[] = [];
        for await (const e of this.#src.entries(home.storage, 'files')) ids.push(e.fileId);
        const clash = await this.#repo.existingIds(this.#app.db, ids);
        if (clash.length > 0) throw new ConflictError(`Nextcloud file ids already used in Coffer: ${clash.slice(0, 10).join(', ')}${clash.length > 10 ? ', …' : ''}; install Coffer afresh and import before its first start`);
      }
    }
    return { resuming };
  }

  /**
   * Runs the import (or, with dryRun, reads and decrypts everything and writes nothing).
   * @throws ConflictError from preflight; database and storage errors
   */
  async run(opts: ImportOptions): Promise<ImportReport> {
    const { resuming } = await this.preflight();
    const report: ImportReport = {
      users: 0, groups: 0, appPasswords: 0, folders: 0, files: 0, bytes: 0, shares: 0, resumed: 0,
      history: { versions: 0, trash: 0, bytes: 0, pending: 'not read' }, skipped: [], permissionsChanged: [], quotasNotUnderstood: [],
    };
    const notePermissions = (uid: string, e: NcEntry) => {
      const c = permissionChange(uid, e);
      if (c) report.permissionsChanged.push(c);
    };
    const write = !opts.dryRun;
    if (write && !resuming) {
      // Coffer stays in maintenance mode until the import completes (a rerun after a crash
      // continues it), so nobody sees a half-imported tree; the mode it had is restored at the end.
      // A run killed before its marker was written already switched the mode on: what it recorded stays.
      if (await this.#app.appConfig.get(IMPORT_APP, 'maintenance_before') === undefined) {
        await this.#app.appConfig.set(IMPORT_APP, 'maintenance_before', (await this.#app.maintenance.isOn()) ? '1' : '0');
      }
      await this.#app.maintenance.set(true);
      await this.#app.appConfig.set(IMPORT_APP, 'instanceid', this.#cfg.instanceId);
    }
    if (write && this.#keys.mode !== 'none' && !(await this.#app.encryption.status()).enabled) {
      // the source had server-side encryption on: so does Coffer, before the first file is written
      await new AppRegistry(this.#app.appConfig).enable('encryption');
      await this.#app.encryption.enable();
    }

    const users = await this.#src.users();
    for (const u of users) {
      if (write && !(await this.#app.users.exists(u.uid))) await this.#app.users.createImported({ ...u, passwordHash: storedHash(u.passwordHash, this.#cfg.passwordSalt) });
      report.users++;
      if (u.quotaNotUnderstood !== undefined) report.quotasNotUnderstood.push({ uid: u.uid, quota: u.quotaNotUnderstood });
    }
    for (const g of await this.#src.groups()) {
      if (write) {
        if (!(await this.#app.groups.exists(g.gid))) await this.#app.groups.create(g.gid, g.displayName);
        for (const m of g.members) if (!(await this.#app.groups.isMember(g.gid, m))) await this.#app.groups.addUser(g.gid, m);
      }
      report.groups++;
    }
    const tokens = await this.#src.appTokens();
    if (write && tokens.length > 0) await this.#app.appPasswords.importNextcloud(tokens, this.#cfg.secret);
    report.appPasswords = tokens.length;
    if (write) await opts.userKeys?.prepare(users.map((u) => u.uid));

    // Totals for the progress bar (one cheap pass over the rows, no content read).
    let totalFiles = 0;
    let totalBytes = 0;
    const homes = new Map<string, { storage: number; filesId: number }>();
    for (const u of users) {
      const home = await this.#src.home(u.uid);
      if (!home) continue;
      homes.set(u.uid, home);
      for await (const e of this.#src.entries(home.storage, 'files', 'file')) { totalFiles++; totalBytes += e.size; }
    }

    let maxId = 0;
    for (const [uid, home] of homes) {
      // Folders first, parents before children (a folder's path is shorter than its members').
      const dirs: NcEntry[] = [];
      for await (const e of this.#src.entries(home.storage, 'files', 'dir')) dirs.push(e);
      dirs.sort((a, b) => a.path.length - b.path.length);
      for (const d of dirs) {
        maxId = Math.max(maxId, d.fileId);
        notePermissions(uid, d);
        if (write && !(await this.#repo.byId(this.#app.db, d.fileId))) {
          await this.#repo.insert(this.#app.db, {
            fileId: d.fileId, owner: uid, parentId: d.path === 'files' ? null : d.parentId, path: rel(d.path), name: d.path === 'files' ? '' : d.name,
            kind: 'dir', size: 0, mtime: d.mtime, etag: d.etag, mimetype: 'httpd/unix-directory', blobId: null, blobCodec: null, checksum: null,
          });
        }
        report.folders++;
      }
      // A few files at once: each one's time is mostly fsyncs and an RSA decryption, not bandwidth.
      await runPool(this.#src.entries(home.storage, 'files', 'file'), FILE_CONCURRENCY, async (f) => {
        maxId = Math.max(maxId, f.fileId);
        notePermissions(uid, f);
        if (write && await this.#repo.byId(this.#app.db, f.fileId)) {
          report.resumed++;
          report.files++;
          report.bytes += f.size;
          return;
        }
        try {
          const sha = await this.#importFile(uid, f, write);
          if (sha) (report.checked ??= []).push({ owner: uid, path: rel(f.path), sha256: sha });
          report.files++;
          report.bytes += f.size;
        } catch (err) {
          let why = err as Error;
          // a key the importer lacks (per-user keys): kept in Nextcloud's form for the owner's first login
          const kept = err instanceof NotFoundError && f.encrypted > 0 && opts.pendingFiles
            ? await opts.pendingFiles.keep(uid, f, write).catch((e: unknown) => { why = e as Error; return false; })
            : false;
          if (kept) {
            report.pending = (report.pending ?? 0) + 1;
            report.files++;
            report.bytes += f.size;
          } else {
            report.skipped.push({ what: `${uid}/${f.path}`, reason: why.message, ...(isIntegrityFailure(why) ? { integrity: true as const } : {}) });
          }
        }
        opts.onProgress?.({ files: report.files, bytes: report.bytes, totalFiles, totalBytes });
      });
      if (write) await this.#repo.recomputeFolderSizes(this.#app.db, uid);
    }
    if (write && maxId > 0) await this.#repo.reserveFileIdsThrough(this.#app.db, maxId);

    report.shares = await this.#importShares(await this.#src.shares(), write, report.skipped);
    const pendingFiles = opts.pendingFiles;
    report.history = await readNcVersionsAndTrash(this.#src, homes, (...a) => this.openPlain(...a), report.skipped, write ? this.#history : undefined, isIntegrityFailure,
      pendingFiles ? (item, encrypted, keyArea, keyPath) => pendingFiles.keepHistory(item, encrypted, keyArea, keyPath) : undefined);
    if (write) {
      await opts.userKeys?.finish(users.map((u) => u.uid));
      // the mode first: killed in between, a rerun resumes (no `completed` yet) and restores it again
      await this.#app.maintenance.set((await this.#app.appConfig.get(IMPORT_APP, 'maintenance_before')) === '1');
      await this.#app.appConfig.set(IMPORT_APP, 'completed', String(Math.floor(Date.now() / 1000)));
    }
    return report;
  }

  /**
   * Opens the plaintext of `<owner>/<physical>` (decrypting and verifying it when `encrypted` > 0,
   * with the key of `<keyArea>/<keyPath>`). Errors (bad signature, wrong size) come on the stream.
   * @throws NotFoundError when no key opens it
   */
  async openPlain(owner: string, physical: string, size: number, encrypted: number, keyArea: string, keyPath: string): Promise<Readable> {
    const file = join(this.#cfg.dataDirectory, owner, physical);
    if (encrypted === 0) return createReadStream(file, { highWaterMark: READ_CHUNK });
    const fileKey = await this.#keys.fileKey(owner, keyArea, keyPath);
    const src = createReadStream(file, { highWaterMark: READ_CHUNK });
    const out = new PassThrough();
    pipeline(src, new NcDecryptStream({ fileKey, version: encrypted, plainSize: size }), out).catch((err) => out.destroy(err));
    return out;
  }

  /** Imports one file (dry run: reads and verifies it, returning its plaintext sha256). */
  async #importFile(uid: string, f: NcEntry, write: boolean): Promise<string | undefined> {
    const path = rel(f.path);
    if (f.encrypted === 0) {
      const st = await stat(join(this.#cfg.dataDirectory, uid, f.path));
      if (st.size !== f.size) throw new ConflictError(`size on disk ${st.size} differs from the database's ${f.size}`);
    }
    const plain = await this.openPlain(uid, f.path, f.size, f.encrypted, 'files', path);
    if (!write) {
      // dry run: read and verify everything, write nothing
      const h = createHash('sha256');
      await pipeline(plain, new Writable({ write(c: Buffer, _e, cb) { h.update(c); cb(); } }));
      return h.digest('hex');
    }
    const blobId = newBlobId();
    const put = await this.#app.blobs.put(blobId, plain, { fileId: f.fileId, owner: uid, parentId: f.parentId, fresh: true, actor: IMPORTER });
    try {
      if (put.size !== f.size) throw new ConflictError(`wrote ${put.size} bytes, expected ${f.size}`);
      await this.#repo.insert(this.#app.db, {
        fileId: f.fileId, owner: uid, parentId: f.parentId, path, name: f.name, kind: 'file', size: f.size, mtime: f.mtime,
        etag: f.etag, mimetype: f.mimetype, blobId, blobCodec: put.codec, checksum: f.checksum,
      });
    } catch (err) {
      await this.#app.blobs.delete(blobId).catch(() => {});
      throw err;
    }
  }

  async #importShares(shares: NcShare[], write: boolean, skipped: Skipped[]): Promise<number> {
    let n = 0;
    const zones = await this.#src.timeZones();
    for (const s of shares) {
      if (s.shareType === 2) continue; // per-user rows of group shares: their members' mounts (ncGroupShareMounts)
      const node = await this.#repo.byId(this.#app.db, s.fileId);
      if (!node && write) { skipped.push({ what: `share ${s.id}`, reason: 'its file was not imported' }); continue; }
      const permissions = importedPermissions(s.shareType, s.itemType, s.permissions);
      if (permissions === undefined) { skipped.push({ what: `share ${s.id}`, reason: `Nextcloud permissions ${s.permissions} leave nothing Coffer allows for this share` }); continue; }
      // the expiry day was chosen in the timezone of whoever set it: the initiator
      const expiration = s.expiration === null ? null : importedExpiration(s.expiration, zones.get(s.initiator) ?? this.#cfg.defaultTimezone);
      if (write) await this.#app.shares.importShare(IMPORTER, { ...s, permissions, expiration, mounts: ncGroupShareMounts(s, shares) });
      n++;
    }
    return n;
  }
}

/**
 * The form PasswordHasher verifies: Nextcloud's versioned hashes as they are, legacy unprefixed ones
 * (which need config.php's passwordsalt) as `0|<base64 salt>|<hash>`.
 */
export function storedHash(ncHash: string, passwordSalt: string): string {
  return /^[1-9][0-9]*\|/.test(ncHash) ? ncHash : `0|${Buffer.from(passwordSalt, 'utf8').toString('base64')}|${ncHash}`;
}

/** `files/a/b` → `a/b`; `files` → ''. */
function rel(ncPath: string): string {
  return ncPath === 'files' ? '' : ncPath.slice('files/'.length);
}
