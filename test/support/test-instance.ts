/**
 * A real Coffer instance for tests: config in a temp dir, SQLite (or a fresh PostgreSQL database),
 * local blob store, HTTP on 127.0.0.1 with an OS-chosen port: served in this process, or with
 * `workers` by a real `./occ serve --workers N` process tree (the in-process App then stands for
 * `./occ` beside the server: same database and key storage, its own memory).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig, newInstanceId, newSecret, saveConfig, type Config } from '../../src/config/config.ts';
import type { PushLimits } from '../../src/push/push-hub.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger, type Logger } from '../../src/logger.ts';
import type { ThrottleOptions } from '../../src/auth/throttler.ts';
import { startWorkers, type WorkersServer } from './workers-server.ts';

export const ADMIN = { uid: 'admin', password: 'admin-password-123' } as const;

export interface TestInstance {
  readonly app: App;
  /** The in-process server (throws on use when `workers` serve instead). */
  readonly server: RunningServer;
  /** The `./occ serve --workers N` process tree, when the instance was started with `workers`. */
  readonly workers?: WorkersServer;
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  /** Creates a user (not admin). */
  addUser(uid: string, password: string, opts?: { quota?: number | null; isAdmin?: boolean }): Promise<void>;
  /** `Basic …` header value. */
  basic(uid: string, password: string): string;
  /** fetch() against the instance with Basic auth of `as` (default the admin). */
  fetch(path: string, init?: RequestInit & { as?: { uid: string; password: string } }): Promise<Response>;
  /**
   * Stops the server and closes the app, then opens both again on the same data (a server restart:
   * every in-memory state, such as unlocked per-user keys, is gone). `app`, `server` and `url` then
   * name the new ones.
   */
  restart(): Promise<void>;
  /** Stops the server, closes the app, removes the temp dir (and PostgreSQL database). */
  stop(): Promise<void>;
}

export interface TestInstanceOptions {
  db?: 'sqlite' | 'pgsql';
  /** The config's storage section (default: local disk in the data directory). */
  storage?: Config['storage'];
  /** Where the app logs (default: nowhere). */
  logger?: Logger;
  /** Keep the temp dir after stop (debugging). */
  keep?: boolean;
  /** Brute-force throttle override (e.g. a low limit to reach 429 quickly). */
  throttle?: Partial<ThrottleOptions>;
  /** Extra config.json keys (trustedProxies, overwriteprotocol, hsts, …). */
  config?: Record<string, unknown>;
  /** Serve HTTPS with this certificate and key (PEM file paths). */
  tls?: { cert: string; key: string };
  /** Push connection limits (shorter pings in tests). */
  push?: Partial<PushLimits>;
  /** Serve with `./occ serve --workers N` (N ≥ 1) in child processes instead of in this process. */
  workers?: number;
}

/** Stands for the in-process server in workers mode, where none runs. */
function noInProcessServer(w: WorkersServer): RunningServer {
  const fail = (): never => { throw new Error('this instance is served by ./occ serve --workers: use inst.workers'); };
  return { get server() { return fail(); }, get push() { return fail(); }, url: w.url, port: Number(new URL(w.url).port), close: async () => { await w.stop(); } };
}

/** Creates a fresh PostgreSQL database on 127.0.0.1:5432; returns its name and a drop function. */
export async function createPgDatabase(): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `coffer_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    name,
    async drop() {
      const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Writes a config into a new temp dir and returns its path (SQLite or PostgreSQL). */
export async function writeTestConfig(opts: TestInstanceOptions = {}): Promise<{ dir: string; configPath: string; drop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
  const configPath = join(dir, 'config', 'config.json');
  let drop = async () => {};
  let database: Record<string, unknown> = { type: 'sqlite', path: join(dir, 'data', 'coffer.db') };
  if (opts.db === 'pgsql') {
    const pgdb = await createPgDatabase();
    drop = pgdb.drop;
    database = { type: 'pgsql', host: '127.0.0.1', port: 5432, name: pgdb.name, user: 'postgres', password: '' };
  }
  saveConfig(configPath, {
    installed: true, instanceid: newInstanceId(), secret: newSecret(), datadirectory: join(dir, 'data'),
    database: database as never, loglevel: opts.workers ? 'info' : 'silent', ...(opts.storage ? { storage: opts.storage } : {}),
    ...(opts.config ?? {}),
  });
  return { dir, configPath, drop };
}

/** Starts a test instance with an admin user. */
export async function startTestInstance(opts: TestInstanceOptions = {}): Promise<TestInstance> {
  const { dir, configPath, drop } = await writeTestConfig(opts);
  const config = loadConfig(configPath);
  const open = () => openApp(config, { logger: opts.logger ?? silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 }, throttle: opts.throttle });
  const serve = (a: App) => startServer(a, { host: '127.0.0.1', port: 0, push: opts.push, ...(opts.tls ? { tlsCert: opts.tls.cert, tlsKey: opts.tls.key } : {}) });
  let app = await open();
  await app.users.create({ uid: ADMIN.uid, password: ADMIN.password, isAdmin: true });
  let workers: WorkersServer | undefined;
  if (opts.workers) {
    try { workers = await startWorkers(configPath, opts.workers); } catch (err) { await app.close(); await drop(); throw err; }
  }
  let server = workers ? noInProcessServer(workers) : await serve(app);
  const basic = (uid: string, password: string) => 'Basic ' + Buffer.from(`${uid}:${password}`).toString('base64');
  return {
    get app() { return app; },
    get server() { return server; },
    get url() { return server.url; },
    workers, dir, dataDir: config.datadirectory, configPath,
    async addUser(uid, password, o = {}) {
      await app.users.create({ uid, password, isAdmin: o.isAdmin ?? false, quota: o.quota ?? null });
    },
    basic,
    fetch(path, init = {}) {
      const as = init.as ?? ADMIN;
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', basic(as.uid, as.password));
      return fetch(server.url + path, { ...init, headers });
    },
    async restart() {
      await server.close(1000);
      await app.close();
      app = await open();
      server = await serve(app);
    },
    async stop() {
      if (workers) await workers.stop(); else await server.close(1000);
      await app.close();
      await drop();
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}
