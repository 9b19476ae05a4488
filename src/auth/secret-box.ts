import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { CryptoError } from '../errors.ts';

const VERSION = 'v1';

/**
 * Seals small secrets for the database (TOTP secrets) under a key derived from the instance secret
 * (the config file, which lives outside the data directory): a copy of the database or of the data
 * directory alone does not reveal them. AES-256-GCM, the row's owner as associated data, so a
 * sealed value copied to another user's row does not open.
 */
export class SecretBox {
  readonly #key: Buffer;

  /** @param purpose names the use (a different key per purpose) */
  constructor(instanceSecret: string, purpose: string) {
    this.#key = Buffer.from(hkdfSync('sha256', Buffer.from(instanceSecret, 'utf8'), Buffer.alloc(0), Buffer.from(`coffer secret box ${purpose} ${VERSION}`, 'utf8'), 32));
  }

  /** `v1.<base64url(iv ‖ tag ‖ ciphertext)>` */
  seal(plain: string, owner: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(Buffer.from(owner, 'utf8'));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `${VERSION}.${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url')}`;
  }

  /**
   * Opens a value sealed for `owner`.
   * @throws CryptoError when it is malformed, belongs to someone else or was sealed under another secret
   */
  open(sealed: string, owner: string): string {
    const [v, body] = sealed.split('.', 2);
    const raw = v === VERSION && body ? Buffer.from(body, 'base64url') : Buffer.alloc(0);
    if (raw.length < 28) throw new CryptoError('malformed', 'Sealed secret is malformed');
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(owner, 'utf8'));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch (err) {
      throw new CryptoError('tag-mismatch', 'Sealed secret does not open (wrong instance secret or tampered row)', { cause: err });
    }
  }
}
