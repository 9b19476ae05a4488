import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { openApp, type App, type OpenAppOptions } from '../../src/app.ts';
import { configSchema, type Config } from '../../src/config/config.ts';
import { migrateToLatest, type Db } from '../../src/db/database.ts';
import type { Database } from '../../src/db/schema.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';

/** A fresh temp dir (removed by the returned cleanup). */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A valid SQLite config under `dir`. */
export function sqliteConfig(dir: string, extra: Record<string, unknown> = {}): Config {
  return Object.freeze(configSchema.parse({
    ...extra,
    installed: true,
    instanceid: 'oc' + randomBytes(5).toString('hex'),
    secret: randomBytes(48).toString('base64'),
    datadirectory: join(dir, 'data'),
    database: { type: 'sqlite', path: join(dir, 'coffer.db') },
    loglevel: 'silent',
  }));
}

export interface TestServer {
  app: App;
  server: RunningServer;
  url: string;
  dir: string;
  close(): Promise<void>;
}

/** openApp on a temp SQLite instance + an HTTP server on 127.0.0.1:0. */
export async function startTestServer(opts: Omit<OpenAppOptions, 'logger'> & { trustedProxies?: string[] } = {}): Promise<TestServer> {
  const { dir, cleanup } = tempDir();
  const { trustedProxies, ...appOpts } = opts;
  const app = await openApp(sqliteConfig(dir, trustedProxies ? { trustedProxies } : {}), { logger: silentLogger(), ...appOpts });
  const server = await startServer(app, { host: '127.0.0.1', port: 0 });
  return {
    app, server, url: server.url, dir,
    async close() { await server.close(100); await app.close(); cleanup(); },
  };
}

/** `Authorization` header value for Basic credentials. */
export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
}

const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };

/** Whether the test PostgreSQL answers. */
export async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ ...PG, connectionTimeoutMillis: 2000 });
  try { await c.connect(); await c.end(); return true; } catch { return false; }
}

/** A migrated Kysely on a fresh PostgreSQL schema `t_<random>`; `drop()` removes it. */
export async function pgSchemaDb(): Promise<{ db: Db; drop: () => Promise<void> }> {
  const schema = 't_' + randomBytes(6).toString('hex');
  const admin = new pg.Client(PG);
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ ...PG, max: 4, options: `-c search_path=${schema}` });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrateToLatest(db);
  return {
    db,
    async drop() {
      await sql`DROP SCHEMA ${sql.raw(schema)} CASCADE`.execute(db);
      await db.destroy();
    },
  };
}
