import { sql } from 'kysely';
import { num } from '../db/schema.ts';
import type { Executor } from './node-repository.ts';
import type { DeadProperty, PropPatchOp } from './types.ts';
import type { PropertyUsage } from './dead-property-bounds.ts';

/**
 * The queries on the `properties` table (WebDAV dead properties). Stateless: every method takes
 * the executor, so callers compose them into their own transactions. Rows of deleted nodes are
 * removed by NodeRepository.deleteSubtree, in the same statement batch as the nodes.
 */
export class PropertyRepository {
  async properties(ex: Executor, fileIds: number[]): Promise<Map<number, DeadProperty[]>> {
    const out = new Map<number, DeadProperty[]>();
    if (fileIds.length === 0) return out;
    for (let i = 0; i < fileIds.length; i += 500) {
      const rows = await ex.selectFrom('properties').selectAll().where('fileid', 'in', fileIds.slice(i, i + 500)).execute();
      for (const r of rows) {
        const id = num(r.fileid);
        const list = out.get(id) ?? [];
        list.push({ namespace: r.namespace, name: r.name, value: r.value });
        out.set(id, list);
      }
    }
    return out;
  }

  async applyPropPatch(ex: Executor, fileId: number, ops: PropPatchOp[]): Promise<void> {
    for (const op of ops) {
      if (op.op === 'set') {
        await ex.insertInto('properties').values({ fileid: fileId, namespace: op.prop.namespace, name: op.prop.name, value: op.prop.value })
          .onConflict((oc) => oc.columns(['fileid', 'namespace', 'name']).doUpdateSet({ value: op.prop.value }))
          .execute();
      } else {
        await ex.deleteFrom('properties').where('fileid', '=', fileId).where('namespace', '=', op.namespace).where('name', '=', op.name).execute();
      }
    }
  }

  /** How many dead properties a node has, and their total size (namespace, name and value, in characters). */
  async propertyUsage(ex: Executor, fileId: number): Promise<PropertyUsage> {
    const r = await ex.selectFrom('properties')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('n'),
        sql<number | string | null>`sum(length(namespace) + length(name) + length(value))`.as('size'),
      ])
      .where('fileid', '=', fileId).executeTakeFirstOrThrow();
    return { count: num(r.n), size: r.size === null ? 0 : num(r.size) };
  }

  async copyProperties(ex: Executor, fromId: number, toId: number): Promise<void> {
    const rows = await ex.selectFrom('properties').selectAll().where('fileid', '=', fromId).execute();
    if (rows.length) await ex.insertInto('properties').values(rows.map((r) => ({ ...r, fileid: toId }))).execute();
  }
}
