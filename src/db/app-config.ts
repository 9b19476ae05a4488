import type { Db } from './database.ts';
import { QueryTemplate } from './query-template.ts';

/** Params: app, key. */
const GET = new QueryTemplate<{ value: string }>((db, [app, key]) => db
  .selectFrom('app_config').select('value').where('app', '=', app as string).where('key', '=', key as string));
/** Params: app. */
const ALL = new QueryTemplate<{ key: string; value: string }>((db, [app]) => db
  .selectFrom('app_config').select(['key', 'value']).where('app', '=', app as string));

/**
 * How old a cached read of an app's settings may be: a switch set by `./occ` in another process
 * (maintenance mode, encryption on/off, key mode) reaches a running server within this time,
 * without a query per request.
 */
export const SETTINGS_MAX_AGE_MS = 1000;

/**
 * Key/value settings per app (Nextcloud's `appconfig`): app enablement, encryption state,
 * maintenance mode. Shared by every server process through the database. `get` always reads the
 * database; `cachedGet` answers from a per-app snapshot at most `maxAgeMs` old, the one cache of
 * these settings (this process's own writes update it at once).
 */
export class AppConfigRepository {
  readonly #db: Db;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #snapshots = new Map<string, { at: number; values: Record<string, string> }>();

  constructor(db: Db, opts: { maxAgeMs?: number; now?: () => number } = {}) {
    this.#db = db;
    this.#maxAgeMs = opts.maxAgeMs ?? SETTINGS_MAX_AGE_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** The value, or `fallback` when unset. */
  async get(app: string, key: string, fallback?: string): Promise<string | undefined> {
    return (await GET.execute(this.#db, [app, key])).rows[0]?.value ?? fallback;
  }

  /** As `get`, from a snapshot of the app's settings at most `maxAgeMs` old. @throws database errors */
  async cachedGet(app: string, key: string, fallback?: string): Promise<string | undefined> {
    const now = this.#now();
    let snap = this.#snapshots.get(app);
    if (!snap || now - snap.at >= this.#maxAgeMs) {
      snap = { at: now, values: await this.all(app) };
      this.#snapshots.set(app, snap);
    }
    return snap.values[key] ?? fallback;
  }

  /** Drops the snapshot of `app`: the next cachedGet reads the database. */
  forget(app: string): void { this.#snapshots.delete(app); }

  async set(app: string, key: string, value: string): Promise<void> {
    await this.#db.insertInto('app_config').values({ app, key, value })
      .onConflict((oc) => oc.columns(['app', 'key']).doUpdateSet({ value }))
      .execute();
    const snap = this.#snapshots.get(app);
    if (snap) snap.values[key] = value;
  }

  async delete(app: string, key: string): Promise<void> {
    await this.#db.deleteFrom('app_config').where('app', '=', app).where('key', '=', key).execute();
    delete this.#snapshots.get(app)?.values[key];
  }

  /** The apps that have settings, sorted. */
  async apps(): Promise<string[]> {
    return (await this.#db.selectFrom('app_config').select('app').distinct().orderBy('app').execute()).map((r) => r.app);
  }

  /** All keys of one app. */
  async all(app: string): Promise<Record<string, string>> {
    const { rows } = await ALL.execute(this.#db, [app]);
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }
}
