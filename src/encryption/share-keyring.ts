import { unwrapKey, wrapKey } from '../crypto/key-wrap.ts';
import { userScope, type KeyStore } from '../keys/key-store.ts';
import { keyringEntryAad, shareKeyringName, type ShareKeyringFile } from './share-key-files.ts';
import { readJson, writeJson } from './user-key-files.ts';

/** One data key to add to a keyring. */
export interface KeyringEntry {
  readonly fileId: number;
  /** The 16 header bytes of the blob id. */
  readonly blobId: Buffer;
  readonly dek: Buffer;
}

type Parsed = Map<string, string>;
const entryKey = (fileId: number, blobId: Buffer): string => `${fileId}:${blobId.toString('hex')}`;

/**
 * Keyrings of share keys (`shareKey_<id>.keyring` in the owner's key folder): the data keys of
 * blobs whose header names another key, each wrapped under K_N (AAD binds key id, file id, blob
 * id). Parsed keyrings are cached in memory; a miss re-reads the file once (another process may
 * have added entries). Additions are serialised per keyring and written atomically.
 */
export class ShareKeyring {
  readonly #store: () => KeyStore;
  readonly #cache = new Map<string, Parsed>();
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(store: () => KeyStore) { this.#store = store; }

  async #load(owner: string, id: string): Promise<Parsed> {
    const f = await readJson<ShareKeyringFile>(this.#store(), userScope(owner), shareKeyringName(id), 'share-keyring');
    const m: Parsed = new Map();
    for (const [fileId, blob, w] of f?.entries ?? []) m.set(`${fileId}:${blob}`, w);
    this.#cache.set(`${owner}/${id}`, m);
    return m;
  }

  /**
   * The data key of blob (`fileId`, `blobId`) from the keyring of share key `id`, or undefined.
   * @throws CryptoError when the entry does not open with `key` (altered keyring).
   */
  async lookup(owner: string, id: string, key: Buffer, fileId: number, blobId: Buffer): Promise<Buffer | undefined> {
    const k = entryKey(fileId, blobId);
    let m = this.#cache.get(`${owner}/${id}`);
    let w = m?.get(k);
    if (w === undefined) { m = await this.#load(owner, id); w = m.get(k); }
    if (w === undefined) return undefined;
    return unwrapKey(key, Buffer.from(w, 'base64'), keyringEntryAad(id, fileId, blobId), `keyring entry of file ${fileId}`);
  }

  /** The (file id:blob id hex) pairs the keyring of `id` holds now. */
  async entries(owner: string, id: string): Promise<ReadonlySet<string>> {
    return new Set((await this.#load(owner, id)).keys());
  }

  /** Adds entries (wrapped under `key`), replacing equal (file, blob) pairs; one atomic write. */
  async add(owner: string, id: string, key: Buffer, entries: readonly KeyringEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#serial(`${owner}/${id}`, async () => {
      const m = await this.#load(owner, id);
      for (const e of entries) m.set(entryKey(e.fileId, e.blobId), wrapKey(key, e.dek, keyringEntryAad(id, e.fileId, e.blobId)).toString('base64'));
      const out: [number, string, string][] = [];
      for (const [k, w] of m) {
        const c = k.indexOf(':');
        out.push([Number(k.slice(0, c)), k.slice(c + 1), w]);
      }
      const f: ShareKeyringFile = { format: 'coffer-key-v1', kind: 'share-keyring', owner, id, entries: out };
      await this.#store().write(userScope(owner), shareKeyringName(id), JSON.stringify(f));
    });
  }

  /** Deletes the keyring of `id` (its node is not shared any more). */
  async drop(owner: string, id: string): Promise<void> {
    await this.#serial(`${owner}/${id}`, async () => {
      await this.#store().delete(userScope(owner), shareKeyringName(id));
      this.#cache.delete(`${owner}/${id}`);
    });
  }

  /** Forgets cached keyrings (after restore-keys or a key storage move). */
  clearCache(): void { this.#cache.clear(); }

  async #serial<T>(k: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#busy.get(k) ?? Promise.resolve();
    const p = prev.catch(() => undefined).then(fn);
    this.#busy.set(k, p);
    try { return await p; } finally { if (this.#busy.get(k) === p) this.#busy.delete(k); }
  }
}
