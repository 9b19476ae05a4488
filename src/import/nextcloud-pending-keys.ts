import { constants, privateDecrypt, publicEncrypt } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { openSealed, publicFromPrivate, sealTo } from '../crypto/x25519-seal.ts';
import { userScope, type KeyStore } from '../keys/key-store.ts';
import {
  publicKeyId, readJson, userPrivateName, userPublicName, wrapPrivateWithPassword, writeJson,
  type KdfParams, type PublicKeyFile,
} from '../encryption/user-keys/user-key-files.ts';
import { decryptNcPrivateKeyWithSalt, ncICryptoDecrypt } from './nextcloud-crypto.ts';

/**
 * Per-user keys imported from Nextcloud (docs/MIGRATING-FROM-NEXTCLOUD.md, "Per-user keys"). The
 * importer does not know login passwords, so it gives each user with a Nextcloud key pair a Coffer
 * X25519 key pair whose private half is sealed (RSA-OAEP-SHA256) to the user's Nextcloud public key,
 * and keeps the Nextcloud private key as Nextcloud had it (protected by the login password):
 * `nextcloudPending.json` in the user's key folder. At the first password login, the password opens
 * the Nextcloud private key, that opens the Coffer private key, which is then wrapped under the
 * password as any Coffer user's (`<uid>.privateKey`). Nothing here is weaker than in Nextcloud:
 * without the login password (or, for opted-in users, the recovery password) nothing opens.
 */
export const NC_PENDING_KEY = 'nextcloudPending.json';
/** The Nextcloud private key (PEM) sealed to the user's Coffer public key, for the file conversion. */
export const NC_SEALED_PRIVATE = 'nextcloudPrivate.sealed';

export interface NcPendingKeyFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'nc-pending-private';
  readonly uid: string;
  /** Id of the Coffer public key the sealed private key belongs to. */
  readonly publicKeyId: string;
  /** RSA-OAEP-SHA256 of the 32-byte X25519 private key to the Nextcloud public key, base64. */
  readonly wrapped: string;
  /** Nextcloud's private key file content (header + password-encrypted block), base64. */
  readonly ncPrivateKey: string;
  /** sha256(uid . instanceid . secret) of Nextcloud, hex: the PBKDF2 salt of that key. */
  readonly ncSalt: string;
  /**
   * The user's Nextcloud app passwords that stored the login password (oc_authtoken `password`,
   * RSA-OAEP to the token's key; `private_key`, ICrypto under token . secret): a sync client's
   * first request with one gives the login password, so the keys open without a password login.
   */
  readonly appTokens?: readonly { readonly privateKey: string; readonly password: string }[];
}

export interface NcSealedPrivateFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'nc-sealed-private';
  readonly uid: string;
  readonly publicKeyId: string;
  /** x25519-seal of the PEM to the Coffer public key. */
  readonly sealed: string;
}

const sealedAad = (uid: string, pubId: string): Buffer =>
  Buffer.concat([Buffer.from('coffer nextcloud private key\0', 'latin1'), Buffer.from(uid, 'utf8'), Buffer.from([0]), Buffer.from(pubId, 'hex')]);

