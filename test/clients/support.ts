/**
 * Shared helpers for the real-client tests (nextcloudcmd, rclone, cadaver): binaries, child
 * processes, local trees, request recording and the "no plaintext under the data dir" check.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { encryptionSkipReason, enableEncryption } from '../support/encryption-enabler.ts';

export const IN_CI = process.env.CI === 'true';
export const ROOT = new URL('../..', import.meta.url).pathname;

/** True when `bin` is on PATH. */
export function hasBinary(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Skip option for a describe(): false when the client exists; a message when it is missing outside CI.
 * Under CI=true a missing binary is not skipped (the test then fails in `requireBinary`).
 */
export function clientSkip(bin: string): string | false {
  if (hasBinary(bin)) return false;
  return IN_CI ? false : `${bin} is not installed (install it, or run under CI=true to make this a failure)`;
}

/** @throws Error when the binary is missing (CI). */
export function requireBinary(bin: string): void {
  if (!hasBinary(bin)) throw new Error(`${bin} is not installed but CI=true requires it`);
}

export type Variant = 'plain' | 'encrypted';
export const VARIANTS: readonly Variant[] = ['plain', 'encrypted'];

/** Skip message for the encrypted variant while the encryption module is missing; false otherwise. */
export async function variantSkip(variant: Variant): Promise<string | false> {
  if (variant === 'plain') return false;
  const why = await encryptionSkipReason();
  return why ?? false;
}

export interface RecordedRequest { method: string; url: string; status?: number }

export interface ClientInstance extends TestInstance {
  readonly variant: Variant;
  /** Every request the server received since the last `clearRequests()`. */
  readonly requests: RecordedRequest[];
  clearRequests(): void;
}

/**
 * Starts a test instance (encryption enabled for 'encrypted') that records every request line;
 * with `workers`, served by `./occ serve --workers N` (requests read from the workers' logs).
 */
export async function startClientInstance(variant: Variant, opts: { workers?: number } = {}): Promise<ClientInstance> {
  const inst = await startTestInstance({ workers: opts.workers });
  try {
    if (variant === 'encrypted') await enableEncryption(inst);
  } catch (err) {
    await inst.stop();
    throw err;
  }
  if (inst.workers) {
    const w = inst.workers;
    let since = 0;
    // a live view (Object.assign would copy a getter's value once)
    Object.defineProperty(inst, 'requests', { get: (): RecordedRequest[] => w.requests().slice(since) });
    return Object.assign(inst as TestInstance & { requests: RecordedRequest[] }, {
      variant,
      clearRequests() { since = w.requests().length; },
    });
  }
  const requests: RecordedRequest[] = [];
  inst.server.server.on('request', (req: IncomingMessage, res) => {
    const r: RecordedRequest = { method: req.method ?? '?', url: req.url ?? '' };
    requests.push(r);
    res.on('finish', () => { r.status = res.statusCode; });
  });
  return Object.assign(inst, {
    variant, requests,
    clearRequests() { requests.length = 0; },
  });
}

export interface RunResult { code: number | null; stdout: string; stderr: string; ms: number }

/**
 * Runs a command with a timeout, capturing output; never throws for a non-zero exit.
 * @throws Error when the binary cannot be started.
 */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { stderr += `\n[killed after ${opts.timeoutMs} ms]`; child.kill('SIGKILL'); }, opts.timeoutMs ?? 120_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - started }); });
    child.stdin.on('error', () => {}); // the client may exit before reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Formats a failed run for an assertion message (last lines only). */
export function describeRun(r: RunResult, lines = 40): string {
  const tail = (s: string) => s.split('\n').slice(-lines).join('\n');
  return `exit ${r.code} after ${r.ms} ms\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`;
}

/** A deterministic pseudo-random buffer (fast; not crypto) with an optional marker embedded. */
export function contentFor(seed: string, size: number, marker?: string): Buffer {
  const buf = Buffer.alloc(size);
  let x = createHash('sha1').update(seed).digest().readUInt32LE(0) || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  if (marker && size >= marker.length) buf.write(marker, Math.floor((size - marker.length) / 2));
  return buf;
}

/** Writes a file, creating parents. */
export function writeFileP(path: string, data: Buffer | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

export interface TreeEntry { size: number; sha1: string; mtimeMs: number }

/** SHA-1 of a file, streamed. */
export async function sha1File(path: string): Promise<string> {
  const h = createHash('sha1');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Every regular file below `dir` as relpath (NFC, '/'-separated) → size + sha1; skips names matched by `skip`.
 * Names that collide after NFC get a ' [duplicate after NFC]' suffix so comparisons see them.
 */
export async function snapshotTree(dir: string, skip: (name: string) => boolean = () => false): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (skip(name)) continue;
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) {
        // two local names that are equal after NFC (an NFD and an NFC twin) stay visible as a duplicate
        let key = relative(dir, p).normalize('NFC');
        while (out.has(key)) key += ' [duplicate after NFC]';
        out.set(key, { size: st.size, sha1: await sha1File(p), mtimeMs: st.mtimeMs });
      }
    }
  };
  await walk(dir);
  return out;
}

/** Every folder below `dir` (relpaths, NFC). */
export function listFolders(dir: string, skip: (name: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (skip(name)) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) { out.push(relative(dir, p).normalize('NFC')); walk(p); }
    }
  };
  walk(dir);
  return out;
}

