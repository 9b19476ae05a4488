/**
 * Bodies of Nextcloud's bulk upload (`POST /remote.php/dav/bulk`, a `multipart/related` body) as
 * the desktop client frames them (PutMultiFileJob / QHttpMultiPart), and the request itself.
 */
import { createHash } from 'node:crypto';
import type { TestInstance } from './test-instance.ts';

export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

/** One file of a bulk upload; `md5`, `length` and `headers` override what the client would send. */
export interface BulkFile { path: string; content: Buffer | string; mtime?: number; md5?: string; headers?: Record<string, string>; length?: number }

export const BOUNDARY = 'boundary_bf38b9b4b10a303a28ed075624db3978';

/** One part as the desktop client frames it. */
export function partBytes(f: BulkFile): Buffer {
  const body = Buffer.from(f.content);
  const h: Record<string, string> = {
    'Content-Length': String(f.length ?? body.length), 'Content-Type': 'application/octet-stream',
    'X-File-MD5': f.md5 ?? md5(body), 'X-File-Mtime': String(f.mtime ?? 1_700_000_000), 'X-File-Path': f.path, ...f.headers,
  };
  const head = Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return Buffer.concat([Buffer.from(`--${BOUNDARY}\r\n${head}\r\n`), body, Buffer.from('\r\n')]);
}

export function bulkBody(files: BulkFile[]): Buffer {
  return Buffer.concat([...files.map(partBytes), Buffer.from(`--${BOUNDARY}--\r\n`)]);
}

export interface BulkAnswer { status: number; json: Record<string, { error: boolean; message?: string; etag?: string; fileid?: string; permissions?: string }> }

/** Posts `body` to the bulk endpoint (as the admin unless `as`); the JSON answer when there is one. */
export async function bulk(t: TestInstance, body: Buffer, opts: { as?: { uid: string; password: string }; headers?: Record<string, string> } = {}): Promise<BulkAnswer> {
  const r = await t.fetch('/remote.php/dav/bulk', {
    method: 'POST', as: opts.as, body: body as never,
    headers: { 'Content-Type': `multipart/related; boundary="${BOUNDARY}"`, ...opts.headers },
  });
  const text = await r.text();
  return { status: r.status, json: r.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : {} };
}
