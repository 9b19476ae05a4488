import { readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SETTINGS_MAX_AGE_MS, type AppConfigRepository } from '../db/app-config.ts';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { FORMAT_ID } from '../crypto/format.ts';
import { KeyStore } from '../keys/key-store.ts';
import { systemActor, type Actor } from '../actor.ts';
import type { BlobContext } from '../storage/blob-store.ts';
import { newBlobId } from '../storage/blob-id.ts';
import type { EncryptedBlobStore } from './encrypted-blob-store.ts';
import type { BlobHolder, FileRows, StoredFile } from './file-rows.ts';
import { DEFAULT_MODULE_KEY, ENABLED_KEY, ENCRYPTION_APP, KEY_ROOT_KEY, MODULE_ID, STATE_APP, followKeyRoot, type EncryptionState } from './encryption-state.ts';
import { createKeyBackup, restoreKeyBackup, DEFAULT_SCRYPT, type ScryptParams } from './master-key/key-backup.ts';
import type { KeyManager, RotationProgress } from './master-key/key-manager.ts';
import { decryptBlobFile } from './bulk-conversion/offline-decrypt.ts';

export interface EncryptionStatus {
  readonly enabled: boolean;
  readonly defaultModule: 'OC_DEFAULT_MODULE';
  readonly masterKeyPresent: boolean;
  readonly appEnabled: boolean;
  readonly keyStorageRoot: string;
  /** Unix time of the last `backup-keys`, or null: UIs and the CLI warn until a backup exists. */
  readonly keysBackedUpAt: number | null;
}

/** A file row to convert (encrypt-all / decrypt-all). */
export interface ConvertibleNode {
  /** Which row names the blob (default 'node'), and its key there (default the file id). */
  readonly holder?: BlobHolder;
  readonly rowId?: number;
  /** The file id the blob is bound to. */
  readonly fileid: number;
  readonly owner: string;
  readonly blobId: string;
  readonly codec: string;
  readonly size: number;
  /** The row's seal (row-seal.ts). */
  readonly seal?: string | null;
  /** Where the row is in the owner's tree, for reports. */
  readonly path?: string;
}

/** The server checking stored files (encryption:verify, integrity checks). */
const VERIFY = systemActor('verify');

/** The blob context of a file row read or rewritten by `actor`: who owns it, and what the row says (checked against its seal). */
export function rowContext(actor: Actor, node: ConvertibleNode): BlobContext {
  return { fileId: node.fileid, owner: node.owner, actor, row: { size: node.size, seal: node.seal ?? null, ...(node.holder === 'version' ? { version: true } : {}) } };
}

export type ConvertResult = 'converted' | 'skipped';

export interface EncryptionServiceOptions {
  /** The file rows conversion pages through and switches (files/node-file-rows.ts). */
  rows: FileRows;
  appConfig: AppConfigRepository;
  keys: KeyManager;
  blobs: EncryptedBlobStore;
  state: EncryptionState;
  /** The data directory (default key storage root). */
  dataDirectory: string;
  /** How long a key storage move waits for running servers to follow it (default: twice the settings cache's age). */
  keyRootSettleMs?: number;
}

/**
 * Copies one key file between roots and reads the copy back.
 * @throws ConflictError when the copy does not read back as written
 */
async function copyKeyFile(from: KeyStore, to: KeyStore, rel: string): Promise<void> {
  const data = await from.readRelative(rel);
  await to.writeRelative(rel, data);
  if (!(await to.readRelative(rel)).equals(data)) throw new ConflictError(`copy of key file ${rel} to ${to.root} did not verify`);
}

