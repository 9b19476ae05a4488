import { randomBytes } from 'node:crypto';
import { unwrapKey, wrapKey } from '../../crypto/key-wrap.ts';
import { userScope, type KeyStore } from '../../keys/key-store.ts';
import { keyringEntryAad, keyringSegmentName, isKeyringFileOf, type ShareKeyringFile } from './share-key-files.ts';
import { readJson } from '../user-keys/user-key-files.ts';

/** One data key to add to a keyring. */
export interface KeyringEntry {
  readonly fileId: number;
  /** The 16 header bytes of the blob id. */
  readonly blobId: Buffer;
  readonly dek: Buffer;
}

/** Entries by "fileId:blobId hex" → base64 wrap, and the files they were read from. */
interface Loaded { readonly entries: Map<string, string>; readonly files: string[] }

const entryKey = (fileId: number, blobId: Buffer): string => `${fileId}:${blobId.toString('hex')}`;

/** Segments beyond which an addition also merges the keyring into one segment. */
const COMPACT_AT = 16;

/**
 * Keyrings of share keys in the owner's key folder: the data keys of blobs whose header names
 * another key, each wrapped under K_N (AAD binds key id, file id, blob id).
 *
 * A keyring is a set of append-only segments (`shareKey_<id>.keyring_<tag>`; the older single file
 * `shareKey_<id>.keyring` reads as one more): an addition writes a new segment holding only its
 * entries and never rewrites another, so two server processes adding at once cannot lose each
 * other's entries (a read-modify-write of one file could). Past COMPACT_AT segments an addition
 * writes the union of the segments it read as a new segment, then deletes those it read: a segment
 * written meanwhile by another process is not among them, and two merging at once each keep the
 * union they read. Parsed keyrings are cached; a miss re-reads them (another process may have added).
 */
export class ShareKeyring {
  readonly #store: () => KeyStore;
  readonly #cache = new Map<string, Map<string, string>>();
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(store: () => KeyStore) { this.#store = store; }

  async #load(owner: string, id: string): Promise<Loaded> {
    const store = this.#store();
    const scope = userScope(owner);
    for (let attempt = 0; ; attempt++) {
      const entries = new Map<string, string>();
      const files: string[] = [];
      let vanished = false;
      for (const name of await this.#files(owner, id)) {
        const f = await readJson<ShareKeyringFile>(store, scope, name, 'share-keyring');
        if (!f) { vanished = true; continue; }
        files.push(name);
        for (const [fileId, blob, w] of f.entries) entries.set(`${fileId}:${blob}`, w);
      }
      // A segment that vanished between the listing and its read was merged by another process
      // into a segment this listing may not have seen: list again.
      if (vanished && attempt < 3) continue;
      this.#cache.set(`${owner}/${id}`, entries);
      return { entries, files };
    }
  }

  /**
   * The data key of blob (`fileId`, `blobId`) from the keyring of share key `id`, or undefined.
   * @throws CryptoError when the entry does not open with `key` (altered keyring) or a segment is damaged.
   */
  async lookup(owner: string, id: string, key: Buffer, fileId: number, blobId: Buffer): Promise<Buffer | undefined> {
    const k = entryKey(fileId, blobId);
    let w = this.#cache.get(`${owner}/${id}`)?.get(k);
    if (w === undefined) w = (await this.#load(owner, id)).entries.get(k);
    if (w === undefined) return undefined;
    return unwrapKey(key, Buffer.from(w, 'base64'), keyringEntryAad(id, fileId, blobId), `keyring entry of file ${fileId}`);
  }

  /** The (file id:blob id hex) pairs the keyring of `id` holds now. @throws CryptoError for a damaged segment. */
  async entries(owner: string, id: string): Promise<ReadonlySet<string>> {
    return new Set((await this.#load(owner, id)).entries.keys());
  }

  /**
   * Adds entries (wrapped under `key`) as one new segment (an atomic write); merges the keyring
   * when it has grown past COMPACT_AT segments.
   * @throws the key storage's write errors; CryptoError for a damaged segment (when merging).
   */
  async add(owner: string, id: string, key: Buffer, entries: readonly KeyringEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#serial(`${owner}/${id}`, async () => {
      const out: [number, string, string][] = entries.map((e) => [e.fileId, e.blobId.toString('hex'), wrapKey(key, e.dek, keyringEntryAad(id, e.fileId, e.blobId)).toString('base64')]);
      await this.#writeSegment(owner, id, out);
      const cached = this.#cache.get(`${owner}/${id}`);
      if (cached) for (const [f, b, w] of out) cached.set(`${f}:${b}`, w);
      if ((await this.#files(owner, id)).length > COMPACT_AT) await this.#merge(owner, id, await this.#load(owner, id));
    });
  }

  /** Names of the key files that make up the keyring of `id` now. */
  async #files(owner: string, id: string): Promise<string[]> {
    return (await this.#store().list(userScope(owner))).filter((n) => isKeyringFileOf(id, n));
  }

  async #writeSegment(owner: string, id: string, entries: [number, string, string][]): Promise<void> {
    const f: ShareKeyringFile = { format: 'coffer-key-v1', kind: 'share-keyring', owner, id, entries };
    await this.#store().write(userScope(owner), keyringSegmentName(id, randomBytes(8).toString('hex')), JSON.stringify(f));
  }

  /** Writes the union of `loaded` as one segment, then deletes the segments it came from. */
  async #merge(owner: string, id: string, loaded: Loaded): Promise<void> {
    const out: [number, string, string][] = [];
    for (const [k, w] of loaded.entries) {
      const c = k.indexOf(':');
      out.push([Number(k.slice(0, c)), k.slice(c + 1), w]);
    }
    await this.#writeSegment(owner, id, out);
    for (const name of loaded.files) await this.#store().delete(userScope(owner), name);
  }

  /** Deletes the keyring of `id` (its node is not shared any more). */
  async drop(owner: string, id: string): Promise<void> {
    await this.#serial(`${owner}/${id}`, async () => {
      const store = this.#store();
      const scope = userScope(owner);
      for (const name of await this.#files(owner, id)) await store.delete(scope, name);
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
