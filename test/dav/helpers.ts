/**
 * Raw HTTP helpers for the DAV tests: node:http (the path goes out exactly as written, unlike
 * fetch(), which normalises `..` and `%2e%2e`), and a raw socket for bytes http.request refuses.
 */
import http from 'node:http';
import net from 'node:net';
import { ADMIN, type TestInstance } from '../support/test-instance.ts';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface RawOptions {
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  as?: { uid: string; password: string } | null;
}

/** Sends one request with the path as given (no normalisation). */
export function dav(t: TestInstance, method: string, path: string, opts: RawOptions = {}): Promise<RawResponse> {
  const u = new URL(t.url);
  const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
  const as = opts.as === undefined ? ADMIN : opts.as;
  if (as) headers.authorization = t.basic(as.uid, as.password);
  if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes on a socket and returns the status code of the answer (0 when the server closed without one). */
export function rawStatus(t: TestInstance, requestBytes: Buffer): Promise<number> {
  const u = new URL(t.url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.end(requestBytes));
    let data = '';
    s.on('data', (c) => { data += c.toString('latin1'); });
    s.on('error', reject);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    });
  });
}

export const FILES = '/remote.php/dav/files/admin';

/** All `<d:href>` values of a multistatus body. */
export function hrefs(xml: string): string[] {
  return [...xml.matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => m[1]!);
}

/** A snapshot of a user's whole tree (path, kind, size, etag) for "nothing changed" checks. */
export async function treeSnapshot(t: TestInstance, uid = 'admin'): Promise<string> {
  const out: string[] = [];
  for await (const n of t.app.files.walk(uid, '', Infinity)) out.push(`${n.path}|${n.kind}|${n.size}|${n.etag}`);
  return out.sort().join('\n');
}

export const PROPFIND_ALL_CLIENT = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"><d:prop>
<d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/><oc:size/><oc:id/><oc:fileid/><oc:downloadURL/>
<oc:dDC/><oc:permissions/><oc:checksums/><oc:data-fingerprint/><oc:share-types/></d:prop></d:propfind>`;

/** A PROPFIND body asking for the given `prefix:name` properties (d, oc, nc and x="urn:x" declared). */
export function propfindBody(...props: string[]): string {
  return `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns" xmlns:x="urn:x"><d:prop>${props.map((p) => `<${p}/>`).join('')}</d:prop></d:propfind>`;
}
