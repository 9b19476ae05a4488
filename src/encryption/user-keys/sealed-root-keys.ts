import { randomBytes } from 'node:crypto';
import type { AppConfigRepository } from '../../db/app-config.ts';
import { CryptoError, NotFoundError } from '../../errors.ts';
import { KEY_ID_SIZE, KEY_SIZE } from '../../crypto/format.ts';
import { openSealed, sealTo } from '../../crypto/x25519-seal.ts';
import { userScope, type KeyStore } from '../../keys/key-store.ts';
import { ROOT_KEY_FILE, parseKeyFile, rootKeyFileName, type UserRootKeyFile } from '../master-key/key-files.ts';
import type { KeyHandle } from '../master-key/key-manager.ts';
import type { RecoveryKey } from './recovery-key.ts';
import { UserKeyLockedError, UserKeysResetError } from './user-key-errors.ts';
import {
  KEYS_RESET, RECOVERY_SEAL_FILE, USER_ROOT_POINTER, readJson, recoverySealName, userPublicName, writeJson,
  type KeysResetFile, type PublicKeyFile, type RecoverySealFile, type UserRootPointer,
} from './user-key-files.ts';
import type { UserKeySession } from './user-key-session.ts';

/** App config of the recovery opt-ins (Nextcloud's app name of the encryption switch). */
const RECOVERY_APP = 'encryption';

const ROOT_SEAL_AAD = Buffer.from('coffer user root key sealed\0', 'latin1');
const RECOVERY_SEAL_AAD = Buffer.from('coffer user root key recovery\0', 'latin1');

export function rootSealAad(uid: string, rootId: string, pubId: string): Buffer {
  return Buffer.concat([ROOT_SEAL_AAD, Buffer.from(uid, 'utf8'), Buffer.from([0]), Buffer.from(rootId, 'hex'), Buffer.from(pubId, 'hex')]);
}
export function recoverySealAad(uid: string, rootId: string, recoveryId: string): Buffer {
  return Buffer.concat([RECOVERY_SEAL_AAD, Buffer.from(uid, 'utf8'), Buffer.from([0]), Buffer.from(rootId, 'hex'), Buffer.from(recoveryId, 'hex')]);
}
/**
 * The root keys R_u of per-user-key mode: each sealed to its user's X25519 public key (opened with
 * the unlocked private key of the session) and, after the user opted in, to the recovery key.
 * Creates a user's first root key on their first encrypted write.
 */
export class SealedRootKeys {
  readonly #store: () => KeyStore;
  readonly #appConfig: AppConfigRepository;
  readonly #session: UserKeySession;
  readonly #recovery: RecoveryKey;

  constructor(o: { store: () => KeyStore; appConfig: AppConfigRepository; session: UserKeySession; recovery: RecoveryKey }) {
    this.#store = o.store;
    this.#appConfig = o.appConfig;
    this.#session = o.session;
    this.#recovery = o.recovery;
  }

  /** `uid`'s root key files. */
  async rootFiles(uid: string): Promise<UserRootKeyFile[]> {
    const store = this.#store();
    const out: UserRootKeyFile[] = [];
    for (const n of await store.list(userScope(uid))) {
      if (ROOT_KEY_FILE.test(n)) out.push(parseKeyFile<UserRootKeyFile>(await store.read(userScope(uid), n), 'user-root', n));
    }
    return out;
  }

