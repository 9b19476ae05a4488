import type { OpenedHeader } from '../../crypto/blob-header.ts';
import type { BlobContext } from '../../storage/blob-store.ts';
import type { KeyHandle } from '../master-key/key-manager.ts';

/** Nextcloud's two key modes (`encryption` / `useMasterKey`): one master key, or per-user keys. */
export type KeyMode = 'master-key' | 'per-user';

/** What a blob's header must be bound to (docs/FORMAT.md): the file id and the blob id's 16 bytes. */
export interface HeaderBinding {
  readonly fileId: number;
  readonly blobId: Buffer;
}

/**
 * Which key wraps the data key of a new blob, and which key unwraps a stored blob's data key, for
 * the actor in the blob context. One implementation per key mode, chosen once in `openApp`
 * (master-key-policy.ts, per-user-key-policy.ts); the encrypted blob store asks nothing else about
 * keys. The blob format is the same in both modes: only who can reach the key-encryption keys differs.
 */
export interface KeyPolicy {
  readonly mode: KeyMode;
  /**
   * The key that wraps the data key of a new blob of `ctx.owner`'s tree written by `ctx.actor`.
   * @throws UserKeyLockedError / ShareKeyNotSealedError / ForbiddenError (403) when the actor holds
   *   no key for that place; NotFoundError without a master key; CryptoError for damaged keys
   */
  keyForWrite(ctx: BlobContext): Promise<KeyHandle>;
  /**
   * Verifies the 140 header bytes `head` against `expected` and unwraps the data key with a key
   * `ctx.actor` may use.
   * @throws CryptoError for a header that fails authentication or names another binding; 403
   *   errors (UserKeyLockedError, ShareKeyNotSealedError) when the actor holds no key to it
   */
  openHeader(head: Buffer, ctx: BlobContext, expected: HeaderBinding): Promise<OpenedHeader>;
}
