import { existsSync } from 'node:fs';
import { join, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../errors.ts';
import type { NcConfig } from './nextcloud-config.ts';

/** A row as the source database returns it (column names lower-case). */
export type NcRow = Record<string, unknown>;

/**
 * Read-only access to Nextcloud's database. Queries name tables `*PREFIX*name` (as Nextcloud's own
 * code does) and use `?` placeholders on every engine. Nothing here ever writes.
 */
export interface NcDatabase {
  readonly kind: 'sqlite' | 'mysql' | 'postgres';
  /** @throws the driver's error */
  query(sqlText: string, params?: readonly unknown[]): Promise<NcRow[]>;
  close(): Promise<void>;
}

interface Target {
  kind: NcDatabase['kind'];
  file?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** pg type oids read as text: date, timestamp, timestamptz, json, jsonb. */
const PG_RAW = new Set([1082, 1114, 1184, 114, 3802]);

/** A row with lower-case column names, blobs (Buffers, Uint8Arrays) decoded: Nextcloud stores text in them. */
function textRow(r: NcRow): NcRow {
  const out: NcRow = {};
  for (const [k, v] of Object.entries(r)) out[k.toLowerCase()] = v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8') : v;
  return out;
}

/**
 * Runs `connect`; a failure (unreachable server, unknown database, refused login) becomes a
 * ValidationError naming `what`, after `cleanup`.
 */
async function connecting(what: string, connect: () => Promise<void>, cleanup: () => Promise<unknown> | undefined): Promise<void> {
  try {
    await connect();
  } catch (err) {
    await cleanup();
    throw new ValidationError(`cannot connect to Nextcloud's ${what}: ${(err as Error).message || (err as { code?: string }).code || String(err)}`);
  }
}

/** Where the database is: `--database-url` (mysql://, mariadb://, postgres[ql]://, sqlite:PATH or a path), else config.php. */
function targetOf(cfg: NcConfig, url?: string): Target {
  if (url !== undefined) {
    if (/^(mysql|mariadb|postgres|postgresql):\/\//.test(url)) {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new ValidationError(`--database-url ${redacted(url)} is not a valid URL`);
      }
      if (u.pathname.replace(/^\//, '') === '') throw new ValidationError(`--database-url ${redacted(url)} names no database (…/DBNAME)`);
      return {
        kind: u.protocol.startsWith('postgres') ? 'postgres' : 'mysql',
        host: decodeURIComponent(u.hostname) || '127.0.0.1',
        port: u.port ? Number(u.port) : undefined,
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: decodeURIComponent(u.pathname.replace(/^\//, '')),
      };
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^sqlite3?:/i.test(url)) {
      throw new ValidationError(`--database-url ${redacted(url)}: unsupported kind of database (mysql://, mariadb://, postgres://, sqlite:PATH or a file path)`);
    }
    const file = url.replace(/^sqlite3?:(\/\/)?/i, '');
    if (file === '') throw new ValidationError('--database-url is empty');
    return { kind: 'sqlite', file };
  }
  if (cfg.dbType === 'sqlite3') return { kind: 'sqlite', file: join(cfg.dataDirectory, `${cfg.dbName}.db`) };
  // dbhost may be "host:port" or "host:/socket" (a socket is not supported)
  let host = cfg.dbHost;
  let port = cfg.dbPort ? Number(cfg.dbPort) : undefined;
  const m = /^(.*):(\d+)$/.exec(host);
  if (m) { host = m[1]!; port = Number(m[2]); }
  if (host.includes(':/') || isAbsolute(host)) throw new ValidationError('a database socket in dbhost is not supported: pass --database-url');
  return { kind: cfg.dbType === 'pgsql' ? 'postgres' : 'mysql', host, port, user: cfg.dbUser, password: cfg.dbPassword, database: cfg.dbName };
}

/**
 * Opens Nextcloud's database read-only (SQLite read-only, and immutable when Nextcloud is in maintenance mode; MySQL/PostgreSQL sessions
 * set to read-only transactions), with the table prefix of config.php.
 * @throws ValidationError for an unusable URL, or a database it cannot open or connect to
 */
export async function openNcDatabase(cfg: NcConfig, url?: string): Promise<NcDatabase> {
  const t = targetOf(cfg, url);
  const prefix = cfg.tablePrefix;
  const expand = (q: string) => q.replace(/\*PREFIX\*/g, prefix);
  if (t.kind === 'sqlite') {
    const file = resolve(t.file!);
    if (!existsSync(file)) throw new ValidationError(`cannot open Nextcloud's SQLite database ${file}: it does not exist`);
    // Nextcloud's SQLite is in WAL mode: even a read-only connection creates `-wal` and `-shm` files
    // beside it, in Nextcloud's data directory. Opened `immutable` (no locks, no side files) when
    // nothing can change it: Nextcloud in maintenance mode and no journal left to apply. A live
    // instance (--allow-live, a dry run) is read the ordinary way, as Nextcloud itself opens it.
    const still = cfg.maintenance && !existsSync(`${file}-wal`) && !existsSync(`${file}-journal`);
    const url = pathToFileURL(file);
    if (still) url.searchParams.set('immutable', '1');
    const { DatabaseSync } = await import('node:sqlite');
    let db: InstanceType<typeof DatabaseSync> | undefined;
    try {
      db = new DatabaseSync(url, { readOnly: true });
      db.prepare('select count(*) from sqlite_master').get(); // a file that is no SQLite database fails here
    } catch (err) {
      db?.close();
      throw new ValidationError(`cannot open Nextcloud's SQLite database ${file}: ${(err as Error).message}`);
    }
    return {
      kind: 'sqlite',
      async query(q, params = []) {
        return db!.prepare(expand(q)).all(...(params as (string | number | null)[])).map((r) => textRow(r as NcRow));
      },
      async close() { db!.close(); },
    };
  }
  if (t.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({
      host: t.host, port: t.port ?? 5432, user: t.user, password: t.password, database: t.database,
      // date-times and JSON as the text the database holds (see nextcloud-columns.ts): pg would make
      // a timestamp without zone a Date in this process's timezone, and parse JSON
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (PG_RAW.has(oid) ? (v: string) => v : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
    });
    await connecting(`PostgreSQL database ${t.database} on ${t.host}`, async () => {
      await client.connect();
      await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    }, () => client.end().catch(() => {}));
    return {
      kind: 'postgres',
      async query(q, params = []) {
        let i = 0;
        const text = expand(q).replace(/\?/g, () => `$${++i}`);
        return ((await client.query(text, params as unknown[])).rows as NcRow[]).map(textRow);
      },
      async close() { await client.end(); },
    };
  }
  // a CommonJS package: its API is the default export (the named ones are missing in the esbuild bundle ./occ runs)
  const { default: mysql } = await import('mysql2/promise');
  // date-times and JSON as the text the database holds (see nextcloud-columns.ts)
  const options = {
    host: t.host, port: t.port ?? 3306, user: t.user, password: t.password, database: t.database,
    charset: 'utf8mb4', supportBigNumbers: true, bigNumberStrings: false, dateStrings: true, jsonStrings: true,
  };
  let conn: Awaited<ReturnType<typeof mysql.createConnection>> | undefined;
  await connecting(`MySQL/MariaDB database ${t.database} on ${t.host}`, async () => {
    conn = await mysql.createConnection(options);
    await conn.query('SET SESSION TRANSACTION READ ONLY');
  }, () => conn?.end().catch(() => {}));
  const c = conn!;
  return {
    kind: 'mysql',
    async query(q, params = []) {
      const [rows] = await c.query(expand(q), params as unknown[]);
      return (rows as NcRow[]).map(textRow);
    },
    async close() { await c.end(); },
  };
}
