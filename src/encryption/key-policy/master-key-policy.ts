import { openHeader, type OpenedHeader } from '../../crypto/blob-header.ts';
import type { BlobContext } from '../../storage/blob-store.ts';
import type { KeyPolicy, HeaderBinding } from './key-policy.ts';
import type { KeyHandle, KeyManager } from '../master-key/key-manager.ts';

/**
 * Master-key mode: the server holds every key (secret → master key → each owner's root key), so
 * every actor that reached a file reads it with the owner's root key and writes under it; who may
 * reach which file is the sharing layer's decision, made before the blob store is asked.
 */
export class MasterKeyPolicy implements KeyPolicy {
  readonly mode = 'master-key' as const;
  readonly #keys: KeyManager;

  constructor(keys: KeyManager) { this.#keys = keys; }

  /** @throws NotFoundError without a master key; CryptoError for a wrong secret or damaged keys */
  keyForWrite(ctx: BlobContext): Promise<KeyHandle> {
    return this.#keys.userKeyForWrite(ctx.owner);
  }

  /** @throws CryptoError (see KeyPolicy.openHeader) */
  openHeader(head: Buffer, ctx: BlobContext, expected: HeaderBinding): Promise<OpenedHeader> {
    return openHeader(head, (keyId) => this.#keys.resolveKey(keyId, ctx.owner), expected);
  }
}
