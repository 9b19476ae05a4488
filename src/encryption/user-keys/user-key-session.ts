/** One user's unlocked key material (server memory only, never written anywhere). */
export interface UnlockedUser {
  readonly uid: string;
  /** Id of the public key the private key belongs to. */
  readonly publicKeyId: string;
  readonly privateKey: Buffer;
  /** Unsealed root keys, by id (hex). */
  readonly roots: Map<string, Buffer>;
  /** Share keys this user opened (through their seals), by id (hex); dropped when a seal is revoked. */
  readonly shareKeys: Map<string, Buffer>;
  /** Id of the root key that wraps new data keys (cached from `userRoot.json`). */
  currentRootId?: string;
  lastUsed: number;
}

/**
 * Unlocked private keys and root keys of per-user-key mode, with an idle expiry (default 30 min).
 * Filled on password / app-password login; dropped on expiry, password reset or `lock`. Expired
 * entries are wiped (buffers zero-filled) when seen.
 */
export class UserKeySession {
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, UnlockedUser>();

  constructor(opts: { idleMs?: number; now?: () => number } = {}) {
    this.#idleMs = opts.idleMs ?? 30 * 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /** The unlocked keys of `uid` (touching the idle timer), or undefined when locked or expired. */
  get(uid: string): UnlockedUser | undefined {
    const e = this.#entries.get(uid);
    if (!e) return undefined;
    const now = this.#now();
    if (now - e.lastUsed > this.#idleMs) { this.lock(uid); return undefined; }
    e.lastUsed = now;
    return e;
  }

  /** Stores `uid`'s private key (replacing any earlier one). */
  unlock(uid: string, publicKeyId: string, privateKey: Buffer): UnlockedUser {
    this.lock(uid);
    const e: UnlockedUser = { uid, publicKeyId, privateKey, roots: new Map(), shareKeys: new Map(), lastUsed: this.#now() };
    this.#entries.set(uid, e);
    return e;
  }

  /** Forgets (and wipes) `uid`'s keys. */
  lock(uid: string): void {
    const e = this.#entries.get(uid);
    if (!e) return;
    this.#entries.delete(uid);
    e.privateKey.fill(0);
    for (const k of e.roots.values()) k.fill(0);
    for (const k of e.shareKeys.values()) k.fill(0);
  }

  /** Forgets everything. */
  lockAll(): void { for (const uid of [...this.#entries.keys()]) this.lock(uid); }

  /** Number of unlocked users (for status output). */
  get size(): number { return this.#entries.size; }
}
