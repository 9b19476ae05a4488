/**
 * A user's history for the encryption tests of versions and the trash bin: a live file with
 * versions, a trashed file with versions and a trashed folder with nested files (one of them with a
 * version), made over WebDAV with marked content and distinctive names. The fixture tracks what
 * every live file, version and trash item must read as; `checkHistory` reads all of it back over
 * DAV (files, versions and trashbin endpoints, sha256) and `restoreVersion` / `restoreTrash` restore
 * over DAV and update what is expected. Over DAV only, so any server will do: an in-process test
 * instance or `./occ serve` processes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Creds } from '../sharing/helpers.ts';
import { call, FILES, prop, propfind, responses, sha256, TRASH, VERSIONS, type DavServer } from './helpers.ts';

/** A file as expected: its id, content, mtime (a version's id is the mtime its content had) and versions. */
export interface ExpectedFile {
  fileId: number;
  body: Buffer;
  mtime: number;
  versions: Map<number, Buffer>;
}

export interface HistoryFixture {
  readonly as: Creds;
  readonly marker: string;
  /** Every file and folder name the fixture made (none may show in a blob, a key file or a path on disk). */
  readonly names: string[];
  /** Live files by path. */
  readonly files: Map<string, ExpectedFile>;
  /** Trash items by original location: their files by path inside the item ('' for a trashed file). */
  readonly trash: Map<string, Map<string, ExpectedFile>>;
}

// Versions are named by the mtime their content had. Mtimes a day ahead, 100 s apart: a server's
// retention job keeps them (the automatic thinning keeps one every 2 s of the future).
let clock = Math.floor(Date.now() / 1000) + 86_400;
const nextMtime = () => (clock += 100);

const url = (as: Creds, path: string) => `${FILES(as)}/${path.split('/').map(encodeURIComponent).join('/')}`;

/** `size` random bytes with the marker at the start, every 4 KiB and at the end. */
export function marked(marker: string, size: number): Buffer {
  const b = randomBytes(size);
  for (let o = 0; o + marker.length <= size; o += 4096) b.write(marker, o, 'latin1');
  if (size >= marker.length) b.write(marker, size - marker.length, 'latin1');
  return b;
}

async function put(t: DavServer, as: Creds, path: string, body: Buffer, mtime: number): Promise<void> {
  const r = await call(t, as, 'PUT', url(as, path), { body, headers: { 'X-OC-Mtime': String(mtime) } });
  assert.ok(r.status === 201 || r.status === 204, `PUT ${path}: ${r.status} ${r.text}`);
}

/** PUTs each content in turn over `path` (the earlier ones become versions) and answers what it must read as. */
async function putHistory(t: DavServer, as: Creds, path: string, bodies: Buffer[]): Promise<ExpectedFile> {
  const f: ExpectedFile = { fileId: 0, body: Buffer.alloc(0), mtime: 0, versions: new Map() };
  for (const b of bodies) {
    if (f.mtime) f.versions.set(f.mtime, f.body);
    f.mtime = nextMtime();
    f.body = b;
    await put(t, as, path, b, f.mtime);
  }
  f.fileId = await fileIdOf(t, as, path);
  return f;
}

/** The file id of `path` (PROPFIND oc:fileid). */
export async function fileIdOf(t: DavServer, as: Creds, path: string): Promise<number> {
  const r = await propfind(t, as, url(as, path), ['oc:fileid'], '0');
  assert.equal(r.status, 207, `PROPFIND ${path}: ${r.text}`);
  return Number(prop(responses(r.text)[0]!.xml, 'oc:fileid'));
}

/**
 * Makes `tag`'s history for `as` (names carry `tag`, so several fixtures live side by side):
 * `<tag>-ledger.txt` (live, 2 versions), `<tag>-minutes.txt` (trashed, 2 versions), the folder
 * `<tag>-Archive` with `budget.bin` and `drafts/memo.txt` (1 version) (trashed).
 */
