import { randomBytes } from 'node:crypto';
import { CryptoError, ForbiddenError } from '../../errors.ts';
import { unwrapHeaderDek, type KekResolver, type UnwrappedHeader } from '../../crypto/blob-header.ts';
import { unwrapKey, wrapKey } from '../../crypto/key-wrap.ts';
import { HEADER_SIZE, KEY_ID_SIZE, KEY_SIZE, parseHeader } from '../../crypto/format.ts';
import { openSealed, sealTo } from '../../crypto/x25519-seal.ts';
import { userScope, type KeyStore } from '../../keys/key-store.ts';
import { actsAsOwner, describeActor, type Actor } from '../../actor.ts';
import { PLAIN_CODEC, readAll, type BlobContext, type BlobStore } from '../../storage/blob-store.ts';
import type { EncryptionState } from '../encryption-state.ts';
import type { KeyHandle, KeyManager } from '../master-key/key-manager.ts';
import { blobIdBytes } from '../encrypted-blob-store.ts';
import {
  linkKek, shareKeyAad, shareKeyName, shareLinkAad, shareLinkName, shareNodeName, shareSealAad, shareSealName,
  shareUnderAad, shareUnderName, SHARE_LINK_FILE, SHARE_SEAL_FILE, SHARE_UNDER_FILE,
  type ShareKeyFile, type ShareLinkFile, type ShareNodePointer, type ShareSealFile, type ShareUnderFile,
} from './share-key-files.ts';
import { ShareKeyNotSealedError } from './share-key-errors.ts';
import { ShareKeyring } from './share-keyring.ts';
import { UserKeyLockedError } from '../user-keys/user-key-errors.ts';
import { readJson, userPublicName, writeJson, type PublicKeyFile } from '../user-keys/user-key-files.ts';
import type { UserKeys } from '../user-keys/user-keys.ts';

/** Where shared nodes are (the sharing layer answers from the database). */
export interface ShareTopology {
  /**
   * Nodes of `owner`'s tree at or above `fileId` that have a share, nearest first; for a trashed
   * node, those above where it was deleted from ([] when `fileId` is neither in the tree nor the trash).
   */
  sharedAncestors(owner: string, fileId: number): Promise<number[]>;
  /** Nodes strictly below `nodeFileId` that have a share. */
  sharedBelow(owner: string, nodeFileId: number): Promise<number[]>;
  /** Encrypted blobs at or below `nodeFileId` (file id, blob id): files, their versions, recipients' deletes from there. */
  encryptedFilesBelow(owner: string, nodeFileId: number): Promise<{ fileId: number; blobId: string }[]>;
}

/** The share key of a node, unwrapped. */
export interface ShareKeyHandle {
  readonly id: string;
  readonly key: Buffer;
  readonly fileId: number;
}

const MAX_DEPTH = 32;

/**
 * Per-user-mode sharing keys (docs/PER-USER-KEYS.md, "Sharing"). One share key K_N per shared node,
 * in the owner's key folder, reachable by the owner (R_u or an enclosing share key), by each
 * recipient (X25519 seal), by each public link (HKDF of the token), and by enclosing shared nodes
 * (under-wraps). Blobs written below a shared node wrap their DEK under K_N; older blobs are reached
 * through K_N's keyring. Which of these an actor may use is decided here: a sharee only through
 * their seal, a link only through its wrap, never through the owner's root key. Inactive (returns
 * undefined) in master-key mode.
 */
export class ShareKeys {
  readonly #store: () => KeyStore;
  readonly #keys: KeyManager;
  readonly #userKeys: UserKeys;
  readonly #state: EncryptionState;
  readonly #topology: ShareTopology;
  readonly keyring: ShareKeyring;
  /** The store under the encryption layer: blob headers are read from it directly. */
  readonly #raw: BlobStore;
  readonly #perUser: boolean;

  /**
   * @param o.raw the store under the encryption decorator (headers are read from it)
   * @param o.perUser the key mode chosen at start (openApp): false makes every method a no-op
   */
  constructor(o: { store: () => KeyStore; keys: KeyManager; userKeys: UserKeys; state: EncryptionState; topology: ShareTopology; raw: BlobStore; perUser: boolean }) {
    this.#store = o.store;
    this.#keys = o.keys;
    this.#userKeys = o.userKeys;
    this.#state = o.state;
    this.#topology = o.topology;
    this.#raw = o.raw;
    this.#perUser = o.perUser;
    this.keyring = new ShareKeyring(o.store);
  }

