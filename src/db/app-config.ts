import type { Db } from './database.ts';

/**
 * Key/value settings per app (Nextcloud's `appconfig`): app enablement, encryption state,
 * maintenance mode. Shared by every server process through the database.
 */
export class AppConfigRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  /** The value, or `fallback` when unset. */
  async get(app: string, key: string, fallback?: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('app_config').select('value').where('app', '=', app).where('key', '=', key).executeTakeFirst();
    return row?.value ?? fallback;
  }

  async set(app: string, key: string, value: string): Promise<void> {
    await this.#db.insertInto('app_config').values({ app, key, value })
      .onConflict((oc) => oc.columns(['app', 'key']).doUpdateSet({ value }))
      .execute();
  }

  async delete(app: string, key: string): Promise<void> {
    await this.#db.deleteFrom('app_config').where('app', '=', app).where('key', '=', key).execute();
  }

  /** All keys of one app. */
  async all(app: string): Promise<Record<string, string>> {
    const rows = await this.#db.selectFrom('app_config').select(['key', 'value']).where('app', '=', app).execute();
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }
}