  async publicKey(uid: string): Promise<PublicKeyFile> {
    const f = await readJson<PublicKeyFile>(this.#store(), userScope(uid), userPublicName(uid), 'x25519-public');
    if (!f) throw new NotFoundError(`user ${uid} has no public key`);
    return f;
  }

  async writeSealedRoot(uid: string, rootId: string, key: Buffer, pub: PublicKeyFile): Promise<void> {
    const f: UserRootKeyFile = {
      format: 'coffer-key-v1', kind: 'user-root', uid, id: rootId, created: new Date().toISOString(),
      wrappedBy: { type: 'user-x25519', id: pub.id },
      wrapped: sealTo(Buffer.from(pub.publicKey, 'base64'), key, rootSealAad(uid, rootId, pub.id)).toString('base64'),
    };
    await writeJson(this.#store(), userScope(uid), rootKeyFileName(rootId), f);
  }

  async writeRecoverySeal(uid: string, rootId: string, key: Buffer, rec: { id: string; publicKey: Buffer }): Promise<void> {
    const f: RecoverySealFile = {
      format: 'coffer-key-v1', kind: 'user-root-recovery', uid, id: rootId, recoveryKeyId: rec.id,
      sealed: sealTo(rec.publicKey, key, recoverySealAad(uid, rootId, rec.id)).toString('base64'),
    };
    await writeJson(this.#store(), userScope(uid), recoverySealName(rootId), f);
  }

  async rootForWrite(uid: string): Promise<KeyHandle> {
    const u = this.#session.get(uid);
    if (!u) throw new UserKeyLockedError(uid);
    const cachedId = u.currentRootId;
    const cachedKey = cachedId ? u.roots.get(cachedId) : undefined;
    if (cachedId && cachedKey) return { id: Buffer.from(cachedId, 'hex'), key: Buffer.from(cachedKey) };
    const store = this.#store();
    const ptr = await readJson<UserRootPointer>(store, userScope(uid), USER_ROOT_POINTER, 'user-root-pointer');
    if (ptr) {
      const f = parseKeyFile<UserRootKeyFile>(await store.read(userScope(uid), rootKeyFileName(ptr.current)), 'user-root', rootKeyFileName(ptr.current));
      const key = await this.unsealRoot(f);
      u.currentRootId = ptr.current;
      return { id: Buffer.from(ptr.current, 'hex'), key };
    }
    const id = randomBytes(KEY_ID_SIZE).toString('hex');
    const key = randomBytes(KEY_SIZE);
    await this.writeSealedRoot(uid, id, key, await this.publicKey(uid));
    if (await this.isRecoveryEnabledFor(uid)) {
      const rec = await this.#recovery.current();
      if (rec) await this.writeRecoverySeal(uid, id, key, rec);
    }
    await writeJson(store, userScope(uid), USER_ROOT_POINTER, { format: 'coffer-key-v1', kind: 'user-root-pointer', current: id } satisfies UserRootPointer);
    u.roots.set(id, key);
    u.currentRootId = id;
    return { id: Buffer.from(id, 'hex'), key: Buffer.from(key) };
  }

  async unsealRoot(f: UserRootKeyFile): Promise<Buffer> {
    const u = this.#session.get(f.uid);
    if (!u || u.publicKeyId !== f.wrappedBy.id) {
      const reset = await readJson<KeysResetFile>(this.#store(), userScope(f.uid), KEYS_RESET, 'keys-reset');
      const r = reset?.resets.find((x) => x.publicKeyId === f.wrappedBy.id);
      if (r) throw new UserKeysResetError(f.uid, r.at);
      if (!u) throw new UserKeyLockedError(f.uid);
      throw new CryptoError('key-missing', `root key ${f.id} of user ${f.uid} is sealed to a public key (${f.wrappedBy.id}) the user does not have`);
    }
    const cached = u.roots.get(f.id);
    if (cached) return Buffer.from(cached);
    const key = openSealed(u.privateKey, Buffer.from(f.wrapped, 'base64'), rootSealAad(f.uid, f.id, f.wrappedBy.id), `root key ${f.id} of user ${f.uid}`);
    u.roots.set(f.id, key);
    return Buffer.from(key);
  }

  /** True when `uid` opted into recovery (app config `encryption` / `recovery_optin:<uid>` = 1). */
  async isRecoveryEnabledFor(uid: string): Promise<boolean> {
    return (await this.#appConfig.get(RECOVERY_APP, `recovery_optin:${uid}`)) === '1';
  }

  /**
   * The user opts into (or out of) recovery: seals each of their root keys to the recovery key
   * (one seal per root key, usually one: O(1) in the number of files), or deletes those seals.
   * @throws UserKeyLockedError when the user's key is locked (opt-in); NotFoundError without a recovery key.
   */
  async setRecoveryFor(uid: string, enabled: boolean): Promise<{ sealed: number }> {
    const store = this.#store();
    if (!enabled) {
      for (const n of await store.list(userScope(uid))) if (RECOVERY_SEAL_FILE.test(n)) await store.delete(userScope(uid), n);
      await this.#appConfig.set(RECOVERY_APP, `recovery_optin:${uid}`, '0');
      return { sealed: 0 };
    }
    const rec = await this.#recovery.current();
    if (!rec) throw new NotFoundError('the recovery key is not enabled (an administrator runs ./occ encryption:enable-recovery-key)');
    const u = this.#session.get(uid);
    if (!u) throw new UserKeyLockedError(uid);
    let sealed = 0;
    for (const f of await this.rootFiles(uid)) {
      if (f.wrappedBy.type !== 'user-x25519' || f.wrappedBy.id !== u.publicKeyId) continue;
      await this.writeRecoverySeal(uid, f.id, await this.unsealRoot(f), rec);
      sealed++;
    }
    await this.#appConfig.set(RECOVERY_APP, `recovery_optin:${uid}`, '1');
    return { sealed };
  }

  /** Deletes the recovery key and every user's recovery seals. @throws CryptoError for a wrong password. */
  async disableRecoveryKey(password: string): Promise<void> {
    await this.#recovery.disable(password);
    const store = this.#store();
    for (const uid of await store.users()) {
      for (const n of await store.list(userScope(uid))) if (RECOVERY_SEAL_FILE.test(n)) await store.delete(userScope(uid), n);
    }
  }
}
