import { randomBytes } from 'node:crypto';
import { CryptoError, NotFoundError } from '../../errors.ts';
import { unwrapKey, wrapKey } from '../../crypto/key-wrap.ts';
import { KEY_ID_SIZE, KEY_SIZE } from '../../crypto/format.ts';
import { KeyStore, SYSTEM, userScope } from '../../keys/key-store.ts';
import { CurrentKeyStore } from '../../keys/current-key-store.ts';
import {
  MASTER_POINTER, ROOT_KEY_FILE, parseKeyFile, rootKeyFileName, type MasterPointerFile, type UserRootKeyFile,
} from './key-files.ts';
import type { UserRootKeys } from '../user-keys/user-keys.ts';
import { MASTER_WRAPPING_FILE, deleteMasterWrappings, unwrapMasterWith, writeMasterWith, type KeyHolder } from '../key-holders/key-holder.ts';
import { SecretKeyHolder } from '../key-holders/secret-key-holder.ts';

/** An unwrapped key and its id. */
export interface KeyHandle {
  readonly id: Buffer;
  readonly key: Buffer;
}

export interface KeyManagerOptions {
  /** The key store, or the process's current one (shared with the other key holders; see CurrentKeyStore). */
  keyStore: KeyStore | CurrentKeyStore;
  /** The config `secret`. */
  secret: string;
  /** The config `instanceid` (HKDF salt of the secret-derived key). */
  instanceId: string;
  /** What wraps the master key (default: the secret holder built from `secret` + `instanceId`). */
  holder?: KeyHolder;
  /** Unseals per-user-key mode root keys (R_u sealed to the user's X25519 key; see user-keys.ts). */
  userRoots?: UserRootKeys;
}

/** Progress of a master key rotation. */
export interface RotationProgress {
  readonly users: number;
  readonly rewrapped: number;
  readonly newMasterKeyId: string;
}

const MASTER_AAD = Buffer.from('coffer master key', 'latin1');
const ROOT_AAD = Buffer.from('coffer user root key', 'latin1');

function rootKeyAad(uid: string, rootId: Buffer, masterId: Buffer): Buffer {
  return Buffer.concat([ROOT_AAD, Buffer.from(uid, 'utf8'), Buffer.from([0]), rootId, masterId]);
}

/**
 * Master-key mode key hierarchy:
 * secret → (HKDF) → KEK_secret → wraps master key MK → wraps each user's root key R_u → wraps each
 * blob's DEK (in the blob header). Rotating MK re-wraps only the R_u files. The R_u file records
 * what wraps it (`wrappedBy`), which leaves room for per-user mode (R_u sealed to an X25519 key).
 */
export class KeyManager {
  readonly #stores: CurrentKeyStore;
  readonly #holder: KeyHolder;
  readonly #masters = new Map<string, Buffer>();
  readonly #roots = new Map<string, Buffer>();
  readonly #currentRoot = new Map<string, KeyHandle>();
  readonly #creating = new Map<string, Promise<KeyHandle>>();
  readonly #userRoots: UserRootKeys | undefined;

  constructor(o: KeyManagerOptions) {
    this.#stores = o.keyStore instanceof CurrentKeyStore ? o.keyStore : new CurrentKeyStore(o.keyStore);
    this.#userRoots = o.userRoots;
    this.#holder = o.holder ?? new SecretKeyHolder(o.secret, o.instanceId);
  }

