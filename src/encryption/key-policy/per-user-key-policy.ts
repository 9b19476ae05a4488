import { actsAsOwner } from '../../actor.ts';
import { openHeaderWithDek, type OpenedHeader } from '../../crypto/blob-header.ts';
import { ForbiddenError } from '../../errors.ts';
import type { BlobContext } from '../../storage/blob-store.ts';
import type { KeyPolicy, HeaderBinding } from './key-policy.ts';
import type { KeyHandle } from '../master-key/key-manager.ts';
import { ShareKeyNotSealedError } from '../share-keys/share-key-errors.ts';
import type { ShareKeys } from '../share-keys/share-keys.ts';
import type { UserKeys } from '../user-keys/user-keys.ts';

/**
 * Per-user-key mode (docs/PER-USER-KEYS.md): the owner's root key is reachable only while the owner
 * is unlocked, and only for the owner's side (the owner, the server); a sharee reads and writes
 * through their seal of the share key of the shared node, a link visitor through the link's wrap.
 * So a sharee's access never depends on whether the owner is logged in, and never uses the owner's key.
 */
export class PerUserKeyPolicy implements KeyPolicy {
  readonly mode = 'per-user' as const;
  readonly #userKeys: UserKeys;
  readonly #shareKeys: ShareKeys;

  constructor(o: { userKeys: UserKeys; shareKeys: ShareKeys }) {
    this.#userKeys = o.userKeys;
    this.#shareKeys = o.shareKeys;
  }

  /**
   * The share key of the nearest shared ancestor, else (owner's side only) the owner's root key.
   * @throws UserKeyLockedError when the owner's key is locked; ShareKeyNotSealedError /
   *   ForbiddenError when a sharee or a link holds no key for that place
   */
  async keyForWrite(ctx: BlobContext): Promise<KeyHandle> {
    const share = await this.#shareKeys.keyForWrite(ctx);
    if (share) return share;
    const a = ctx.actor;
    if (actsAsOwner(a, ctx.owner)) return this.#userKeys.rootForWrite(ctx.owner);
    if (a.kind === 'user') throw new ShareKeyNotSealedError(ctx.owner, a.uid);
    throw new ForbiddenError('this public link grants no key to these files');
  }

  /** @throws as KeyPolicy.openHeader */
  async openHeader(head: Buffer, ctx: BlobContext, expected: HeaderBinding): Promise<OpenedHeader> {
    const { header, dek } = await this.#shareKeys.dataKey(head, ctx, expected);
    try { return openHeaderWithDek(header, dek); } finally { dek.fill(0); }
  }
}
