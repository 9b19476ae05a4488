/**
 * Checks, over Coffer's versions and trashbin DAV endpoints, that an imported fixture's versions
 * and trash items read back as the manifest says (sha256, author, original location, deletion
 * time, file ids), then restores every trash item and reads it (and its versions) at its old place.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Unpacked } from './nc-fixture.ts';
import { basic } from './nc-fixture.ts';

/** What the checks read of manifest.json's versions[] and trash[]. */
export interface HistoryManifest {
  versions: { owner: string; path: string; fileid: number; version_timestamp: number; size: number; sha256: string; physical_path: string; oc_files_versions: { metadata: string } }[];
  trash: {
    owner: string; original_path: string; location: string; name: string; deleted_at: number; trash_name: string; trash_fileid: number; physical_path: string;
    kind: 'file' | 'folder'; size?: number; sha256?: string;
    children?: { path: string; original_path: string; size: number; sha256: string; fileid: number }[];
    versions?: { version_timestamp: number; size: number; sha256: string }[];
  }[];
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const seg = (p: string) => p.split('/').map(encodeURIComponent).join('/');

async function dav(url: string, uid: string, password: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const r = await fetch(`${url}${path}`, { method, headers: { authorization: basic(uid, password), ...headers }, body });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

const PROPS = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"><d:prop>'
  + '<d:getcontentlength/><nc:version-author/><nc:version-label/><nc:trashbin-filename/><nc:trashbin-original-location/><nc:trashbin-deletion-time/>'
  + '<nc:trashbin-deleted-by-id/><oc:fileid/><oc:size/></d:prop></d:propfind>';

/** The responses of a PROPFIND (Depth 1): decoded href → its props. */
async function list(url: string, uid: string, password: string, path: string): Promise<Map<string, (name: string) => string | undefined>> {
  const r = await dav(url, uid, password, 'PROPFIND', path, { depth: '1', 'content-type': 'application/xml' }, PROPS);
  assert.equal(r.status, 207, `PROPFIND ${path}: ${r.status} ${r.body.toString()}`);
  const out = new Map<string, (name: string) => string | undefined>();
  for (const m of r.body.toString('utf8').matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)) {
    const block = m[1]!;
    const href = decodeURIComponent(/<d:href>([^<]*)<\/d:href>/.exec(block)![1]!).replace(/\/$/, '');
    const ok = block.split('<d:propstat>').filter((p) => p.includes('200 OK')).join('');
    out.set(href, (name) => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(ok)?.[1] ?? (ok.includes(`<${name}/>`) ? '' : undefined));
  }
  return out;
}

/** Every version and trash item of the manifest reads back by its owner; then every trash item is restored and read again. */
export async function checkImportedHistory(url: string, nc: Unpacked): Promise<void> {
  const m = nc.manifest as unknown as HistoryManifest;
  const pw = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)?.password ?? nc.manifest.admin.password;
  assert.ok(m.versions.length > 0 && m.trash.length > 0, 'the fixture has versions and trash');

  for (const v of m.versions) {
    const base = `/remote.php/dav/versions/${encodeURIComponent(v.owner)}/versions/${v.fileid}`;
    const l = await list(url, v.owner, pw(v.owner), base);
    const p = l.get(`${base}/${v.version_timestamp}`);
    assert.ok(p, `version ${v.version_timestamp} of ${v.path} listed`);
    assert.equal(p('d:getcontentlength'), String(v.size));
    assert.equal(p('nc:version-author'), (JSON.parse(v.oc_files_versions.metadata) as { author?: string }).author ?? '');
    const g = await dav(url, v.owner, pw(v.owner), 'GET', `${base}/${v.version_timestamp}`);
    assert.equal(g.status, 200, `GET version ${v.version_timestamp} of ${v.path}`);
    assert.equal(sha(g.body), v.sha256, `version ${v.version_timestamp} of ${v.path}`);
  }

  // restore the oldest version: it becomes the file's content, the file keeps its id
  const v0 = [...m.versions].sort((a, b) => a.version_timestamp - b.version_timestamp)[0]!;
  const rv = await dav(url, v0.owner, pw(v0.owner), 'MOVE', `/remote.php/dav/versions/${encodeURIComponent(v0.owner)}/versions/${v0.fileid}/${v0.version_timestamp}`,
    { destination: `${url}/remote.php/dav/versions/${encodeURIComponent(v0.owner)}/restore/target` });
  assert.equal(rv.status, 201, `restore version: ${rv.body.toString()}`);
  const cur = await dav(url, v0.owner, pw(v0.owner), 'GET', `/remote.php/dav/files/${encodeURIComponent(v0.owner)}/${seg(v0.path)}`);
  assert.equal(sha(cur.body), v0.sha256, 'the restored version is the current content');

  for (const t of m.trash) {
    const home = `/remote.php/dav/trashbin/${encodeURIComponent(t.owner)}/trash`;
    const l = await list(url, t.owner, pw(t.owner), home);
    const p = l.get(`${home}/${t.trash_name}`);
    assert.ok(p, `${t.trash_name} in ${t.owner}'s trash`);
    assert.equal(p('nc:trashbin-filename'), t.name);
    assert.equal(p('nc:trashbin-original-location'), t.original_path);
    assert.equal(p('nc:trashbin-deletion-time'), String(t.deleted_at));
    assert.equal(p('oc:fileid'), String(t.trash_fileid));
    const files = t.kind === 'file' ? [{ rel: '', original: t.original_path, sha256: t.sha256!, size: t.size! }]
      : (t.children ?? []).map((c) => ({ rel: c.path, original: c.original_path, sha256: c.sha256, size: c.size }));
    assert.equal(p('oc:size'), String(files.reduce((a, f) => a + f.size, 0)));
    for (const f of files) {
      const g = await dav(url, t.owner, pw(t.owner), 'GET', `${home}/${seg(t.trash_name)}${f.rel ? `/${seg(f.rel)}` : ''}`);
      assert.equal(g.status, 200, `GET ${t.trash_name}/${f.rel}`);
      assert.equal(sha(g.body), f.sha256, `${t.trash_name}/${f.rel}`);
    }
    // restore: back at its original location, content and versions with it
    const mv = await dav(url, t.owner, pw(t.owner), 'MOVE', `${home}/${seg(t.trash_name)}`,
      { destination: `${url}/remote.php/dav/trashbin/${encodeURIComponent(t.owner)}/restore/${seg(t.trash_name)}` });
    assert.equal(mv.status, 201, `restore ${t.trash_name}: ${mv.body.toString()}`);
    for (const f of files) {
      const g = await dav(url, t.owner, pw(t.owner), 'GET', `/remote.php/dav/files/${encodeURIComponent(t.owner)}/${seg(f.original)}`);
      assert.equal(g.status, 200, `restored ${f.original}`);
      assert.equal(sha(g.body), f.sha256, `restored ${f.original}`);
    }
    for (const v of t.versions ?? []) {
      const g = await dav(url, t.owner, pw(t.owner), 'GET', `/remote.php/dav/versions/${encodeURIComponent(t.owner)}/versions/${t.trash_fileid}/${v.version_timestamp}`);
      assert.equal(g.status, 200, `version ${v.version_timestamp} of restored ${t.original_path}`);
      assert.equal(sha(g.body), v.sha256);
    }
    const after = await list(url, t.owner, pw(t.owner), home);
    assert.equal(after.has(`${home}/${t.trash_name}`), false, `${t.trash_name} left the trash`);
  }
}