/** The pending wrapping the importer writes for `uid`. */
export function pendingKeyFile(uid: string, x25519Private: Buffer, ncPublicPem: string, ncPrivateRaw: Buffer, ncSalt: Buffer,
  appTokens: readonly { privateKey: string; password: string }[] = []): NcPendingKeyFile {
  return {
    ...(appTokens.length > 0 ? { appTokens } : {}),
    format: 'coffer-key-v1', kind: 'nc-pending-private', uid, publicKeyId: publicKeyId(publicFromPrivate(x25519Private)),
    wrapped: publicEncrypt({ key: ncPublicPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, x25519Private).toString('base64'),
    ncPrivateKey: ncPrivateRaw.toString('base64'), ncSalt: ncSalt.toString('hex'),
  };
}

/** Opens the Nextcloud private key (PEM) sealed for `uid` with the unlocked Coffer private key; undefined when there is none. @throws CryptoError */
export async function openSealedNcPrivate(store: KeyStore, uid: string, privateKey: Buffer): Promise<string | undefined> {
  const f = await readJson<NcSealedPrivateFile>(store, userScope(uid), NC_SEALED_PRIVATE, 'nc-sealed-private');
  if (!f) return undefined;
  return openSealed(privateKey, Buffer.from(f.sealed, 'base64'), sealedAad(uid, f.publicKeyId), `Nextcloud private key of ${uid}`).toString('utf8');
}

/**
 * The first-login step: when `uid` still has a pending wrapping, opens it with the login password
 * and stores the Coffer private key under that password (and the Nextcloud private key sealed to the
 * Coffer public key, as long as files await conversion). Runs before UserKeys.onLogin, which then
 * unlocks as for any user.
 */
export class NcPendingKeys {
  readonly #store: () => KeyStore;
  readonly #kdf: KdfParams;
  /** Nextcloud's instance secret as the import stored it (for app tokens), when there was an import. */
  readonly #ncSecret: () => Promise<string | undefined>;

  constructor(o: { store: () => KeyStore; kdf: KdfParams; ncSecret: () => Promise<string | undefined> }) {
    this.#store = o.store;
    this.#kdf = o.kdf;
    this.#ncSecret = o.ncSecret;
  }

  /**
   * The login password of `uid` recovered from a Nextcloud app password `token` that stored it,
   * when `uid`'s keys still wait for their first login; undefined otherwise. Never throws.
   */
  async loginPasswordFromToken(uid: string, token: string): Promise<string | undefined> {
    try {
      const p = await readJson<NcPendingKeyFile>(this.#store(), userScope(uid), NC_PENDING_KEY, 'nc-pending-private');
      if (!p?.appTokens?.length) return undefined;
      const secret = await this.#ncSecret();
      if (secret === undefined) return undefined;
      for (const t of p.appTokens) {
        let pem: string;
        try { pem = ncICryptoDecrypt(t.privateKey, token + secret).toString('utf8'); } catch { continue; } // another token's
        return privateDecrypt({ key: pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(t.password, 'base64')).toString('utf8');
      }
    } catch { /* stays pending: the next password login opens it */ }
    return undefined;
  }

  /** The current key store (the importer writes the pending wrappings there). */
  keyStore(): KeyStore { return this.#store(); }

  /** True when `uid` has a pending wrapping (never logged in since the import). */
  async isPending(uid: string): Promise<boolean> {
    return this.#store().has(userScope(uid), NC_PENDING_KEY);
  }

  /**
   * Completes `uid`'s keys with the login password (verified by the caller). No-op without a
   * pending wrapping.
   * @throws CryptoError when the password does not open the Nextcloud private key (a password
   *   changed in Coffer before the first login cannot happen: changing it needs the key) or the
   *   files do not belong together
   */
  async completeWithPassword(uid: string, password: string): Promise<boolean> {
    const store = this.#store();
    const scope = userScope(uid);
    const p = await readJson<NcPendingKeyFile>(store, scope, NC_PENDING_KEY, 'nc-pending-private');
    if (!p) return false;
    const pub = await readJson<PublicKeyFile>(store, scope, userPublicName(uid), 'x25519-public');
    if (pub && pub.id !== p.publicKeyId && await store.has(scope, userPrivateName(uid))) {
      // an administrator reset the password (new key pair) before the first login: nothing to open
      await store.delete(scope, NC_PENDING_KEY);
      return false;
    }
    if (!pub || pub.id !== p.publicKeyId) throw new CryptoError('wrong-binding', `the imported key pair of ${uid} is incomplete (public key ${pub?.id ?? 'missing'}, pending wrapping for ${p.publicKeyId})`);
    const pem = decryptNcPrivateKeyWithSalt(Buffer.from(p.ncPrivateKey, 'base64'), password, Buffer.from(p.ncSalt, 'hex'));
    const priv = privateDecrypt({ key: pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(p.wrapped, 'base64'));
    if (publicKeyId(publicFromPrivate(priv)) !== p.publicKeyId) throw new CryptoError('wrong-binding', `the pending private key of ${uid} does not match its public key`);
    // Order: the sealed Nextcloud key, then the password wrapping, then the pending file goes. A crash
    // in between leaves either the pending file (done again next time) or both (pending ignored).
    const sealed: NcSealedPrivateFile = {
      format: 'coffer-key-v1', kind: 'nc-sealed-private', uid, publicKeyId: p.publicKeyId,
      sealed: sealTo(Buffer.from(pub.publicKey, 'base64'), Buffer.from(pem, 'utf8'), sealedAad(uid, p.publicKeyId)).toString('base64'),
    };
    await writeJson(store, scope, NC_SEALED_PRIVATE, sealed);
    if (!(await store.has(scope, userPrivateName(uid)))) await writeJson(store, scope, userPrivateName(uid), await wrapPrivateWithPassword(uid, priv, password, this.#kdf));
    await store.delete(scope, NC_PENDING_KEY);
    priv.fill(0);
    return true;
  }

  /** Deletes the sealed Nextcloud private key once nothing of `uid` awaits conversion. */
  async dropSealed(uid: string): Promise<void> {
    await this.#store().delete(userScope(uid), NC_SEALED_PRIVATE);
  }
}
