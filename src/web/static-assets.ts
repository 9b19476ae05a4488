import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpContext } from '../http/context.ts';
import { setSecurityHeaders } from './web-http.ts';

/** Where `vite build` puts the web UI (`web/dist`); COFFER_WEB_DIST overrides it. */
export const WEB_DIST = resolve(process.env.COFFER_WEB_DIST ?? fileURLToPath(new URL('../../web/dist/', import.meta.url)));

/** URL prefix of the built assets (Vite's `base`). */
export const ASSET_PREFIX = '/web/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8', '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8', '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * Sends one file of the build directory with its content type; hashed files under `assets/` are
 * cached for a year (immutable), everything else revalidates (or `cacheControl` when given: every
 * header must be set here, before the body goes out). False when there is no such file.
 */
export async function sendDistFile(req: IncomingMessage, res: ServerResponse, rel: string, opts: { cacheControl?: string } = {}): Promise<boolean> {
  let decoded: string;
  try { decoded = decodeURIComponent(rel); } catch { return false; }
  if (decoded.includes('\0') || decoded.split('/').some((s) => s === '..' || s === '.')) return false;
  const file = resolve(join(WEB_DIST, decoded));
  if (!file.startsWith(WEB_DIST + sep)) return false;
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) return false;
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  setSecurityHeaders(res);
  res.setHeader('Content-Type', TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', opts.cacheControl ?? (decoded.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'));
  res.setHeader('ETag', etag);
  if (req.headers['if-none-match'] === etag) { res.statusCode = 304; res.end(); return true; }
  res.setHeader('Content-Length', st.size);
  res.statusCode = 200;
  if (req.method === 'HEAD') { res.end(); return true; }
  await new Promise<void>((ok, fail) => {
    const s = createReadStream(file);
    s.on('error', fail);
    res.on('close', () => { s.destroy(); ok(); });
    s.pipe(res).on('finish', ok);
  });
  return true;
}

/** `GET /web/<file>`: the built assets. */
export async function handleAsset(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') { res.statusCode = 405; res.setHeader('Allow', 'GET, HEAD'); res.end(); return; }
  if (await sendDistFile(req, res, ctx.rawPath.slice(ASSET_PREFIX.length))) return;
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end('Not Found\n');
}