  get keyStore(): KeyStore { return this.#stores.store; }

  /** What wraps the master key (master key custody). */
  get holder(): KeyHolder { return this.#holder; }

  /** Switches to another key storage root (after change-key-storage-root); drops cached lookups. */
  setKeyStore(store: KeyStore): void {
    this.#stores.set(store);
    this.#currentRoot.clear();
  }

  async #pointer(): Promise<MasterPointerFile | undefined> {
    const buf = await this.#stores.store.tryRead(SYSTEM, MASTER_POINTER);
    return buf ? parseKeyFile<MasterPointerFile>(buf, 'master-pointer', MASTER_POINTER) : undefined;
  }

  /** Whether a master key exists in the key storage. */
  async hasMasterKey(): Promise<boolean> {
    return (await this.#pointer()) !== undefined;
  }

  /** Id (hex) of the current master key, or undefined. */
  async masterKeyId(): Promise<string | undefined> {
    return (await this.#pointer())?.current;
  }

  /**
   * Unwraps master key `idHex`.
   * @throws CryptoError "the config secret does not match the key storage …" when it cannot be unwrapped;
   *   NotFoundError when the file is missing.
   */
  async #master(idHex: string): Promise<Buffer> {
    const cached = this.#masters.get(idHex);
    if (cached) return cached;
    // The holder's wrapping file (secret: master_<id>.masterKey); errors name the cause (key-holder.ts).
    const key = await unwrapMasterWith(this.#stores.store, this.#holder, idHex, Buffer.concat([MASTER_AAD, Buffer.from(idHex, 'hex')]));
    this.#masters.set(idHex, key);
    return key;
  }

  /**
   * Checks that the configured key holder opens the current master key (call at start-up), and
   * unwraps the keys of an unfinished rotation too, so that a PKCS#11 token is used only here and
   * never during per-file work. A missing master key is fine (encryption never enabled); a retiring
   * key already deleted is skipped. @throws CryptoError naming the cause.
   */
  async verifySecret(): Promise<void> {
    const p = await this.#pointer();
    if (!p) return;
    await this.#master(p.current);
    for (const old of p.retiring) await this.#master(old).catch((err) => { if (!(err instanceof NotFoundError)) throw err; });
  }

  /** The current master key. @throws NotFoundError when none exists; CryptoError for a wrong secret. */
  async currentMaster(): Promise<KeyHandle> {
    const p = await this.#pointer();
    if (!p) throw new NotFoundError('no master key: encryption has not been enabled');
    return { id: Buffer.from(p.current, 'hex'), key: await this.#master(p.current) };
  }

  async #writeMaster(): Promise<string> {
    const id = randomBytes(KEY_ID_SIZE);
    const key = randomBytes(KEY_SIZE);
    const idHex = id.toString('hex');
    await writeMasterWith(this.#stores.store, this.#holder, idHex, key, Buffer.concat([MASTER_AAD, id]));
    this.#masters.set(idHex, key);
    return idHex;
  }

  /**
   * Creates the master key if there is none (idempotent); verifies the secret if there is one.
   * @throws CryptoError for a wrong secret (nothing is rewritten).
   */
  async ensureMasterKey(): Promise<string> {
    const p = await this.#pointer();
    if (p) { await this.#master(p.current); return p.current; }
    const idHex = await this.#writeMaster();
    const ptr: MasterPointerFile = { format: 'coffer-key-v1', kind: 'master-pointer', current: idHex, retiring: [] };
    await this.#stores.store.write(SYSTEM, MASTER_POINTER, JSON.stringify(ptr, null, 1));
    return idHex;
  }

  async #readRootFile(uid: string, name: string): Promise<UserRootKeyFile> {
    const f = parseKeyFile<UserRootKeyFile>(await this.#stores.store.read(userScope(uid), name), 'user-root', name);
    if (f.uid !== uid) throw new CryptoError('wrong-binding', `key file ${name} of user ${uid} names another user (${f.uid}): key storage was altered`);
    return f;
  }

  async #unwrapRoot(f: UserRootKeyFile): Promise<Buffer> {
    const cached = this.#roots.get(f.id);
    if (cached) return cached;
    if (f.wrappedBy.type === 'user-x25519' && this.#userRoots) return this.#userRoots.unsealRoot(f);
    if (f.wrappedBy.type !== 'master') throw new CryptoError('unsupported', `root key ${f.id} of user ${f.uid} is wrapped by an unsupported key type`);
    const mk = await this.#master(f.wrappedBy.id);
    const key = unwrapKey(mk, Buffer.from(f.wrapped, 'base64'), rootKeyAad(f.uid, Buffer.from(f.id, 'hex'), Buffer.from(f.wrappedBy.id, 'hex')), `root key ${f.id} of user ${f.uid}`);
    this.#roots.set(f.id, key);
    return key;
  }

  async #rootFileNames(uid: string): Promise<string[]> {
    return (await this.#stores.store.list(userScope(uid))).filter((n) => ROOT_KEY_FILE.test(n));
  }

  /**
   * Master-key mode: the key that wraps new data keys of `uid`'s files, the user's root key (wrapped
   * by the master key), created on first use. Per-user-key mode asks UserKeys.rootForWrite instead.
   * @throws NotFoundError when there is no master key; CryptoError for a wrong secret or damaged keys.
   */
  async userKeyForWrite(uid: string): Promise<KeyHandle> {
    const cached = this.#currentRoot.get(uid);
    // Another process (./occ user:delete, a second server) may have deleted the user and their
    // keys since: a new account with that name must not write under the old, deleted root key.
    if (cached && await this.#stores.store.has(userScope(uid), rootKeyFileName(cached.id.toString('hex')))) return cached;
    if (cached) this.#currentRoot.delete(uid);
    let p = this.#creating.get(uid);
    if (!p) {
      p = this.#loadOrCreateRoot(uid).finally(() => this.#creating.delete(uid));
      this.#creating.set(uid, p);
    }
    return p;
  }

  async #loadOrCreateRoot(uid: string): Promise<KeyHandle> {
    const names = await this.#rootFileNames(uid);
    if (names.length > 0) {
      const f = await this.#readRootFile(uid, names[0]!);
      const h = { id: Buffer.from(f.id, 'hex'), key: await this.#unwrapRoot(f) };
      this.#currentRoot.set(uid, h);
      return h;
    }
    const master = await this.currentMaster();
    const id = randomBytes(KEY_ID_SIZE);
    const key = randomBytes(KEY_SIZE);
    await this.#writeRoot(uid, id, key, master);
    // A rotation may have switched the master key meanwhile: re-wrap under the newest one.
    const now = await this.currentMaster();
    if (!now.id.equals(master.id)) await this.#writeRoot(uid, id, key, now);
    this.#roots.set(id.toString('hex'), key);
    const h = { id, key };
    this.#currentRoot.set(uid, h);
    return h;
  }

  async #writeRoot(uid: string, id: Buffer, key: Buffer, master: KeyHandle): Promise<void> {
    const f: UserRootKeyFile = {
      format: 'coffer-key-v1', kind: 'user-root', uid, id: id.toString('hex'), created: new Date().toISOString(),
      wrappedBy: { type: 'master', id: master.id.toString('hex') },
      wrapped: wrapKey(master.key, key, rootKeyAad(uid, id, master.id)).toString('base64'),
    };
    await this.#stores.store.write(userScope(uid), rootKeyFileName(f.id), JSON.stringify(f, null, 1));
  }

  /**
   * Finds the key with id `keyId` (a user root key). Looks in `uidHint`'s folder first, then in every
   * user's folder (files whose owner changed; offline recovery).
   * @throws CryptoError when no key with that id exists in the key storage, or it cannot be unwrapped.
   */
  async resolveKey(keyId: Buffer, uidHint?: string): Promise<Buffer> {
    const idHex = keyId.toString('hex');
    const cached = this.#roots.get(idHex);
    if (cached) return cached;
    const name = rootKeyFileName(idHex);
    const inFolderOf = async (uid: string) => (await this.#stores.store.tryRead(userScope(uid), name).catch(() => undefined)) !== undefined;
    // the hint first, alone: listing every user's folder costs a stat per user, on every first read of a key
    if (uidHint && await inFolderOf(uidHint)) return this.#unwrapRoot(await this.#readRootFile(uidHint, name));
    for (const uid of await this.#stores.store.users()) {
      if (uid === uidHint || !(await inFolderOf(uid))) continue;
      return this.#unwrapRoot(await this.#readRootFile(uid, name));
    }
    throw new CryptoError('key-missing', `the key ${idHex} that protects this blob is not in the key storage (${this.#stores.store.root}); restore the keys from a backup`);
  }

  /**
   * Rotates the master key: writes a new one, makes it current, re-wraps every user root key under
   * it, then deletes the old one. Content is never touched. Resumable: run again after a crash and it
   * finishes the pending rotation (a second call with nothing pending starts a new rotation).
   * @throws NotFoundError without a master key; CryptoError for a wrong secret (nothing rewritten).
   */
  async rotateMasterKey(onProgress?: (p: RotationProgress) => void): Promise<RotationProgress> {
    let ptr = await this.#pointer();
    if (!ptr) throw new NotFoundError('no master key: encryption has not been enabled');
    await this.#master(ptr.current);
    for (const old of ptr.retiring) await this.#master(old).catch((err) => { if (!(err instanceof NotFoundError)) throw err; });
    if (ptr.retiring.length === 0) {
      const fresh = await this.#writeMaster();
      ptr = { format: 'coffer-key-v1', kind: 'master-pointer', current: fresh, retiring: [ptr.current] };
      await this.#stores.store.write(SYSTEM, MASTER_POINTER, JSON.stringify(ptr, null, 1));
    }
    const current = { id: Buffer.from(ptr.current, 'hex'), key: await this.#master(ptr.current) };
    const users = await this.#stores.store.users();
    let rewrapped = 0;
    for (const uid of users) {
      for (const name of await this.#rootFileNames(uid)) {
        const f = await this.#readRootFile(uid, name);
        if (f.wrappedBy.type !== 'master' || f.wrappedBy.id === ptr.current) continue;
        const key = await this.#unwrapRoot(f);
        await this.#writeRoot(uid, Buffer.from(f.id, 'hex'), key, current);
        rewrapped++;
      }
      onProgress?.({ users: users.length, rewrapped, newMasterKeyId: ptr.current });
    }
    for (const old of ptr.retiring) {
      await deleteMasterWrappings(this.#stores.store, old);
      this.#masters.delete(old);
    }
    // Masters no pointer refers to (left by a crash before the pointer was written) are removed too.
    for (const n of await this.#stores.store.list(SYSTEM)) {
      const m = MASTER_WRAPPING_FILE.exec(n);
      if (m && m[1] !== ptr.current) await this.#stores.store.delete(SYSTEM, n);
    }
    await this.#stores.store.write(SYSTEM, MASTER_POINTER, JSON.stringify({ ...ptr, retiring: [] }, null, 1));
    return { users: users.length, rewrapped, newMasterKeyId: ptr.current };
  }

  /**
   * Deletes a user's key folder (root keys, key pair, share keys, wrappings) and forgets what is
   * cached for them, so that a new account with the same name gets fresh keys (user deletion).
   * @throws ValidationError for a bad uid; file system errors
   */
  async deleteUserKeys(uid: string): Promise<void> {
    const cached = this.#currentRoot.get(uid);
    if (cached) this.#roots.delete(cached.id.toString('hex'));
    this.#currentRoot.delete(uid);
    this.#creating.delete(uid);
    await this.#stores.store.removeUser(uid);
  }

  /** Forgets cached keys (after restore-keys). */
  clearCache(): void {
    this.#masters.clear();
    this.#roots.clear();
    this.#currentRoot.clear();
  }
}