/** What the encryption:* commands call. */
export class EncryptionService {
  readonly #o: EncryptionServiceOptions;
  constructor(o: EncryptionServiceOptions) { this.#o = o; }

  /** Effective key storage root. */
  async keyStorageRoot(): Promise<string> {
    return (await this.#o.state.get()).keyRoot ?? this.#o.dataDirectory;
  }

  async status(): Promise<EncryptionStatus> {
    const s = await followKeyRoot(this.#o.keys, this.#o.state, this.#o.dataDirectory, true);
    const root = s.keyRoot ?? this.#o.dataDirectory;
    const km = this.#o.keys;
    const backedUp = await this.#o.appConfig.get(ENCRYPTION_APP, 'keys_backed_up_at');
    return {
      enabled: s.enabled, defaultModule: MODULE_ID, masterKeyPresent: await km.hasMasterKey(),
      appEnabled: (await this.#o.appConfig.get(ENCRYPTION_APP, 'enabled')) === 'yes', keyStorageRoot: root,
      keysBackedUpAt: backedUp ? Number(backedUp) : null,
    };
  }

  /**
   * Turns encryption on: creates the master key (or verifies the secret against the existing one), then
   * sets core/encryption_enabled = yes. Existing files stay as they are.
   * @throws ConflictError when the encryption app is not enabled; CryptoError for a wrong secret.
   */
  async enable(): Promise<void> {
    const st = await this.status();
    if (!st.appEnabled) throw new ConflictError('the Default encryption module is not enabled: run ./occ app:enable encryption first');
    await this.#o.keys.ensureMasterKey();
    await this.#o.appConfig.set(STATE_APP, ENABLED_KEY, 'yes');
    this.#o.state.invalidate();
  }

  /** Number of blobs stored encrypted: files, kept versions and trashed files (disable refuses while any is). */
  async countEncrypted(): Promise<number> {
    return (await this.#o.rows.countFiles('encrypted')).files;
  }

  /**
   * Turns encryption off for new writes. Encrypted files stay readable.
   * @throws ConflictError while encrypted files exist, unless `force`.
   */
  async disable(opts: { force?: boolean } = {}): Promise<void> {
    const n = await this.countEncrypted();
    if (n > 0 && !opts.force) throw new ConflictError(`${n} files are still encrypted: run ./occ encryption:decrypt-all first (or --force; they stay readable)`);
    await this.#o.appConfig.set(STATE_APP, ENABLED_KEY, 'no');
    this.#o.state.invalidate();
  }

  /**
   * Pages through file rows to convert: `target` 'encrypt' → rows with codec 'plain'; 'decrypt' → encrypted rows.
   * Keyset pagination by row id (pass the last rowId as `after`); `holder` picks the live files (default),
   * the versions or the trashed files.
   */
  nodesToConvert(target: 'encrypt' | 'decrypt', opts: { after?: number; limit?: number; owner?: string; holder?: BlobHolder } = {}): Promise<StoredFile[]> {
    return this.#o.rows.filesPage(target === 'encrypt' ? 'plain' : 'encrypted', opts);
  }

  /**
   * Rewrites one file's content into a new blob (encrypted or plain), then switches the row with one
   * UPDATE guarded by the old blob id, then deletes the old blob. Crash-safe: before the UPDATE the old
   * blob is live (the new one is an orphan for GC); after it, the new one is. If the file changed
   * meanwhile, the new blob is dropped and 'skipped' returned.
   * @throws CryptoError when the source fails authentication (nothing is changed).
   */
  async reencryptBlob(node: ConvertibleNode, target: 'encrypt' | 'decrypt'): Promise<ConvertResult> {
    const { blobs, rows } = this.#o;
    const ctx = rowContext(systemActor(`${target}-all`), node);
    const src = await blobs.get(node.blobId, node.codec, ctx);
    const newId = newBlobId();
    const res = target === 'encrypt' ? await blobs.putEncrypted(newId, src, ctx) : await blobs.putPlain(newId, src, ctx);
    const seal = blobs.seal?.ofHolder(node.holder ?? 'node', node.fileid, newId, res.codec, node.size) ?? null;
    const [switched] = await rows.switchBlobs([{ holder: node.holder, rowId: node.rowId, fileId: node.fileid, oldBlobId: node.blobId, newBlobId: newId, codec: res.codec, seal }]);
    if (!switched) {
      await blobs.delete(newId);
      return 'skipped';
    }
    await blobs.delete(node.blobId);
    return 'converted';
  }

  /** The encryption modules (Nextcloud's encryption:list-modules): only the Default encryption module. */
  listModules(): { id: string; displayName: string; isDefault: boolean }[] {
    return [{ id: MODULE_ID, displayName: 'Default encryption module', isDefault: true }];
  }

  /** encryption:set-default-module. @throws NotFoundError for any module but OC_DEFAULT_MODULE. */
  async setDefaultModule(id: string): Promise<void> {
    if (id !== MODULE_ID) throw new NotFoundError(`encryption module ${JSON.stringify(id)} does not exist (available: ${MODULE_ID})`);
    await this.#o.appConfig.set(STATE_APP, DEFAULT_MODULE_KEY, id);
  }

  /**
   * Every file row of `holder` (default the live files; for encryption:verify), keyset-paginated by
   * row id, optionally of one owner.
   */
  filesToVerify(opts: { after?: number; limit?: number; owner?: string; holder?: BlobHolder } = {}): Promise<StoredFile[]> {
    return this.#o.rows.filesPage('all', opts);
  }

  /**
   * Reads a file's whole content through the decoder and checks its size against the row.
   * Returns undefined when intact, else the reason (the CryptoError / NotFoundError message).
   */
  async verifyNode(node: ConvertibleNode): Promise<string | undefined> {
    try {
      // the row's seal too: a row switched to plain (or to another blob or size) is damage
      const s = await this.#o.blobs.get(node.blobId, node.codec, rowContext(VERIFY, node));
      let n = 0;
      for await (const c of s) n += (c as Buffer).length;
      if (n !== node.size) return `content is ${n} bytes, the database says ${node.size}`;
      return undefined;
    } catch (err) {
      if (err instanceof AppError) return err.message;
      throw err;
    }
  }

  /** Rotates the master key (re-wraps user root keys only; resumable). */
  rotateMasterKey(onProgress?: (p: RotationProgress) => void): Promise<RotationProgress> {
    return this.#o.keys.rotateMasterKey(onProgress);
  }

  /**
   * Moves every key file to `dir` (which must exist): copy each file atomically and verify it, switch
   * the root in the database, wait until running servers follow (keyRootSettleMs), copy the files
   * written to the old root meanwhile (`late`), then delete the old copies that the new root holds
   * byte for byte; any other file stays where it is and is named in `left`. A crash leaves the old
   * root in use with a redundant copy, or the new root in use with leftovers; never missing keys.
   * @throws ValidationError when `dir` is not an existing directory, or is the current root;
   *   ConflictError when a copy does not read back (before the switch: nothing was switched)
   */
  async changeKeyStorageRoot(dir: string): Promise<{ moved: number; root: string; late: number; left: string[] }> {
    const target = isAbsolute(dir) ? dir : resolve(dir);
    const st = await stat(target).catch(() => undefined);
    if (!st?.isDirectory()) throw new ValidationError(`key storage root ${target} does not exist or is not a directory`);
    const oldStore = new KeyStore(await this.keyStorageRoot());
    if (resolve(oldStore.root) === resolve(target)) throw new ValidationError(`${target} is already the key storage root`);
    await this.#o.keys.verifySecret();
    const next = new KeyStore(target);
    const files = await oldStore.allFiles();
    for (const rel of files) await copyKeyFile(oldStore, next, rel);
    await this.#o.appConfig.set(STATE_APP, KEY_ROOT_KEY, target === this.#o.dataDirectory ? '' : target);
    this.#o.state.invalidate();
    this.#o.keys.setKeyStore(next);
    // A running server reads the root through its settings cache: until it has read the new one, it
    // may still write a key there (a new user's root key, a share key). Wait until every server has
    // (the cache's age, twice: an operation may have read it just before), then copy what appeared
    // meanwhile; only files the new root holds byte for byte are removed from the old one.
    await sleep(this.#o.keyRootSettleMs ?? 2 * SETTINGS_MAX_AGE_MS);
    const copied = new Set(files);
    let late = 0;
    for (const rel of await oldStore.allFiles()) {
      if (copied.has(rel) || (await next.readRelative(rel).catch(() => undefined)) !== undefined) continue;
      await copyKeyFile(oldStore, next, rel);
      late++;
    }
    const left = await oldStore.removeCopiedTo(next);
    return { moved: files.length + late, root: target, late, left };
  }

  /** Writes a password-protected archive of every key file to `file`. */
  async backupKeys(file: string, password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<{ files: number }> {
    const store = new KeyStore(await this.keyStorageRoot());
    const archive = await createKeyBackup(store, password, params);
    await writeFile(file, archive, { mode: 0o600 });
    await this.#o.appConfig.set(ENCRYPTION_APP, 'keys_backed_up_at', String(Math.floor(Date.now() / 1000)));
    return { files: (await store.allFiles()).length };
  }

  /**
   * Restores the key files of an archive into the current key storage root.
   * @throws CryptoError for a wrong password or a damaged archive (nothing is written then).
   */
  async restoreKeys(file: string, password: string): Promise<{ files: number }> {
    const store = new KeyStore(await this.keyStorageRoot());
    const res = await restoreKeyBackup(store, await readFile(file), password);
    this.#o.keys.clearCache();
    return res;
  }

  /**
   * Decrypts one stored blob file to `outFile` with the key storage alone (no database lookups).
   * @throws CryptoError on any integrity failure or missing key.
   */
  decryptBlob(blobFile: string, outFile: string, expectFileId?: number): Promise<{ fileId: number; bytes: number }> {
    return decryptBlobFile({ blobFile, outFile, keys: this.#o.keys, expectFileId });
  }

  /** The format id of encrypted blobs. */
  get formatId(): string { return FORMAT_ID; }
}
