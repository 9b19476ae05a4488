import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.ts';
import { generateX25519 } from '../../crypto/x25519-seal.ts';
import { SYSTEM, type KeyStore } from '../../keys/key-store.ts';
import {
  publicKeyFile, readJson, unwrapPrivate, wrapPrivateWithPassword, writeJson,
  type KdfParams, type PrivateKeyFile, type PublicKeyFile,
} from './user-key-files.ts';

const RECOVERY_PUB = /^recovery_([0-9a-f]{32})\.publicKey$/;
export const recoveryPublicName = (id: string): string => `recovery_${id}.publicKey`;
export const recoveryPrivateName = (id: string): string => `recovery_${id}.privateKey`;

/** The recovery key's public half. */
export interface RecoveryPublic {
  readonly id: string;
  readonly publicKey: Buffer;
}

/**
 * The instance recovery key (per-user-key mode): an X25519 key pair in the system key folder,
 * `recovery_<id>.publicKey` and `recovery_<id>.privateKey` (private half wrapped under
 * argon2id(recovery password)). At most one exists.
 */
export class RecoveryKey {
  readonly #store: () => KeyStore;
  readonly #kdf: KdfParams;

  constructor(o: { store: () => KeyStore; kdf: KdfParams }) {
    this.#store = o.store;
    this.#kdf = o.kdf;
  }

  /** The current recovery public key, or undefined when none is enabled. @throws CryptoError when damaged. */
  async current(): Promise<RecoveryPublic | undefined> {
    const names = (await this.#store().list(SYSTEM)).filter((n) => RECOVERY_PUB.test(n));
    if (names.length === 0) return undefined;
    const f = await readJson<PublicKeyFile>(this.#store(), SYSTEM, names[0]!, 'x25519-public');
    return f ? { id: f.id, publicKey: Buffer.from(f.publicKey, 'base64') } : undefined;
  }

  /**
   * Creates the recovery key pair. @throws ConflictError when one exists; ValidationError for an empty password.
   */
  async enable(password: string): Promise<RecoveryPublic> {
    if (!password) throw new ValidationError('the recovery key password must not be empty');
    if (await this.current()) throw new ConflictError('the recovery key is already enabled');
    const kp = generateX25519();
    const pub = publicKeyFile('recovery', kp.publicKey);
    const priv = await wrapPrivateWithPassword('recovery', kp.privateKey, password, this.#kdf);
    await writeJson(this.#store(), SYSTEM, recoveryPrivateName(pub.id), priv);
    await writeJson(this.#store(), SYSTEM, recoveryPublicName(pub.id), pub);
    return { id: pub.id, publicKey: kp.publicKey };
  }

  /**
   * The recovery private key. @throws NotFoundError when not enabled; CryptoError "wrong recovery key
   * password" when it does not unwrap.
   */
  async unlock(password: string): Promise<{ id: string; privateKey: Buffer }> {
    const cur = await this.current();
    if (!cur) throw new NotFoundError('the recovery key is not enabled (./occ encryption:enable-recovery-key)');
    const f = await readJson<PrivateKeyFile>(this.#store(), SYSTEM, recoveryPrivateName(cur.id), 'x25519-private');
    if (!f) throw new NotFoundError(`the recovery private key ${recoveryPrivateName(cur.id)} is missing from the key storage`);
    try {
      return { id: cur.id, privateKey: await unwrapPrivate(f, password) };
    } catch (err) {
      throw new ForbiddenError(`wrong recovery key password (or the recovery key file was altered): ${(err as Error).message}`);
    }
  }

  /** Re-wraps the recovery private key under a new password. @throws as unlock. */
  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    if (!newPassword) throw new ValidationError('the recovery key password must not be empty');
    const { id, privateKey } = await this.unlock(oldPassword);
    await writeJson(this.#store(), SYSTEM, recoveryPrivateName(id), await wrapPrivateWithPassword('recovery', privateKey, newPassword, this.#kdf));
  }

  /** Deletes the recovery key pair (after checking the password). @throws as unlock. */
  async disable(password: string): Promise<string> {
    const { id } = await this.unlock(password);
    await this.#store().delete(SYSTEM, recoveryPublicName(id));
    await this.#store().delete(SYSTEM, recoveryPrivateName(id));
    return id;
  }
}