/** Compares two snapshots; returns human-readable differences (empty when equal). */
export function diffTrees(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>): string[] {
  const diffs: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) diffs.push(`missing on B: ${k}`);
    else if (w.sha1 !== v.sha1 || w.size !== v.size) diffs.push(`content differs: ${k} (${v.size} vs ${w.size})`);
  }
  for (const k of b.keys()) if (!a.has(k)) diffs.push(`extra on B: ${k}`);
  return diffs;
}

/** Every path below `root` (relative, files and folders). */
export function allPaths(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      out.push(relative(root, p));
      let st;
      try { st = statSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** Files below `root` whose bytes contain `marker` (streamed, boundary-safe). */
export async function filesContaining(root: string, marker: string): Promise<string[]> {
  const needle = Buffer.from(marker);
  const hits: string[] = [];
  for (const rel of allPaths(root)) {
    const p = join(root, rel);
    // Never open the SQLite files: closing any descriptor of them drops this process's POSIX
    // locks, and the in-process server would then read stale data.
    if (/(^|\/)coffer\.db/.test(rel)) continue;
    let st;
    try { st = statSync(p); } catch { continue; }
    if (!st.isFile()) continue;
    let carry = Buffer.alloc(0);
    try {
      for await (const c of createReadStream(p)) {
        const buf = Buffer.concat([carry, c as Buffer]);
        if (buf.includes(needle)) { hits.push(rel); break; }
        carry = buf.subarray(Math.max(0, buf.length - needle.length + 1));
      }
    } catch { /* a file removed while scanning */ }
  }
  return hits;
}

/**
 * The encrypted-instance invariant: no file under the data dir holds `marker`, and no path under it
 * contains any of `names` (file and folder names of the synced tree). The SQLite database is the
 * only place names may live, and it is checked for the marker like every other file.
 * @returns problems found (empty when clean).
 */
export async function plaintextLeaks(dataDir: string, marker: string, names: Iterable<string>): Promise<string[]> {
  const problems = (await filesContaining(dataDir, marker)).map((p) => `plaintext marker found in ${p}`);
  const paths = allPaths(dataDir).map((p) => p.normalize('NFC'));
  for (const n of new Set(names)) {
    const name = n.normalize('NFC');
    if (name.length < 3) continue;
    const hit = paths.find((p) => p.split('/').some((seg) => seg.includes(name)));
    if (hit) problems.push(`file name ${JSON.stringify(name)} appears in data-dir path ${hit}`);
  }
  return problems;
}

export interface DavEntry { path: string; dir: boolean }

/** PROPFIND through the instance's fetch; returns the entries (paths decoded, relative to the user root, NFC). */
export async function davList(inst: TestInstance, uid: string, path: string, depth: '0' | '1' = '1'): Promise<DavEntry[]> {
  const base = `/remote.php/dav/files/${encodeURIComponent(uid)}/`;
  const url = base + path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  const res = await inst.fetch(url, {
    method: 'PROPFIND', headers: { Depth: depth, 'Content-Type': 'application/xml' },
    body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>',
  });
  if (res.status !== 207) throw new Error(`PROPFIND ${url} → ${res.status}: ${(await res.text()).slice(0, 500)}`);
  const xml = await res.text();
  const out: DavEntry[] = [];
  for (const m of xml.matchAll(/<(?:[\w-]+:)?response\b[\s\S]*?<\/(?:[\w-]+:)?response>/g)) {
    const href = /<(?:[\w-]+:)?href>([^<]*)</.exec(m[0])?.[1] ?? '';
    const p = decodeURIComponent(href.replace(/^https?:\/\/[^/]+/, '')).slice(base.length).replace(/\/$/, '').normalize('NFC');
    out.push({ path: p, dir: /<(?:[\w-]+:)?collection\s*\/>/.test(m[0]) });
  }
  return out;
}

/** Recursive listing through Depth-1 PROPFINDs: every file and folder below `path` (relative paths). */
export async function davWalk(inst: TestInstance, uid: string, path = ''): Promise<DavEntry[]> {
  const out: DavEntry[] = [];
  for (const e of await davList(inst, uid, path)) {
    if (e.path === path) continue;
    out.push(e);
    if (e.dir) out.push(...await davWalk(inst, uid, e.path));
  }
  return out;
}

/**
 * The data-dir check of a client test. Encrypted: no marker, no name in any path, and the server
 * counts encrypted files. Plain (the control that proves the scanner works): the marker is found.
 * @returns a failure description, or undefined when the check holds.
 */
export async function dataDirCheck(inst: ClientInstance, marker: string, names: Iterable<string>): Promise<string | undefined> {
  const leaks = await plaintextLeaks(inst.dataDir, marker, names);
  if (inst.variant === 'plain') {
    return leaks.some((l) => l.startsWith('plaintext marker')) ? undefined : 'control failed: the marker was not found under a plain data dir (scanner broken?)';
  }
  if (leaks.length > 0) return leaks.join('\n');
  const enc = (inst.app as unknown as { encryption?: { countEncrypted?(): Promise<number> } }).encryption;
  if (enc?.countEncrypted && (await enc.countEncrypted()) === 0) return 'no file is stored encrypted (countEncrypted() = 0)';
  return undefined;
}