  /** True in per-user-key mode with encryption enabled. */
  async active(): Promise<boolean> {
    return this.#perUser && (await this.#state.get()).enabled;
  }

  /** The 140 header bytes of a stored blob (one positioned read on local disk, a ranged GET elsewhere). */
  async #readHeader(blobId: string, ctx: BlobContext): Promise<Buffer> {
    return readAll(await this.#raw.get(blobId, PLAIN_CODEC, ctx, { start: 0, end: HEADER_SIZE - 1 }));
  }

  /** Resolves `owner`'s root keys by id (for the owner's side only: see dataKey). */
  #rootResolver(owner: string): KekResolver {
    return (keyId) => this.#keys.resolveKey(keyId, owner);
  }

  get topology(): ShareTopology { return this.#topology; }

  // ---- reading keys --------------------------------------------------------------------------

  async #file(owner: string, id: string): Promise<ShareKeyFile | undefined> {
    return readJson<ShareKeyFile>(this.#store(), userScope(owner), shareKeyName(id), 'share-key');
  }

  /** The share key id of node `fileId`, or undefined. */
  async keyIdOf(owner: string, fileId: number): Promise<string | undefined> {
    return (await readJson<ShareNodePointer>(this.#store(), userScope(owner), shareNodeName(fileId), 'share-node'))?.keyId;
  }

  #cached(actor: Actor, id: string): Buffer | undefined {
    const c = actor.kind === 'user' ? this.#userKeys.session.get(actor.uid)?.shareKeys.get(id) : undefined;
    return c ? Buffer.from(c) : undefined;
  }

  #remember(actor: Actor, id: string, key: Buffer): void {
    const u = actor.kind === 'user' ? this.#userKeys.session.get(actor.uid) : undefined;
    if (u) u.shareKeys.set(id, Buffer.from(key));
  }

  /**
   * Unwraps share key `id` of `owner` for `actor`: its seal to the actor (a sharee), its link wrap
   * (a link visitor), the owner's wrap (R_u while the owner is unlocked, or an enclosing share key), or an under-wrap.
   * @throws ShareKeyNotSealedError / UserKeyLockedError (403) naming who lacks what; CryptoError when
   *   the key is not in the key storage or fails authentication.
   */
  async unwrap(owner: string, id: string, actor: Actor): Promise<Buffer> {
    const hit = this.#cached(actor, id);
    if (hit) return hit;
    const key = await this.#unwrap(owner, id, actor, new Set());
    this.#remember(actor, id, key);
    return key;
  }

  async #unwrap(owner: string, id: string, actor: Actor, seen: Set<string>): Promise<Buffer> {
    if (seen.has(id) || seen.size > MAX_DEPTH) throw new CryptoError('malformed', `share key ${id} of ${owner}: wrapping cycle in the key storage`);
    seen.add(id);
    const f = await this.#file(owner, id);
    if (!f) throw new CryptoError('key-missing', `the share key ${id} of user ${owner} is not in the key storage (${this.#store().root}); restore the keys from a backup`);
    const store = this.#store();
    const scope = userScope(owner);
    const errors: unknown[] = [];
    const uid = actor.kind === 'user' ? actor.uid : undefined;
    if (uid && uid !== owner) {
      const cached = this.#cached(actor, id);
      if (cached) return cached;
      const seal = await readJson<ShareSealFile>(store, scope, shareSealName(id, uid), 'share-key-seal');
      const u = this.#userKeys.session.get(uid);
      if (seal && u && seal.uid === uid && u.publicKeyId === seal.publicKeyId) {
        return openSealed(u.privateKey, Buffer.from(seal.sealed, 'base64'), shareSealAad(owner, id, uid, seal.publicKeyId), `share key ${id} sealed to ${uid}`);
      }
      errors.push(seal && !u ? new UserKeyLockedError(uid) : new ShareKeyNotSealedError(owner, uid));
    }
    if (actor.kind === 'link') {
      const l = await readJson<ShareLinkFile>(store, scope, shareLinkName(id, actor.token), 'share-key-link');
      if (l) return unwrapKey(linkKek(actor.token, Buffer.from(l.salt, 'base64')), Buffer.from(l.wrapped, 'base64'), shareLinkAad(owner, id), `share key ${id} of a public link`);
      errors.push(new ForbiddenError('this public link grants no key to these files (the link was removed)'));
    }
    try {
      const by = f.wrappedBy;
      // The owner's root key serves the owner (and the server), never a sharee or a link.
      if (by.type === 'root' && !actsAsOwner(actor, owner)) throw new UserKeyLockedError(owner);
      const kek = by.type === 'root' ? await this.#keys.resolveKey(Buffer.from(by.id, 'hex'), owner) : await this.#unwrap(owner, by.id, actor, seen);
      return unwrapKey(kek, Buffer.from(f.wrapped, 'base64'), shareKeyAad(owner, id, f.fileId, by), `share key ${id} of ${owner}`);
    } catch (err) { errors.push(err); }
    for (const n of await store.list(scope)) {
      const m = SHARE_UNDER_FILE.exec(n);
      if (!m || m[1] !== id || seen.has(m[2]!)) continue;
      try {
        const u = await readJson<ShareUnderFile>(store, scope, n, 'share-key-under');
        if (!u) continue;
        const kek = await this.#unwrap(owner, m[2]!, actor, new Set(seen));
        return unwrapKey(kek, Buffer.from(u.wrapped, 'base64'), shareUnderAad(owner, id, m[2]!), `share key ${id} under ${m[2]}`);
      } catch (err) { errors.push(err); }
    }
    throw errors.find((e) => e instanceof ForbiddenError) ?? errors[0] ?? new UserKeyLockedError(owner);
  }

  /**
   * A blob's header and data key, for `ctx.actor`: through the key the header names (a share key,
   * or the owner's root key for the owner's side), else through the keyring of a shared ancestor
   * the actor can open. @throws the first cause (403 errors name it); CryptoError.
   */
  async dataKey(head: Buffer, ctx: BlobContext, expected: { fileId: number; blobId: Buffer }, memo?: Map<string, Promise<Buffer>>): Promise<UnwrappedHeader> {
    const actor = ctx.actor;
    const rootResolver = this.#rootResolver(ctx.owner);
    const lookup = async (keyId: Buffer, header: Parameters<KekResolver>[1]): Promise<Buffer> => {
      const id = keyId.toString('hex');
      if (await this.#file(ctx.owner, id)) return this.unwrap(ctx.owner, id, actor);
      // Sharees and links never borrow the owner's unlocked root key: they go through a keyring.
      if (!actsAsOwner(actor, ctx.owner)) throw new UserKeyLockedError(ctx.owner);
      return rootResolver(keyId, header);
    };
    // A batch (keyring fill) resolves each key id once.
    const resolve: KekResolver = (keyId, header) => {
      if (!memo) return lookup(keyId, header);
      const k = keyId.toString('hex');
      let p = memo.get(k);
      if (!p) { p = lookup(keyId, header); memo.set(k, p); }
      return p;
    };
    try {
      return await unwrapHeaderDek(head, resolve, expected);
    } catch (err) {
      if (!(err instanceof ForbiddenError)) throw err;
      const header = parseHeader(head);
      let own: unknown;
      for (const nodeId of await this.#topology.sharedAncestors(ctx.owner, ctx.fileId)) {
        const id = await this.keyIdOf(ctx.owner, nodeId);
        if (!id) continue;
        const key = await this.unwrap(ctx.owner, id, actor).catch((e: unknown) => { own ??= e; return undefined; });
        if (!key) continue;
        const dek = await this.keyring.lookup(ctx.owner, id, key, header.fileId, header.blobId);
        if (dek) return { header, dek };
      }
      // A sharee is told what they lack (no seal yet), not that the owner is logged out.
      throw !actsAsOwner(actor, ctx.owner) && own instanceof ForbiddenError ? own : err;
    }
  }

  /**
   * The key that wraps the DEK of a new blob: the share key of the nearest shared ancestor of the
   * file (or of `ctx.parentId` for a new file) that has one, or undefined (none: the owner's root key).
   * @throws as `unwrap` when `ctx.actor` cannot open that share key.
   */
  async keyForWrite(ctx: BlobContext): Promise<KeyHandle | undefined> {
    if (!(await this.active())) return undefined;
    // a new file has no row yet: its parent's ancestors are its own
    const near = (await this.nearestKeyed(ctx.owner, ctx.fileId))
      ?? (ctx.parentId !== undefined ? await this.nearestKeyed(ctx.owner, ctx.parentId) : undefined);
    return near && { id: Buffer.from(near.id, 'hex'), key: await this.unwrap(ctx.owner, near.id, ctx.actor) };
  }

  /** The nearest node at or above `fileId` that has a share key, with that key's id; undefined when none. */
  async nearestKeyed(owner: string, fileId: number): Promise<{ nodeId: number; id: string } | undefined> {
    for (const nodeId of await this.#topology.sharedAncestors(owner, fileId)) {
      const id = await this.keyIdOf(owner, nodeId);
      if (id) return { nodeId, id };
    }
    return undefined;
  }

  // ---- creating and granting -----------------------------------------------------------------

  /**
   * The share key of node `fileId`, created when missing: wrapped by the owner's root key when the
   * owner creates it, else under the share key of the nearest shared ancestor the creator can open.
   * @throws UserKeyLockedError when the creator's keys are locked; ForbiddenError when a resharer
   *   can open no enclosing share key.
   */
  async ensureKey(owner: string, fileId: number, actor: Actor): Promise<ShareKeyHandle & { created: boolean }> {
    const existing = await this.keyIdOf(owner, fileId);
    if (existing) return { id: existing, key: await this.unwrap(owner, existing, actor), fileId, created: false };
    const id = randomBytes(KEY_ID_SIZE).toString('hex');
    const key = randomBytes(KEY_SIZE);
    let by: ShareKeyFile['wrappedBy'] | undefined;
    let kek: Buffer | undefined;
    if (actsAsOwner(actor, owner)) {
      const root = await this.#userKeys.rootForWrite(owner);
      by = { type: 'root', id: root.id.toString('hex') };
      kek = root.key;
    } else {
      for (const a of await this.#topology.sharedAncestors(owner, fileId)) {
        const aid = a === fileId ? undefined : await this.keyIdOf(owner, a);
        if (!aid) continue;
        kek = await this.unwrap(owner, aid, actor).catch(() => undefined);
        if (kek) { by = { type: 'share', id: aid }; break; }
      }
      if (!by || !kek) throw new ForbiddenError(`cannot reshare: no key of an enclosing share of ${owner} is open for ${describeActor(actor)}`);
    }
    const f: ShareKeyFile = {
      format: 'coffer-key-v1', kind: 'share-key', owner, id, fileId, created: new Date().toISOString(), wrappedBy: by,
      wrapped: wrapKey(kek, key, shareKeyAad(owner, id, fileId, by)).toString('base64'),
    };
    const store = this.#store();
    await writeJson(store, userScope(owner), shareKeyName(id), f);
    await writeJson(store, userScope(owner), shareNodeName(fileId), { format: 'coffer-key-v1', kind: 'share-node', owner, fileId, keyId: id } satisfies ShareNodePointer);
    return { id, key, fileId, created: true };
  }

  /** Seals K_N to `uid`'s public key (replacing an older seal). False when `uid` has no key pair yet. */
  async sealToUser(owner: string, k: ShareKeyHandle, uid: string): Promise<boolean> {
    const store = this.#store();
    const pub = await readJson<PublicKeyFile>(store, userScope(uid), userPublicName(uid), 'x25519-public');
    if (!pub) return false;
    const cur = await readJson<ShareSealFile>(store, userScope(owner), shareSealName(k.id, uid), 'share-key-seal');
    if (cur?.publicKeyId === pub.id) return true;
    const f: ShareSealFile = {
      format: 'coffer-key-v1', kind: 'share-key-seal', owner, id: k.id, uid, publicKeyId: pub.id,
      sealed: sealTo(Buffer.from(pub.publicKey, 'base64'), k.key, shareSealAad(owner, k.id, uid, pub.id)).toString('base64'),
    };
    await writeJson(store, userScope(owner), shareSealName(k.id, uid), f);
    return true;
  }

  /** Wraps K_N for a public link under HKDF(token). */
  async wrapForLink(owner: string, k: ShareKeyHandle, token: string): Promise<void> {
    const salt = randomBytes(16);
    const f: ShareLinkFile = {
      format: 'coffer-key-v1', kind: 'share-key-link', owner, id: k.id, salt: salt.toString('base64'),
      wrapped: wrapKey(linkKek(token, salt), k.key, shareLinkAad(owner, k.id)).toString('base64'),
    };
    await writeJson(this.#store(), userScope(owner), shareLinkName(k.id, token), f);
  }

  /** Wraps `child` under `ancestor` (recipients of the enclosing node reach the nested one). */
  async wrapUnder(owner: string, child: ShareKeyHandle, ancestor: ShareKeyHandle): Promise<void> {
    const name = shareUnderName(child.id, ancestor.id);
    if (await this.#store().tryRead(userScope(owner), name)) return;
    const f: ShareUnderFile = {
      format: 'coffer-key-v1', kind: 'share-key-under', owner, id: child.id, ancestorId: ancestor.id,
      wrapped: wrapKey(ancestor.key, child.key, shareUnderAad(owner, child.id, ancestor.id)).toString('base64'),
    };
    await writeJson(this.#store(), userScope(owner), name, f);
  }

  /** Uids K_N is sealed to. */
  async sealedUsers(owner: string, id: string): Promise<string[]> {
    const store = this.#store();
    const out: string[] = [];
    for (const n of await store.list(userScope(owner))) {
      const m = SHARE_SEAL_FILE.exec(n);
      if (!m || m[1] !== id) continue;
      const f = await readJson<ShareSealFile>(store, userScope(owner), n, 'share-key-seal').catch(() => undefined);
      if (f) out.push(f.uid);
    }
    return out;
  }

  // ---- revoking ------------------------------------------------------------------------------

  #forgetCached(uid: string): void {
    const u = this.#userKeys.session.get(uid);
    if (!u) return;
    for (const k of u.shareKeys.values()) k.fill(0);
    u.shareKeys.clear();
  }

  /** Deletes `uid`'s seal of K_N (and the share keys cached in their session). */
  async revokeUser(owner: string, id: string, uid: string): Promise<void> {
    await this.#store().delete(userScope(owner), shareSealName(id, uid));
    this.#forgetCached(uid);
  }

  /** Deletes the link wrap of `token`. */
  async revokeLink(owner: string, id: string, token: string): Promise<void> {
    await this.#store().delete(userScope(owner), shareLinkName(id, token));
  }

  /**
   * N is not shared any more: deletes every seal and link wrap of K_N, its keyring, and the wraps
   * of nested share keys under it. K_N itself stays (blobs written under it must stay readable by
   * the owner), and so do its own under-wraps (recipients of enclosing shares keep reading them).
   */
  async dropSharing(owner: string, id: string): Promise<void> {
    const store = this.#store();
    const scope = userScope(owner);
    for (const uid of await this.sealedUsers(owner, id)) this.#forgetCached(uid);
    for (const n of await store.list(scope)) {
      const s = SHARE_SEAL_FILE.exec(n) ?? SHARE_LINK_FILE.exec(n);
      const u = SHARE_UNDER_FILE.exec(n);
      if ((s && s[1] === id) || (u && u[2] === id)) await store.delete(scope, n);
    }
    await this.keyring.drop(owner, id);
  }

  // ---- keyrings ------------------------------------------------------------------------------

  /**
   * Adds to K_N's keyring the data key of every encrypted file at or below its node (or of `files`,
   * which are below it) whose header names another key (headers read with `concurrency` in flight;
   * one AES wrap per file, one write). Files the creator cannot open are skipped and counted.
   */
  async fillKeyring(owner: string, k: ShareKeyHandle, actor: Actor, opts: { concurrency?: number; files?: readonly { fileId: number; blobId: string }[] } = {}): Promise<{ added: number; skipped: number }> {
    const files = opts.files ?? await this.#topology.encryptedFilesBelow(owner, k.fileId);
    const known = await this.keyring.entries(owner, k.id);
    const todo = files.filter((f) => !known.has(`${f.fileId}:${blobIdBytes(f.blobId).toString('hex')}`));
    const memo = new Map<string, Promise<Buffer>>();
    const entries: { fileId: number; blobId: Buffer; dek: Buffer }[] = [];
    let skipped = 0;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < todo.length) {
        const f = todo[next++]!;
        try {
          const ctx: BlobContext = { fileId: f.fileId, owner, actor };
          const head = await this.#readHeader(f.blobId, ctx);
          if (parseHeader(head).keyId.toString('hex') === k.id) continue;
          const { header, dek } = await this.dataKey(head, ctx, { fileId: f.fileId, blobId: blobIdBytes(f.blobId) }, memo);
          entries.push({ fileId: header.fileId, blobId: header.blobId, dek });
        } catch { skipped++; }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 16) }, lane));
    await this.keyring.add(owner, k.id, k.key, entries);
    for (const e of entries) e.dek.fill(0);
    return { added: entries.length, skipped };
  }
}
