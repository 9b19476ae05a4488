/** Shared helpers of the reliability tests: raw HTTP with keep-alive, tree snapshots, hashing. */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { App } from '../../src/app.ts';
import { userActor } from '../../src/actor.ts';

export interface Creds { uid: string; password: string }
export interface Resp { status: number; headers: http.IncomingHttpHeaders; body: Buffer; text: string }

export function basic(c: Creds): string {
  return 'Basic ' + Buffer.from(`${c.uid}:${c.password}`).toString('base64');
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * One request with the path sent exactly as given. `body` may be a Buffer/string or an async
 * iterable (streamed, chunked). `agent` keeps connections alive across calls when given.
 */
export function request(baseUrl: string, method: string, path: string, opts: {
  as?: Creds | null; headers?: Record<string, string | number>; body?: string | Buffer | AsyncIterable<Buffer>;
  agent?: http.Agent | false; timeoutMs?: number;
} = {}): Promise<Resp> {
  const u = new URL(baseUrl);
  const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
  if (opts.as) headers.authorization = basic(opts.as);
  const b = opts.body;
  if (typeof b === 'string' || Buffer.isBuffer(b)) headers['content-length'] = Buffer.byteLength(b);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`timeout ${method} ${path}`)));
    if (b === undefined || typeof b === 'string' || Buffer.isBuffer(b)) { req.end(b); return; }
    void (async () => {
      try {
        for await (const c of b) if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        req.end();
      } catch (err) { req.destroy(err as Error); }
    })();
  });
}

/** A user's whole tree: path → `d` for folders, sha256 of the content for files. */
export async function snapshotTree(app: App, uid: string, skipFolders: string[] = []): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const n of app.files.walk(uid, '', Infinity)) {
    if (skipFolders.some((f) => n.path.startsWith(f + '/'))) continue;
    if (n.kind === 'dir') { out.set(n.path + '/', `d`); continue; }
    const c = await app.files.openRead(userActor(uid, 'password'), uid, n.path);
    const chunks: Buffer[] = [];
    for await (const x of c.stream) chunks.push(x as Buffer);
    out.set(n.path, sha256(Buffer.concat(chunks)));
  }
  return out;
}

/** Every blob id in the raw store vs the rows: returns blobs no row references. */
export async function unreferencedBlobs(app: App): Promise<string[]> {
  const live = new Set<string>();
  for (const r of await app.db.selectFrom('nodes').select('blob_id').where('blob_id', 'is not', null).execute()) live.add(r.blob_id!);
  for (const r of await app.db.selectFrom('upload_chunks').select('blob_id').execute()) live.add(r.blob_id);
  // versions and trashed files hold their blobs too (issue #15)
  for (const r of await app.db.selectFrom('file_versions').select('blob_id').execute()) live.add(r.blob_id);
  for (const r of await app.db.selectFrom('trash_nodes').select('blob_id').where('blob_id', 'is not', null).execute()) live.add(r.blob_id!);
  const out: string[] = [];
  for await (const b of app.rawBlobs.list()) if (!live.has(b.blobId)) out.push(b.blobId);
  return out;
}

/** Deterministic pseudo-random bytes (fast; content identity is what matters). */
export function pattern(seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i <= size - 4 ? i : 0);
  }
  if (size % 4) for (let i = size - (size % 4); i < size; i++) b[i] = (x >>> (8 * (i % 4))) & 0xff;
  return b;
}
