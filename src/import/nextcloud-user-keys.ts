import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { App } from '../app.ts';
import { generateX25519, publicFromPrivate } from '../crypto/x25519-seal.ts';
import { userScope } from '../keys/key-store.ts';
import {
  publicKeyFile, readJson, unwrapPrivate, userPublicName, wrapPrivateWithToken, writeJson, type PrivateKeyFile,
} from '../encryption/user-keys/user-key-files.ts';
import type { NcConfig } from './nextcloud-config.ts';
import { ncPrivateKeySalt, openNcKeyFile } from './nextcloud-crypto.ts';
import { NC_PENDING_KEY, pendingKeyFile, type NcPendingKeyFile } from './nextcloud-pending-keys.ts';
import type { NextcloudSource } from './nextcloud-source.ts';

const MODULE = 'OC_DEFAULT_MODULE';
/**
 * The importer's own wrapping of a new private key while the import runs (so that a rerun after a
 * crash can go on writing that user's files): HKDF of a key derived from Coffer's config secret.
 * Deleted when the import completes; from then on only the user's password opens the key.
 */
const IMPORT_WRAP = 'nextcloudImport.privateKey';

/** What the per-user-key import did for one user. */
export interface NcUserKeyOutcome {
  readonly uid: string;
  /** Coffer key pair created (pending until the first password login). */
  readonly keys: boolean;
  /** Opted into recovery in Nextcloud, carried over (R_u sealed to Coffer's recovery key). */
  readonly recovery: boolean;
}

/**
 * Import into Coffer's per-user-key mode: creates Coffer's recovery key from Nextcloud's recovery
 * password, and a Coffer key pair for every user who has a Nextcloud key pair, sealed for the first
 * login (nextcloud-pending-keys.ts). While the import runs each such user is unlocked in this
 * process, so their files are written under their own root key R_u (sealed to their public key and,
 * when they opted into recovery, to the recovery key), as if they had written them themselves.
 */
export class NcUserKeyImport {
  readonly #app: App;
  readonly #cfg: NcConfig;
  readonly #src: NextcloudSource;
  readonly #recoveryPassword: string | undefined;

  constructor(app: App, cfg: NcConfig, src: NextcloudSource, recoveryPassword: string | undefined) {
    this.#app = app;
    this.#cfg = cfg;
    this.#src = src;
    this.#recoveryPassword = recoveryPassword;
  }

  #importToken(uid: string): string {
    return createHmac('sha256', this.#app.config.secret).update(`coffer nextcloud import key\0${this.#cfg.instanceId}\0${uid}`).digest('hex');
  }

  /**
   * Before the first file: the recovery key, then each user's key pair (created, or on a rerun
   * opened with the import wrapping), unlocked in this process.
   * @throws CryptoError / ForbiddenError when an existing recovery key does not open with the
   *   recovery password; key storage errors
   */
  async prepare(uids: readonly string[]): Promise<NcUserKeyOutcome[]> {
    const uk = this.#app.userKeys;
    const store = this.#app.ncPendingKeys.keyStore();
    if (this.#recoveryPassword !== undefined && (await this.#src.appConfig('encryption', 'recoveryAdminEnabled')) === '1') {
      // Nextcloud's admin recovery becomes Coffer's, under the same password.
      if (!(await uk.recovery.current())) await uk.recovery.enable(this.#recoveryPassword);
      else await uk.recovery.unlock(this.#recoveryPassword);
    }
    const out: NcUserKeyOutcome[] = [];
    const tokens = await this.#src.appTokens();
    for (const uid of uids) {
      const dir = join(this.#cfg.dataDirectory, uid, 'files_encryption', MODULE);
      const ncPub = await readFile(join(dir, `${uid}.publicKey`)).catch(() => undefined);
      const ncPriv = await readFile(join(dir, `${uid}.privateKey`)).catch(() => undefined);
      if (!ncPub || !ncPriv) { out.push({ uid, keys: false, recovery: false }); continue; } // never logged in there: no encrypted file
      const scope = userScope(uid);
      let priv: Buffer;
      const wrap = await readJson<PrivateKeyFile>(store, scope, IMPORT_WRAP, 'x25519-private');
      if (wrap) {
        priv = await unwrapPrivate(wrap, this.#importToken(uid));
      } else {
        if (await uk.hasKeys(uid) || await store.has(scope, NC_PENDING_KEY)) { out.push({ uid, keys: false, recovery: false }); continue; }
        priv = generateX25519().privateKey;
        await writeJson(store, scope, IMPORT_WRAP, wrapPrivateWithToken(uid, priv, this.#importToken(uid)));
      }
      const pending: NcPendingKeyFile = pendingKeyFile(uid, priv, openNcKeyFile(ncPub, this.#cfg.secret).toString('utf8'),
        openNcKeyFile(ncPriv, this.#cfg.secret), ncPrivateKeySalt(uid, this.#cfg.instanceId, this.#cfg.secret),
        tokens.filter((t) => t.uid === uid && t.privateKey && t.encryptedPassword).map((t) => ({ privateKey: t.privateKey!, password: t.encryptedPassword! })));
      if (!(await store.has(scope, NC_PENDING_KEY))) await writeJson(store, scope, NC_PENDING_KEY, pending);
      const pub = publicKeyFile(uid, publicFromPrivate(priv));
      if (!(await store.has(scope, userPublicName(uid)))) await writeJson(store, scope, userPublicName(uid), pub);
      uk.session.unlock(uid, pub.id, priv);
      const optedIn = (await this.#src.userPreference(uid, 'encryption', 'recoveryEnabled')) === '1';
      const recovery = optedIn && (await uk.recovery.current()) !== undefined;
      if (recovery) await uk.setRecoveryFor(uid, true);
      out.push({ uid, keys: true, recovery });
    }
    return out;
  }

  /** When the import completes: drops the import wrappings and forgets the unlocked keys. */
  async finish(uids: readonly string[]): Promise<void> {
    const store = this.#app.ncPendingKeys.keyStore();
    for (const uid of uids) {
      await store.delete(userScope(uid), IMPORT_WRAP);
      this.#app.userKeys.session.lock(uid);
    }
  }
}
