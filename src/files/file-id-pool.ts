import { sql } from 'kysely';
import { isPostgres, type Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import type { Executor } from './node-rows.ts';

/** Ids allocated per round trip by the file id pool. */
const FILE_ID_BATCH = 32;

/**
 * The `file_ids` sequence that hands out node file ids (ids are needed before content is
 * written). Part of the node repository: NodeRepository answers allocateFileId and
 * reserveFileIdsThrough with it.
 */
export class FileIdPool {
  readonly #db: Db;
  readonly #idPool: number[] = [];
  #idRefill: Promise<void> | undefined;
  constructor(db: Db) { this.#db = db; }

  /**
   * Allocates a new file id. Without an executor the id comes from a small in-process pool filled
   * FILE_ID_BATCH at a time in one transaction: an auto-committed insert per write cost a whole
   * write transaction (the dearest statement of a small PUT). Ids left in the pool when the
   * process ends are simply never used; ids only have to be unique, never dense.
   * @throws database errors
   */
  async allocate(ex?: Executor): Promise<number> {
    if (ex) return this.#insertFileId(ex);
    for (;;) {
      const id = this.#idPool.pop();
      if (id !== undefined) return id;
      this.#idRefill ??= this.#refillIds().finally(() => { this.#idRefill = undefined; });
      await this.#idRefill;
    }
  }

  async #insertFileId(ex: Executor): Promise<number> {
    const row = await ex.insertInto('file_ids').defaultValues().returning('id').executeTakeFirstOrThrow();
    return num(row.id);
  }

  async #refillIds(): Promise<void> {
    const ids = isPostgres(this.#db)
      // one round trip for the batch (the identity column's sequence)
      ? (await sql<{ id: number }>`insert into file_ids (id) select nextval(pg_get_serial_sequence('file_ids', 'id')) from generate_series(1, ${FILE_ID_BATCH}::int) returning id`
        .execute(this.#db)).rows.map((r) => num(r.id)).sort((a, b) => a - b)
      // SQLite: in-process inserts are cheap, the commit is what costs; one for the batch
      : await this.#db.transaction().execute(async (trx) => {
        const out: number[] = [];
        for (let i = 0; i < FILE_ID_BATCH; i++) out.push(await this.#insertFileId(trx));
        return out;
      });
    // popped from the end: hand them out in ascending order
    this.#idPool.push(...ids.reverse());
  }

  /**
   * Makes the counter hand out only ids above `maxId` (an import inserted rows with ids of its
   * own). Ids already in this process's pool stay valid only when below the imported range, so
   * imports run with no server process using the database.
   * @throws database errors
   */
  async reserveThrough(ex: Executor, maxId: number): Promise<void> {
    const cur = await ex.selectFrom('file_ids').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
    if (num(cur?.m as number | null) >= maxId) return;
    await ex.insertInto('file_ids').values({ id: maxId } as never).execute();
    if (isPostgres(this.#db)) await sql`select setval(pg_get_serial_sequence('file_ids', 'id'), ${maxId})`.execute(ex);
  }
}
