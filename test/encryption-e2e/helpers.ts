/** Shared helpers of the end-to-end encryption tests: occ processes, data-directory scans, HTTP. */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { occ, type RunResult } from '../cli/occ-harness.ts';
import type { TestInstance } from '../support/test-instance.ts';

export { occ };
export type { RunResult };

/** Runs `./occ args…` against the instance's config (stdin closed). */
export function occFor(inst: Pick<TestInstance, 'configPath'>, args: string[], extraEnv: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
  return occ(args, { COFFER_CONFIG: inst.configPath, ...extraEnv }, { input });
}

/** Asserts exit 0 and returns stdout. */
export async function occOk(inst: Pick<TestInstance, 'configPath'>, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await occFor(inst, args, extraEnv);
  assert.equal(r.code, 0, `./occ ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Every file below `dir` (absolute paths), recursively. */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walkFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every path (files and folders) below `dir`. */
export function walkPaths(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walkPaths(p));
  }
  return out;
}

/**
 * Files under `dir` whose bytes contain `marker`, found by `grep` in a child process: the test
 * process hosts the server, and opening and closing its SQLite files here would drop SQLite's
 * POSIX locks of the server's connection (fcntl locks are per process).
 */
export function filesContaining(dir: string, marker: string): string[] {
  const r = spawnSync('grep', ['-rlaF', '--', marker, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status === 1) return [];
  if (r.status !== 0) throw new Error(`grep failed (${r.status}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).sort();
}

/** Blob files in the local blob store (temp folder excluded). */
export function blobFiles(dataDir: string): string[] {
  const root = join(dataDir, 'blobs');
  return walkFiles(root).filter((f) => !f.startsWith(join(root, '.tmp')));
}

export function tempFiles(dataDir: string): string[] {
  try { return walkFiles(join(dataDir, 'blobs', '.tmp')); } catch { return []; }
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Content with a marker at the start, in the middle and at the end, random bytes between. */
export function markedContent(marker: string, size: number): Buffer {
  const b = randomBytes(size);
  const m = Buffer.from(marker);
  if (size >= m.length) m.copy(b, 0);
  if (size >= 3 * m.length) { m.copy(b, Math.floor(size / 2)); m.copy(b, size - m.length); }
  return b;
}

/** PUT over WebDAV as the admin; asserts 201/204. */
export async function davPut(inst: TestInstance, uid: string, path: string, body: Buffer, as?: { uid: string; password: string }): Promise<void> {
  const r = await inst.fetch(`/remote.php/dav/files/${uid}/${path.split('/').map(encodeURIComponent).join('/')}`, { method: 'PUT', body: new Uint8Array(body), as });
  assert.ok(r.status === 201 || r.status === 204, `PUT ${path}: ${r.status} ${await r.text()}`);
}

export async function davMkcol(inst: TestInstance, uid: string, path: string): Promise<void> {
  const r = await inst.fetch(`/remote.php/dav/files/${uid}/${path.split('/').map(encodeURIComponent).join('/')}`, { method: 'MKCOL' });
  assert.equal(r.status, 201, `MKCOL ${path}: ${r.status}`);
}

/** The outcome of a GET: status and body, or `aborted` when the body stream failed. */
export async function davGet(inst: TestInstance, uid: string, path: string, range?: string, as?: { uid: string; password: string }): Promise<{ status: number; body?: Buffer; aborted: boolean }> {
  const headers: Record<string, string> = {};
  if (range) headers.range = range;
  let r: Response;
  try {
    r = await inst.fetch(`/remote.php/dav/files/${uid}/${path.split('/').map(encodeURIComponent).join('/')}`, { headers, as });
  } catch {
    return { status: 0, aborted: true }; // the connection was closed before a complete response head
  }
  try {
    const body = Buffer.from(await r.arrayBuffer());
    const declared = r.headers.get('content-length');
    if (declared !== null && Number(declared) !== body.length) return { status: r.status, aborted: true };
    return { status: r.status, body, aborted: false };
  } catch {
    return { status: r.status, aborted: true };
  }
}

/** Mixed sizes: many small, some around chunk boundaries, a few MiB-sized. */
export function mixedSizes(n: number, seed = 1): number[] {
  let x = seed;
  const rnd = () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648; };
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (i % 50 === 0) out.push(0);
    else if (r < 0.55) out.push(Math.floor(rnd() * 16 * 1024) + 1);
    else if (r < 0.85) out.push(Math.floor(rnd() * 256 * 1024) + 1);
    else if (r < 0.97) out.push(65536 * (1 + Math.floor(rnd() * 8)) + Math.floor(rnd() * 3) - 1);
    else out.push(Math.floor(rnd() * 3 * 1024 * 1024) + 1024 * 1024);
  }
  return out;
}

export function fileSize(p: string): number { return statSync(p).size; }
