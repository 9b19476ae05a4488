import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { ALICE, BOB, type Creds } from '../sharing/helpers.ts';

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Where the local blob store keeps a blob (src/storage/local-blob-store.ts layout). */
export function blobFile(t: TestInstance, blobId: string): string {
  return join(t.dataDir, 'blobs', blobId.slice(0, 2), blobId.slice(2, 4), blobId);
}

/** Every blob id in the local store. */
export function blobIds(t: TestInstance): string[] {
  const root = join(t.dataDir, 'blobs');
  const out: string[] = [];
  if (!existsSync(root)) return out;
  for (const a of readdirSync(root)) {
    if (a.length !== 2) continue;
    for (const b of readdirSync(join(root, a))) for (const id of readdirSync(join(root, a, b))) out.push(id);
  }
  return out.sort();
}

export const FILES = (c: Creds) => `/remote.php/dav/files/${c.uid}`;
export const VERSIONS = (c: Creds) => `/remote.php/dav/versions/${c.uid}`;
export const TRASH = (c: Creds) => `/remote.php/dav/trashbin/${c.uid}`;

/** What the DAV helpers need of a server: an in-process test instance or a `./occ serve` process. */
export type DavServer = Pick<TestInstance, 'fetch' | 'url'>;

/** A raw DAV call as `as`; answers status, headers and body. */
export async function call(t: DavServer, as: Creds, method: string, path: string, init: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; body: Buffer; text: string }> {
  const res = await t.fetch(path, { method, as, headers: init.headers, body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : new Uint8Array(init.body) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

/** A WebDAV PUT of `path` in `as`'s view (asserting 201/204), with an X-OC-Mtime when given. */
export async function put(t: TestInstance, as: Creds, path: string, body: string | Buffer, mtime?: number) {
  const r = await call(t, as, 'PUT', `${FILES(as)}/${path}`, { body, headers: mtime ? { 'X-OC-Mtime': String(mtime) } : {} });
  assert.ok(r.status === 201 || r.status === 204, `PUT ${path}: ${r.status} ${r.text}`);
  return r;
}

/** PROPFIND with the given `prefix:name` props (d, oc, nc declared). */
export function propfind(t: DavServer, as: Creds, path: string, props: string[], depth = '1') {
  const body = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"><d:prop>${props.map((p) => `<${p}/>`).join('')}</d:prop></d:propfind>`;
  return call(t, as, 'PROPFIND', path, { body, headers: { Depth: depth, 'Content-Type': 'application/xml' } });
}

/** The `<d:response>` blocks of a multistatus: href and the raw block. */
export function responses(xml: string): { href: string; xml: string }[] {
  return [...xml.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)].map((m) => ({ href: /<d:href>([^<]*)<\/d:href>/.exec(m[1]!)![1]!, xml: m[1]! }));
}

/** The text of `<prefix:name>` in a block (undefined when absent or in a 404 propstat). */
export function prop(block: string, name: string): string | undefined {
  const ok = block.split('<d:propstat>').find((p) => p.includes('200 OK') && (p.includes(`<${name}>`) || p.includes(`<${name}/>`)));
  if (!ok) return undefined;
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(ok);
  return m ? m[1] : '';
}

/** The text an XML text node stands for (its five predefined entities decoded). */
export function xmlText(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}


export type Mode = 'plain' | 'master' | 'per-user';

/**
 * An instance in `mode` with alice and bob logged in once (per-user mode: their key pairs). The
 * key policy is chosen when the app opens: per-user mode is switched on, then the app restarted,
 * and the mode it runs in is checked (so a test meant for per-user keys cannot run in another).
 */
export async function historyInstance(mode: Mode, db: 'sqlite' | 'pgsql' = 'sqlite'): Promise<TestInstance> {
  const t = await startTestInstance({ db });
  if (mode !== 'plain') await enableEncryption(t);
  if (mode === 'per-user') {
    await t.app.userKeys.setPerUserMode(true, 0);
    await t.restart();
  }
  assert.equal(t.app.keyPolicy.mode, mode === 'per-user' ? 'per-user' : 'master-key', 'the key policy the app opened with');
  for (const u of [ALICE, BOB]) {
    await t.addUser(u.uid, u.password);
    assert.equal((await call(t, u, 'PROPFIND', FILES(u), { headers: { Depth: '0' } })).status, 207);
  }
  return t;
}
