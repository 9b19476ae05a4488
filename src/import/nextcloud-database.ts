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

/** Where the database is: `--database-url` (mysql://, mariadb://, postgres[ql]://, sqlite:PATH or a path), else config.php. */
function targetOf(cfg: NcConfig, url?: string): Target {
  if (url) {
    if (/^(mysql|mariadb|postgres|postgresql):\/\//.test(url)) {
      const u = new URL(url);
      return {
        kind: u.protocol.startsWith('postgres') ? 'postgres' : 'mysql',
        host: decodeURIComponent(u.hostname) || '127.0.0.1',
        port: u.port ? Number(u.port) : undefined,
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: decodeURIComponent(u.pathname.replace(/^\//, '')),
      };
    }
    const file = url.replace(/^sqlite3?:(\/\/)?/, '');
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
 * @throws ValidationError for an unusable URL; the driver's error when it cannot connect
 */
export async function openNcDatabase(cfg: NcConfig, url?: string): Promise<NcDatabase> {
  const t = targetOf(cfg, url);
  const prefix = cfg.tablePrefix;
  const expand = (q: string) => q.replace(/\*PREFIX\*/g, prefix);
  if (t.kind === 'sqlite') {
    const file = resolve(t.file!);
    if (!existsSync(file)) throw new ValidationError(`Nextcloud's SQLite database ${file} does not exist`);
    // Nextcloud's SQLite is in WAL mode: even a read-only connection creates `-wal` and `-shm` files
    // beside it, in Nextcloud's data directory. Opened `immutable` (no locks, no side files) when
    // nothing can change it: Nextcloud in maintenance mode and no journal left to apply. A live
    // instance (--allow-live, a dry run) is read the ordinary way, as Nextcloud itself opens it.
    const still = cfg.maintenance && !existsSync(`${file}-wal`) && !existsSync(`${file}-journal`);
    const url = pathToFileURL(file);
    if (still) url.searchParams.set('immutable', '1');
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(url, { readOnly: true });
    return {
      kind: 'sqlite',
      async query(q, params = []) {
        return db.prepare(expand(q)).all(...(params as (string | number | null)[])).map((r) => ({ ...r }));
      },
      async close() { db.close(); },
    };
  }
  if (t.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ host: t.host, port: t.port ?? 5432, user: t.user, password: t.password, database: t.database });
    await client.connect();
    await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    return {
      kind: 'postgres',
      async query(q, params = []) {
        let i = 0;
        const text = expand(q).replace(/\?/g, () => `$${++i}`);
        return (await client.query(text, params as unknown[])).rows as NcRow[];
      },
      async close() { await client.end(); },
    };
  }
  // a CommonJS package: its API is the default export (the named ones are missing in the esbuild bundle ./occ runs)
  const { default: mysql } = await import('mysql2/promise');
  const conn = await mysql.createConnection({
    host: t.host, port: t.port ?? 3306, user: t.user, password: t.password, database: t.database,
    charset: 'utf8mb4', supportBigNumbers: true, bigNumberStrings: false, dateStrings: true,
  });
  await conn.query('SET SESSION TRANSACTION READ ONLY');
  return {
    kind: 'mysql',
    async query(q, params = []) {
      const [rows] = await conn.query(expand(q), params as unknown[]);
      return (rows as NcRow[]).map((r) => {
        // binary/blob columns come back as Buffers; Nextcloud stores text in them
        const out: NcRow = {};
        for (const [k, v] of Object.entries(r)) out[k.toLowerCase()] = Buffer.isBuffer(v) ? v.toString('utf8') : v;
        return out;
      });
    },
    async close() { await conn.end(); },
  };
}
