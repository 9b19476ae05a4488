import type { AppConfigRepository } from '../../db/app-config.ts';
import { ConflictError } from '../../errors.ts';
import { generateX25519, openSealed } from '../../crypto/x25519-seal.ts';
import { userScope, type KeyStore } from '../../keys/key-store.ts';
import type { EncryptionState, EncryptionStateSnapshot } from '../encryption-state.ts';
import { rootKeyFileName, type UserRootKeyFile } from '../master-key/key-files.ts';
import type { KeyHandle } from '../master-key/key-manager.ts';
import type { RecoveryKey } from './recovery-key.ts';
import { UserKeyLockedError } from './user-key-errors.ts';
import {
  APP_PASSWORD_KEY_FILE, DEFAULT_KDF, KEYS_RESET, USER_ROOT_POINTER, appPasswordKeyName, appPasswordKeyNameFromHash, legacyAppPasswordKeyName,
  publicKeyFile, readJson, recoverySealName, unwrapPrivate, userPrivateName, userPublicName,
  wrapPrivateWithPassword, wrapPrivateWithToken, writeJson,
  type KdfParams, type KeysResetFile, type PrivateKeyFile, type PublicKeyFile, type RecoverySealFile, type UserRootPointer,
} from './user-key-files.ts';
import { UserKeySession, type UnlockedUser } from './user-key-session.ts';
import { SealedRootKeys, recoverySealAad } from './sealed-root-keys.ts';

/** What KeyManager asks of per-user-key mode (R_u sealed to the user's X25519 key instead of wrapped by MK). */
export interface UserRootKeys {
  /** Unseals a root key file with `wrappedBy.type` 'user-x25519'. @throws UserKeyLockedError, UserKeysResetError, CryptoError */
  unsealRoot(f: UserRootKeyFile): Promise<Buffer>;
}

/** Config switch (Nextcloud's name): `encryption` / `useMasterKey`, '0' = per-user keys. */
export const MODE_APP = 'encryption';
export const MODE_KEY = 'useMasterKey';

/** What an admin password reset will do to a user's encrypted files. */
export interface ResetImpact {
  /** The user has a key pair (per-user mode, logged in once). */
  readonly hasKeys: boolean;
  /** The user opted into recovery. */
  readonly optedIn: boolean;
  /** An instance recovery key exists. */
  readonly recoveryEnabled: boolean;
}

export type ResetOutcome = 'no-keys' | 'recovered' | 'keys-reset';

export interface UserKeysOptions {
  /** The current key store (follows change-key-storage-root). */
  store: () => KeyStore;
  appConfig: AppConfigRepository;
  state: EncryptionState;
  /**
   * Points the key store at the current key storage root and answers the state (followKeyRoot;
   * `fresh`: from the database). Without it, the store is taken as it is.
   */
  followKeyRoot?: (fresh: boolean) => Promise<EncryptionStateSnapshot>;
  recovery: RecoveryKey;
  kdf?: KdfParams;
  session?: UserKeySession;
}

/**
 * Per-user-key mode. Each user has an X25519 key pair (`<uid>.publicKey`, `<uid>.privateKey`, the
 * private half wrapped under argon2id(login password)); the user's root key R_u is sealed to the
 * public key (and, after opting in, to the recovery key). Blobs and their headers are the same as in
 * master-key mode: only who can unwrap R_u changes, so every password event is O(1).
 */
export class UserKeys implements UserRootKeys {
  readonly #store: () => KeyStore;
  readonly #appConfig: AppConfigRepository;
  readonly #state: EncryptionState;
  readonly #follow: ((fresh: boolean) => Promise<EncryptionStateSnapshot>) | undefined;
  readonly #kdf: KdfParams;
  readonly session: UserKeySession;
  readonly recovery: RecoveryKey;
  /** Root keys sealed to users' public keys and to the recovery key. */
  readonly roots: SealedRootKeys;
  readonly #unlocking = new Map<string, Promise<void>>();

  constructor(o: UserKeysOptions) {
    this.#store = o.store;
    this.#appConfig = o.appConfig;
    this.#state = o.state;
    this.#follow = o.followKeyRoot;
    this.#kdf = o.kdf ?? DEFAULT_KDF;
    this.session = o.session ?? new UserKeySession();
    this.recovery = o.recovery;
    this.roots = new SealedRootKeys({ store: o.store, appConfig: o.appConfig, session: this.session, recovery: o.recovery });
  }

  get kdf(): KdfParams { return this.#kdf; }

  /** The encryption state, with the key store on the current key storage root. */
  #syncedState(fresh = false): Promise<EncryptionStateSnapshot> {
    return this.#follow ? this.#follow(fresh) : this.#state.get();
  }

