import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptoError, NotFoundError } from '../errors.ts';
import type { NcConfig } from './nextcloud-config.ts';
import { decryptNcPrivateKey, ncRsaKey, openNcKeyFile, openNcShareKey, type NcRsaKey } from './nextcloud-crypto.ts';

const MODULE = 'OC_DEFAULT_MODULE';

/** How the source instance keeps its file keys. */
export type NcKeyMode = 'none' | 'master-key' | 'per-user';

/**
 * The private keys the importer holds (the master key, or the recovery key) and the lookup of a
 * file's key: `<owner>/files_encryption/keys/<area>/<path>/OC_DEFAULT_MODULE/<keyId>.shareKey`,
 * opened with one of them. Key files are only read.
 */
export class NcKeyRing {
  readonly #cfg: NcConfig;
  /** keyId (share key file name) → private key. */
  readonly #keys = new Map<string, NcRsaKey>();
  /** Users whose files carry a share key for one of our keys (per-user mode: opted into recovery). */
  readonly mode: NcKeyMode;

  private constructor(cfg: NcConfig, mode: NcKeyMode) { this.#cfg = cfg; this.mode = mode; }

  /**
   * Loads the keys the mode needs: master key (password = config secret), or in per-user mode the
   * recovery key when `recoveryPassword` is given.
   * @throws CryptoError for a wrong recovery password or a damaged key file; NotFoundError when a key file is missing
   */
  static async load(cfg: NcConfig, mode: NcKeyMode, ids: { masterKeyId?: string; recoveryKeyId?: string }, recoveryPassword?: string): Promise<NcKeyRing> {
    const ring = new NcKeyRing(cfg, mode);
    if (mode === 'master-key') {
      const id = ids.masterKeyId;
      if (!id) throw new NotFoundError('Nextcloud has the master key on, but appconfig encryption/masterKeyId is missing');
      ring.#keys.set(id, await ncRsaKey(await ring.#systemPrivateKey(id, cfg.secret, id)));
    }
    if (mode === 'per-user' && recoveryPassword !== undefined) {
      const id = ids.recoveryKeyId;
      if (!id) throw new NotFoundError('Nextcloud has no recovery key (appconfig encryption/recoveryKeyId)');
      try {
        ring.#keys.set(id, await ncRsaKey(await ring.#systemPrivateKey(id, recoveryPassword, '')));
      } catch (err) {
        if (err instanceof CryptoError) throw new CryptoError('wrong-key', 'the Nextcloud recovery password is wrong', { cause: err });
        throw err;
      }
    }
    return ring;
  }

  async #systemPrivateKey(id: string, password: string, uid: string): Promise<string> {
    const file = join(this.#cfg.dataDirectory, 'files_encryption', MODULE, `${id}.privateKey`);
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      throw new NotFoundError(`Nextcloud key file ${file} is missing`);
    }
    return decryptNcPrivateKey(openNcKeyFile(content, this.#cfg.secret), password, uid, this.#cfg.instanceId, this.#cfg.secret);
  }

  /** True when this ring can open any file at all. */
  get hasKeys(): boolean { return this.#keys.size > 0; }

  /**
   * The 32-byte file key of `<owner>/<area>/<path>` (area `files` or `files_trashbin/files`).
   * @throws NotFoundError when none of our keys has a share key for it (per-user file of a user who
   *   did not opt into recovery); CryptoError when the share key does not open
   */
  async fileKey(owner: string, area: string, path: string): Promise<Buffer> {
    const dir = join(this.#cfg.dataDirectory, owner, 'files_encryption', 'keys', area, path, MODULE);
    for (const [id, key] of this.#keys) {
      let content: Buffer;
      try {
        content = await readFile(join(dir, `${id}.shareKey`));
      } catch {
        continue;
      }
      return await openNcShareKey(openNcKeyFile(content, this.#cfg.secret), key);
    }
    throw new NotFoundError(this.mode === 'per-user'
      ? `no share key we can open for ${owner}/${area}/${path}: the user did not opt into the recovery key (or no recovery password was given)`
      : `no share key for ${owner}/${area}/${path}`);
  }
}
