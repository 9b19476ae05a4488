import { transact, type Db } from '../db/database.ts';
import { assertPropertyBounds } from './dead-property-bounds.ts';
import { PropertyRepository } from './property-repository.ts';
import type { DeadProperty, PropPatchOp } from './types.ts';

/**
 * The dead (client-set) WebDAV properties of nodes (FilesService.properties): read in batches for
 * PROPFIND, changed by PROPPATCH all or nothing within the per-node bounds (dead-property-bounds.ts).
 */
export class DeadProperties {
  readonly #db: Db;
  readonly #repo = new PropertyRepository();

  constructor(db: Db) { this.#db = db; }

  /** The properties of one node. */
  async get(fileId: number): Promise<DeadProperty[]> {
    return (await this.#repo.properties(this.#db, [fileId])).get(fileId) ?? [];
  }

  /** The properties of many nodes at once (PROPFIND Depth 1). */
  of(fileIds: number[]): Promise<Map<number, DeadProperty[]>> {
    return this.#repo.properties(this.#db, fileIds);
  }

  /**
   * Applies PROPPATCH operations in document order, all or nothing.
   * @throws QuotaExceededError past the per-node bounds (nothing is changed then)
   */
  async patch(fileId: number, ops: PropPatchOp[]): Promise<void> {
    await transact(this.#db, async (trx) => {
      const before = await this.#repo.propertyUsage(trx, fileId);
      await this.#repo.applyPropPatch(trx, fileId, ops);
      assertPropertyBounds(before, await this.#repo.propertyUsage(trx, fileId));
    });
  }
}
