/**
 * The Nextcloud 32 fixtures (../shared/fixtures/nextcloud, read-only) unpacked into temp dirs, a
 * fresh Coffer installed with `./occ maintenance:install`, and a server on it for HTTP checks.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';
import { ROOT, occ, type RunResult } from '../cli/occ-harness.ts';

export const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'nextcloud');
export const COFFER_ADMIN = { uid: 'cofferadmin', password: 'coffer-admin-pass-1' } as const;

/** What the tests read of manifest.json. */
export interface Manifest {
  instanceid: string;
  admin: { uid: string; password: string };
  users: { uid: string; password: string; display_name: string; groups: string[]; recovery_opt_in: boolean | null; app_tokens: { token: string }[] }[];
  encryption: { mode: string; recovery_password: string | null };
  files: { owner: string; path: string; size: number; sha256: string; fileid: number; etag: string; mtime: number; encrypted: number; physical_path: string; legacy_base64: boolean }[];
  folders: { owner: string; path: string; fileid: number; etag: string }[];
  shares: { id: number; share_type: number; owner: string; recipient: string | null; path: string; item_type: string; fileid: number; permissions: number; token: string | null; password: string | null }[];
}

export interface Unpacked { readonly root: string; readonly manifest: Manifest; readonly configPhp: string; readonly data: string; cleanup(): void }

/** Unpacks `nc32-<name>.tar.gz` into a temp dir; config.php gets `'maintenance' => true` (the documented procedure). */
export function unpack(name: 'master-key' | 'user-keys'): Unpacked {
  const tar = join(FIXTURES, `nc32-${name}.tar.gz`);
  if (!existsSync(tar)) throw new Error(`fixture missing: ${tar}`);
  const dir = mkdtempSync(join(tmpdir(), `nc-${name}-`));
  execFileSync('tar', ['xzf', tar, '-C', dir]);
  const root = join(dir, `nc32-${name}`);
  const configPhp = join(root, 'config', 'config.php');
  writeFileSync(configPhp, readFileSync(configPhp, 'utf8').replace(/\);\s*$/, "  'maintenance' => true,\n);\n"));
  return {
    root, configPhp, data: join(root, 'data'),
    manifest: JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as Manifest,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Coffer {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly configPath: string;
  occ(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<RunResult>;
  /** Opens the app in this process and serves it on 127.0.0.1 (after the import). */
  serve(): Promise<{ app: App; server: RunningServer; url: string; stop(): Promise<void> }>;
  cleanup(): void;
}

/** A fresh Coffer installed by the real CLI (SQLite, or PostgreSQL with `pg`). */
export async function installCoffer(opts: { pg?: { name: string } } = {}): Promise<Coffer> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-import-'));
  const configPath = join(dir, 'config', 'config.json');
  const env = { COFFER_CONFIG: configPath };
  const args = ['maintenance:install', '--admin-user', COFFER_ADMIN.uid, '--admin-pass', COFFER_ADMIN.password, '--data-dir', join(dir, 'data')];
  if (opts.pg) args.push('--database', 'pgsql', '--database-host', '127.0.0.1', '--database-name', opts.pg.name, '--database-user', 'postgres');
  const r = await occ(args, env);
  if (r.code !== 0) throw new Error(`install failed: ${r.stderr}`);
  return {
    dir, env, configPath,
    occ: (a, extra = {}) => occ(a, { ...env, ...extra }),
    async serve() {
      const app = await openApp(loadConfig(configPath), { logger: silentLogger() });
      const server = await startServer(app, { host: '127.0.0.1', port: 0 });
      return { app, server, url: server.url, async stop() { await server.close(1000); await app.close(); } };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const basic = (uid: string, password: string) => 'Basic ' + Buffer.from(`${uid}:${password}`).toString('base64');

/**
 * Public link `s` of the fixture works on the Coffer at `url`: public WebDAV with its password (a
 * wrong one answered 401), and a link to a file serves the manifest's content.
 */
export async function checkPublicLink(url: string, manifest: Manifest, s: Manifest['shares'][number]): Promise<void> {
  const auth = basic(s.token!, s.password ?? '');
  const r = await fetch(`${url}/public.php/webdav/`, { method: 'PROPFIND', headers: { authorization: auth, depth: '0' } });
  assert.equal(r.status, 207, `link ${s.token}`);
  if (s.password) {
    const wrong = await fetch(`${url}/public.php/webdav/`, { method: 'PROPFIND', headers: { authorization: basic(s.token!, 'wrong-password'), depth: '0' } });
    assert.equal(wrong.status, 401);
  }
  if (s.item_type === 'file') {
    const g = await fetch(`${url}/public.php/webdav/`, { headers: { authorization: auth } });
    assert.equal(g.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), manifest.files.find((x) => x.fileid === s.fileid)!.sha256);
  }
}

/** `/remote.php/dav/files/<uid>/<path>` with each segment encoded. */
export function davUrl(url: string, uid: string, path: string): string {
  return `${url}/remote.php/dav/files/${encodeURIComponent(uid)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** PROPFIND depth 0 of one path; returns fileid, etag (unquoted), permissions, checksum and getlastmodified. */
export async function propfind(url: string, uid: string, password: string, path: string): Promise<{ status: number; fileid?: string; etag?: string; permissions?: string; checksum?: string; lastModified?: string }> {
  const body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/><d:getetag/><oc:permissions/><oc:checksums/><d:getlastmodified/></d:prop></d:propfind>';
  const r = await fetch(davUrl(url, uid, path), { method: 'PROPFIND', headers: { authorization: basic(uid, password), depth: '0', 'content-type': 'application/xml' }, body });
  const x = await r.text();
  const pick = (tag: string) => new RegExp(`<[a-z]+:${tag}>([^<]*)</[a-z]+:${tag}>`).exec(x)?.[1];
  return { status: r.status, fileid: pick('fileid'), etag: pick('getetag')?.replace(/&quot;|"/g, ''), permissions: pick('permissions'), checksum: pick('checksum'), lastModified: pick('getlastmodified') };
}

/**
 * Every entry under `dir` (files, folders, links) with its size, mtime (ns) and, for files, the
 * sha256 of its content: equal before and after means nothing in the tree was written.
 */
export function treeState(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, path), { bigint: true });
      const sha = st.isFile() ? createHash('sha256').update(readFileSync(join(dir, path))).digest('hex') : st.isDirectory() ? 'dir' : 'other';
      out.push(`${path} ${st.size} ${st.mtimeNs} ${st.mode} ${sha}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  return out;
}