export async function makeHistory(t: DavServer, as: Creds, tag: string, marker = `HISTORY-MARKER-${tag}-${randomBytes(4).toString('hex')}`): Promise<HistoryFixture> {
  const live = `${tag}-ledger.txt`, gone = `${tag}-minutes.txt`, dir = `${tag}-Archive`;
  const fx: HistoryFixture = { as, marker, names: [live, gone, dir, 'budget.bin', 'drafts', 'memo.txt'], files: new Map(), trash: new Map() };
  // sizes around one and a few 64 KiB chunks, and small ones
  fx.files.set(live, await putHistory(t, as, live, [marked(marker, 150_000), marked(marker, 65_536), marked(marker, 3000)]));
  const minutes = await putHistory(t, as, gone, [marked(marker, 70_000), marked(marker, 200), marked(marker, 131_073)]);
  assert.equal((await call(t, as, 'MKCOL', url(as, dir))).status, 201);
  assert.equal((await call(t, as, 'MKCOL', url(as, `${dir}/drafts`))).status, 201);
  const budget = await putHistory(t, as, `${dir}/budget.bin`, [marked(marker, 100_000)]);
  const memo = await putHistory(t, as, `${dir}/drafts/memo.txt`, [marked(marker, 5000), marked(marker, 66_000)]);
  for (const p of [gone, dir]) assert.equal((await call(t, as, 'DELETE', url(as, p))).status, 204, `DELETE ${p}`);
  fx.trash.set(gone, new Map([['', minutes]]));
  fx.trash.set(dir, new Map([['budget.bin', budget], ['drafts/memo.txt', memo]]));
  return fx;
}

/** The trashbin href of the item deleted from `location` (exactly one). */
export async function trashHref(t: DavServer, as: Creds, location: string): Promise<string> {
  const list = await propfind(t, as, `${TRASH(as)}/trash`, ['nc:trashbin-original-location']);
  assert.equal(list.status, 207, list.text);
  const hits = responses(list.text).slice(1).filter((r) => prop(r.xml, 'nc:trashbin-original-location') === location);
  assert.equal(hits.length, 1, `trash items from ${location}: ${hits.map((h) => h.href).join(', ')}`);
  return hits[0]!.href.replace(/\/$/, '');
}

/** GET of `path`: status 200 and the expected bytes. */
async function expectBody(t: DavServer, as: Creds, path: string, body: Buffer, what: string): Promise<void> {
  const r = await call(t, as, 'GET', path);
  assert.equal(r.status, 200, `${what}: GET ${path} ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(sha256(r.body), sha256(body), `${what}: content of ${path}`);
}

/** Every live file, each of its versions (listed and downloaded) and every file in the trash read back as expected. */
export async function checkHistory(t: DavServer, fx: HistoryFixture, label: string): Promise<void> {
  const { as } = fx;
  for (const [path, f] of fx.files) {
    await expectBody(t, as, url(as, path), f.body, `${label}: ${path}`);
    const base = `${VERSIONS(as)}/versions/${f.fileId}`;
    const list = await propfind(t, as, base, ['d:getcontentlength']);
    assert.equal(list.status, 207, `${label}: versions of ${path}: ${list.text}`);
    const listed = responses(list.text).slice(1).map((r) => Number(r.href.split('/').pop()));
    assert.deepEqual(listed.sort(), [...f.versions.keys()].sort(), `${label}: versions of ${path}`);
    for (const [v, body] of f.versions) await expectBody(t, as, `${base}/${v}`, body, `${label}: ${path} version ${v}`);
  }
  for (const [location, members] of fx.trash) {
    const href = await trashHref(t, as, location);
    for (const [rel, f] of members) await expectBody(t, as, rel === '' ? href : `${href}/${rel}`, f.body, `${label}: trashed ${location}/${rel}`);
  }
}

/** Restores the oldest version of live file `path` over DAV: the current content becomes a version. */
export async function restoreVersion(t: DavServer, fx: HistoryFixture, path: string): Promise<void> {
  const f = fx.files.get(path)!;
  const v = Math.min(...f.versions.keys());
  const r = await call(t, fx.as, 'MOVE', `${VERSIONS(fx.as)}/versions/${f.fileId}/${v}`, { headers: { Destination: `${t.url}${VERSIONS(fx.as)}/restore/target` } });
  assert.equal(r.status, 201, `restore version ${v} of ${path}: ${r.text}`);
  const body = f.versions.get(v)!;
  f.versions.delete(v);
  f.versions.set(f.mtime, f.body);
  f.body = body;
  f.mtime = v;
  assert.equal(await fileIdOf(t, fx.as, path), f.fileId, 'a restore keeps the file id');
}

/** Restores the trash item deleted from `location` over DAV: its files (same ids) and their versions are live again. */
export async function restoreTrash(t: DavServer, fx: HistoryFixture, location: string): Promise<void> {
  const href = await trashHref(t, fx.as, location);
  const r = await call(t, fx.as, 'MOVE', href, { headers: { Destination: `${TRASH(fx.as)}/restore/${encodeURIComponent(location)}` } });
  assert.equal(r.status, 201, `restore ${location}: ${r.text}`);
  for (const [rel, f] of fx.trash.get(location)!) {
    const path = rel === '' ? location : `${location}/${rel}`;
    assert.equal(await fileIdOf(t, fx.as, path), f.fileId, `${path} keeps its file id`);
    fx.files.set(path, f);
  }
  fx.trash.delete(location);
}