  async perUserMode(): Promise<boolean> {
    return (await this.#appConfig.cachedGet(MODE_APP, MODE_KEY)) === '0';
  }

  /**
   * Switches between master-key and per-user-key mode (encryption:disable-master-key /
   * enable-master-key). Only while no file is stored encrypted: existing data keys would otherwise
   * stay under the old scheme. Switching back to master-key mode deletes the (then unused) sealed root keys.
   * @throws ConflictError when `encryptedFiles` > 0
   */
  async setPerUserMode(perUser: boolean, encryptedFiles: number): Promise<void> {
    if (encryptedFiles > 0) {
      throw new ConflictError(`${encryptedFiles} files are stored encrypted: the key mode can only be changed while no encrypted file exists (run ./occ encryption:decrypt-all first)`);
    }
    await this.#appConfig.set(MODE_APP, MODE_KEY, perUser ? '0' : '1');
    if (!perUser) {
      const store = this.#store();
      for (const uid of await store.users()) {
        for (const f of await this.roots.rootFiles(uid)) if (f.wrappedBy.type === 'user-x25519') await store.delete(userScope(uid), rootKeyFileName(f.id));
        // Share keys of per-user mode (no encrypted file uses them: none exists).
        for (const n of await store.list(userScope(uid))) if (/^share(Key|Node)_/.test(n)) await store.delete(userScope(uid), n);
        await store.delete(userScope(uid), USER_ROOT_POINTER);
      }
      this.session.lockAll();
    }
  }

  /** True when `uid` has a key pair (or a public key whose private half an import keeps for the first login). */
  async hasKeys(uid: string): Promise<boolean> {
    const store = this.#store();
    return await store.has(userScope(uid), userPrivateName(uid)) || await store.has(userScope(uid), userPublicName(uid));
  }

  /** Id of `uid`'s current public key, from the private key file or (imported, first login pending) the public one. */
  async #currentKeyId(uid: string): Promise<string | undefined> {
    return (await this.#privateFile(uid))?.id
      ?? (await readJson<PublicKeyFile>(this.#store(), userScope(uid), userPublicName(uid), 'x25519-public'))?.id;
  }

  /**
   * Login hook (called by the Authenticator after a successful login): unlocks the user's private key
   * with the login password or an app password, creating the key pair at the first password login
   * in per-user mode. Never throws (a login does not fail because of keys; reads will say why).
   */
  async onLogin(uid: string, via: 'password' | 'app-password', secret: string): Promise<void> {
    try {
      if (!(await this.perUserMode()) || !(await this.#syncedState()).enabled) return;
      const cur = this.session.get(uid);
      if (cur) {
        // Another process (./occ user:resetpassword, recover-user) may have replaced the key pair,
        // or moved the keys (change-key-storage-root: the cached root may be the old, emptied one).
        const readPub = () => readJson<PublicKeyFile>(this.#store(), userScope(uid), userPublicName(uid), 'x25519-public');
        let pub = await readPub();
        if (pub?.id !== cur.publicKeyId && this.#follow) {
          await this.#follow(true);
          pub = await readPub();
        }
        if (pub?.id === cur.publicKeyId) return;
        this.session.lock(uid);
      }
      let p = this.#unlocking.get(uid);
      if (!p) {
        p = (via === 'password' ? this.#unlockWithPassword(uid, secret) : this.#unlockWithToken(uid, secret))
          .finally(() => this.#unlocking.delete(uid));
        this.#unlocking.set(uid, p);
      }
      await p;
    } catch { /* stays locked; reads report UserKeyLockedError */ }
  }

  async #privateFile(uid: string): Promise<PrivateKeyFile | undefined> {
    return readJson<PrivateKeyFile>(this.#store(), userScope(uid), userPrivateName(uid), 'x25519-private');
  }

  async #unlockWithPassword(uid: string, password: string): Promise<void> {
    let f = await this.#privateFile(uid);
    if (!f && this.#follow) {
      // Before making a key pair: the keys may have moved to another root a moment ago, and a new
      // pair would stand in for the user's (every file sealed to it unreadable).
      await this.#follow(true);
      f = await this.#privateFile(uid);
    }
    if (!f) {
      // A public key without its private half: keys made for this user by an import, not yet
      // completed (nextcloud-pending-keys.ts). A new pair would orphan every file sealed to it.
      if (await this.#store().has(userScope(uid), userPublicName(uid))) throw new UserKeyLockedError(uid);
      await this.#createKeyPair(uid, password);
      return;
    }
    this.session.unlock(uid, f.id, await unwrapPrivate(f, password));
  }

  async #unlockWithToken(uid: string, token: string): Promise<void> {
    const store = this.#store();
    let f = await readJson<PrivateKeyFile>(store, userScope(uid), appPasswordKeyName(token), 'x25519-private');
    if (!f) {
      // A wrapping made before its name came from the token's hash: rename it, so revocation finds it.
      f = await readJson<PrivateKeyFile>(store, userScope(uid), legacyAppPasswordKeyName(token), 'x25519-private');
      if (f) {
        await writeJson(store, userScope(uid), appPasswordKeyName(token), f);
        await store.delete(userScope(uid), legacyAppPasswordKeyName(token));
      }
    }
    const cur = await this.#privateFile(uid);
    if (!f || !cur || f.id !== cur.id) return;
    this.session.unlock(uid, f.id, await unwrapPrivate(f, token));
  }

  async #createKeyPair(uid: string, password: string): Promise<UnlockedUser> {
    const kp = generateX25519();
    const pub = publicKeyFile(uid, kp.publicKey);
    const store = this.#store();
    await writeJson(store, userScope(uid), userPrivateName(uid), await wrapPrivateWithPassword(uid, kp.privateKey, password, this.#kdf));
    await writeJson(store, userScope(uid), userPublicName(uid), pub);
    return this.session.unlock(uid, pub.id, kp.privateKey);
  }

  /**
   * Stores an extra wrapping of the private key under the new app password or web session `token`,
   * when the user's key is unlocked now (so sync clients on app passwords, and web sessions on other
   * server processes, can unlock it later). No-op otherwise.
   * @throws the key storage's write error
   */
  async addTokenWrapping(uid: string, token: string): Promise<boolean> {
    const u = this.session.get(uid);
    if (!u) return false;
    await writeJson(this.#store(), userScope(uid), appPasswordKeyName(token), wrapPrivateWithToken(uid, u.privateKey, token));
    return true;
  }

  /**
   * A request with a live web session whose user's key is locked in this process (the login was
   * served by another process, or this one restarted): unlocks it with the session's wrapping
   * (stored by addTokenWrapping when the session started; sessions and app passwords are both
   * tokens kept as SHA-256, so their wrappings share the naming). Costs a map lookup when the key is
   * unlocked already. Never throws: without a wrapping the key stays locked and reads say why.
   */
  async onSessionUsed(uid: string, token: string): Promise<void> {
    if (this.session.get(uid)) return;
    try {
      if (!(await this.perUserMode()) || !(await this.#syncedState()).enabled) return;
      let p = this.#unlocking.get(uid);
      if (!p) {
        p = this.#unlockWithToken(uid, token).finally(() => this.#unlocking.delete(uid));
        this.#unlocking.set(uid, p);
      }
      await p;
    } catch { /* stays locked */ }
  }

  /**
   * Deletes the private-key wrappings of revoked app passwords (or ended web sessions), given the SHA-256 hashes of their
   * tokens (what the database keeps). A missing wrapping is not an error.
   * @throws the key storage's error when a file cannot be deleted
   */
  async deleteTokenWrappings(uid: string, tokenHashes: readonly string[]): Promise<void> {
    const store = this.#store();
    for (const h of tokenHashes) await store.delete(userScope(uid), appPasswordKeyNameFromHash(h));
  }



  /**
   * A user changes their own password: re-wraps the private key under `newPassword` (O(1)); files
   * stay readable. The private key comes from the unlocked session or from `oldPassword`.
   * `setLoginPassword` is called in between (after the key is known to be available).
   * @throws UserKeyLockedError when the key is neither unlocked nor openable with `oldPassword` (nothing changed).
   */
  async changeOwnPassword(uid: string, newPassword: string, oldPassword: string | undefined, setLoginPassword: () => Promise<void>): Promise<void> {
    const f = (await this.perUserMode()) ? await this.#privateFile(uid) : undefined;
    if (!f) { await setLoginPassword(); return; }
    let priv = this.session.get(uid)?.privateKey;
    if (!priv && oldPassword !== undefined) priv = await unwrapPrivate(f, oldPassword).catch(() => undefined);
    if (!priv) throw new UserKeyLockedError(uid, 'the password was not changed: the private key must be re-wrapped under the new password');
    priv = Buffer.from(priv);
    await setLoginPassword();
    await writeJson(this.#store(), userScope(uid), userPrivateName(uid), await wrapPrivateWithPassword(uid, priv, newPassword, this.#kdf));
    if (!this.session.get(uid)) this.session.unlock(uid, f.id, priv);
  }

  /** What an admin reset of `uid`'s password would do to the user's files. */
  async resetImpact(uid: string): Promise<ResetImpact> {
    return { hasKeys: (await this.perUserMode()) && (await this.hasKeys(uid)), optedIn: await this.isRecoveryEnabledFor(uid), recoveryEnabled: (await this.recovery.current()) !== undefined };
  }

  /**
   * An administrator sets `uid`'s password. With `recoveryPassword` (and the user's opt-in) R_u is
   * unsealed with the recovery key and re-sealed to a new key pair under the new password: files stay
   * readable. Without it the user gets a new key pair; files encrypted before become unreadable and
   * reads name the cause (UserKeysResetError). Callers must have warned and asked first.
   * @throws CryptoError for a wrong recovery password; ConflictError when `recoveryPassword` is given
   *   but the user has not opted in (nothing changed in both cases).
   */
  async adminReset(uid: string, newPassword: string, opts: { recoveryPassword?: string; setLoginPassword: () => Promise<void> }): Promise<ResetOutcome> {
    const store = this.#store();
    const scope = userScope(uid);
    const oldId = await this.#currentKeyId(uid);
    if (!oldId) { await opts.setLoginPassword(); return 'no-keys'; }
    if (opts.recoveryPassword !== undefined) {
      if (!(await this.isRecoveryEnabledFor(uid))) throw new ConflictError(`user ${uid} has not opted into recovery: the recovery key cannot restore their files`);
      const rec = await this.recovery.unlock(opts.recoveryPassword);
      const roots = new Map<string, Buffer>();
      for (const f of await this.roots.rootFiles(uid)) {
        if (f.wrappedBy.type !== 'user-x25519') continue;
        const s = await readJson<RecoverySealFile>(store, scope, recoverySealName(f.id), 'user-root-recovery');
        if (!s || s.recoveryKeyId !== rec.id) continue;
        roots.set(f.id, openSealed(rec.privateKey, Buffer.from(s.sealed, 'base64'), recoverySealAad(uid, f.id, rec.id), `recovery copy of root key ${f.id}`));
      }
      await opts.setLoginPassword();
      this.session.lock(uid);
      await this.#deleteAppPasswordKeys(uid);
      const u = await this.#createKeyPair(uid, newPassword);
      const pub = await this.roots.publicKey(uid);
      for (const [id, key] of roots) { await this.roots.writeSealedRoot(uid, id, key, pub); u.roots.set(id, key); }
      const ptr = await readJson<UserRootPointer>(store, scope, USER_ROOT_POINTER, 'user-root-pointer');
      if (ptr && !roots.has(ptr.current)) await store.delete(scope, USER_ROOT_POINTER);
      await this.#markReset(uid, oldId);
      return 'recovered';
    }
    await opts.setLoginPassword();
    this.session.lock(uid);
    await this.#deleteAppPasswordKeys(uid);
    await store.delete(scope, USER_ROOT_POINTER);
    await this.#createKeyPair(uid, newPassword);
    await this.#markReset(uid, oldId);
    return 'keys-reset';
  }

  /** Records the replaced key pair: root keys still sealed to it fail with UserKeysResetError. */
  async #markReset(uid: string, oldPubId: string): Promise<void> {
    const store = this.#store();
    const prev = await readJson<KeysResetFile>(store, userScope(uid), KEYS_RESET, 'keys-reset');
    const f: KeysResetFile = { format: 'coffer-key-v1', kind: 'keys-reset', resets: [...(prev?.resets ?? []), { at: new Date().toISOString(), publicKeyId: oldPubId }] };
    await writeJson(store, userScope(uid), KEYS_RESET, f);
  }

  async #deleteAppPasswordKeys(uid: string): Promise<void> {
    const store = this.#store();
    for (const n of await store.list(userScope(uid))) if (APP_PASSWORD_KEY_FILE.test(n)) await store.delete(userScope(uid), n);
  }

  /** The root key that wraps new data keys of `uid`. @throws UserKeyLockedError */
  rootForWrite(uid: string): Promise<KeyHandle> { return this.roots.rootForWrite(uid); }

  /** @throws UserKeyLockedError, UserKeysResetError, CryptoError (see SealedRootKeys.unsealRoot) */
  unsealRoot(f: UserRootKeyFile): Promise<Buffer> { return this.roots.unsealRoot(f); }

  /** True when `uid` opted into recovery. */
  isRecoveryEnabledFor(uid: string): Promise<boolean> { return this.roots.isRecoveryEnabledFor(uid); }

  /** @throws as SealedRootKeys.setRecoveryFor */
  setRecoveryFor(uid: string, enabled: boolean): Promise<{ sealed: number }> { return this.roots.setRecoveryFor(uid, enabled); }

  /** @throws as SealedRootKeys.disableRecoveryKey */
  disableRecoveryKey(password: string): Promise<void> { return this.roots.disableRecoveryKey(password); }
}
