import { hkdfSha256 } from '../../crypto/kdf.ts';
import { unwrapKey, wrapKey } from '../../crypto/key-wrap.ts';
import { KEY_SIZE } from '../../crypto/format.ts';
import { masterFileName } from '../master-key/key-files.ts';
import type { KeyHolder } from './key-holder.ts';

const SECRET_INFO = Buffer.from('coffer master-key wrap v1', 'latin1');

/**
 * The default holder: KEK = HKDF-SHA256(IKM = secret, salt = instance id, info = "coffer master-key wrap v1"),
 * MK wrapped with AES-256-GCM (nonce ‖ ct ‖ tag) in `master_<id>.masterKey`. Whoever has the config
 * file and the key storage can unwrap MK.
 */
export class SecretKeyHolder implements KeyHolder {
  readonly id = 'secret';
  readonly type = 'secret' as const;
  readonly wrapAlgorithm = 'secret-hkdf-aes256gcm';
  readonly #kek: Buffer;

  constructor(secret: string, instanceId: string) {
    this.#kek = hkdfSha256(Buffer.from(secret, 'utf8'), Buffer.from(instanceId, 'utf8'), SECRET_INFO, KEY_SIZE);
  }

  fileName(idHex: string): string { return masterFileName(idHex); }
  async open(): Promise<void> {}
  async wrap(mk: Buffer, aad: Buffer): Promise<Buffer> { return wrapKey(this.#kek, mk, aad); }
  /** @throws CryptoError when the secret (or AAD) does not match. */
  async unwrap(wrapped: Buffer, aad: Buffer): Promise<Buffer> { return unwrapKey(this.#kek, wrapped, aad, 'master key'); }
  describe(): Record<string, unknown> { return { type: 'secret', id: this.id, wrap: this.wrapAlgorithm }; }
  async close(): Promise<void> {}
}
