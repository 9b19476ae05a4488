/**
 * Versions and trash of a generated Nextcloud-format history (nc-history-generator.ts, written into
 * a copy of the master-key fixture as Nextcloud 32 lays them out): more of them than the fixture
 * has, sizes on block boundaries, version labels, trash in the root and in subfolders, and a
 * trashed folder with nested and empty subfolders. Every version and trashed file reads back over
 * DAV with its sha256 after `./occ import:nextcloud`; labels and authors are kept; the nested folder
 * browses and restores whole, with its file ids. SIGKILL while versions are written, then while
 * trash items are, then a rerun: each once, every trash item whole.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { createPgDatabase } from '../support/test-instance.ts';
import { basic, installCoffer, propfind, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';
import { generateNcHistory, type GeneratedHistory } from './nc-history-generator.ts';
import type { HistoryManifest } from './nc-history-checks.ts';
import { occKilledWhen } from './nc-kill.ts';

const OWNER = 'carol';
const SIZES = [0, 1, 8095, 8096, 8097, 50_000, 16_192, 24_289];

// Coffer on SQLite, and on PostgreSQL (the version and trash inserts' conflict clauses, the file id reservation)
for (const kind of ['sqlite', 'pgsql'] as const) {
  describe(`import:nextcloud: a generated history (versions with labels, nested trash), Coffer on ${kind}`, { timeout: 600_000 }, () => {
    let nc: Unpacked;
    let coffer: Coffer;
    let srv: Awaited<ReturnType<Coffer['serve']>>;
    let gen: GeneratedHistory;
    let pw: string;
    let pgdb: { name: string; drop(): Promise<void> } | undefined;
    const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
      fetch(`${srv.url}${path}`, { method, headers: { authorization: basic(OWNER, pw), ...headers } });
    const sha = async (r: Response) => createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex');
    const seg = (p: string) => p.split('/').map(encodeURIComponent).join('/');

    before(async () => {
      nc = unpack('master-key');
      pw = nc.manifest.users.find((u) => u.uid === OWNER)!.password;
      const secret = /'secret' => '([^']+)'/.exec(readFileSync(nc.configPhp, 'utf8'))![1]!;
      const masterKeyId = (nc.manifest as unknown as { encryption: { appconfig: Record<string, string> } }).encryption.appconfig.masterKeyId!;
      gen = generateNcHistory(nc.root, { owner: OWNER, secret, masterKeyId, files: 6, versionsPerFile: 4, sizeOf: (i) => SIZES[i % SIZES.length]!, trashFiles: 5, folderFiles: 7 });
      pgdb = kind === 'pgsql' ? await createPgDatabase() : undefined;
      coffer = await installCoffer(pgdb ? { pg: { name: pgdb.name } } : {});
      const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      // the fixture's 4 versions and 2 trash items (3 files), and the generated ones
      assert.match(r.stdout, new RegExp(`versions: ${4 + 6 * 4}, trash items: ${2 + 5 + 1} \\(${3 + 5 + 7} files\\)`));
      srv = await coffer.serve();
    });
    after(async () => {
      await srv?.stop();
      coffer?.cleanup();
      nc?.cleanup();
      await pgdb?.drop();
    });

    test('every version reads back with its sha256, author and label', async () => {
      for (const f of gen.files) {
        const base = `/remote.php/dav/versions/${OWNER}/versions/${f.fileid}`;
        const body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:nc="http://nextcloud.org/ns"><d:prop><nc:version-label/><nc:version-author/><d:getcontentlength/></d:prop></d:propfind>';
        const l = await fetch(`${srv.url}${base}`, { method: 'PROPFIND', headers: { authorization: basic(OWNER, pw), depth: '1', 'content-type': 'application/xml' }, body });
        assert.equal(l.status, 207);
        const list = await l.text();
        for (const v of f.versions) {
          const block = [...list.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)].map((m) => m[1]!).find((b) => b.includes(`${base}/${v.ts}<`));
          assert.ok(block, `version ${v.ts} of ${f.path} listed`);
          assert.match(block, new RegExp(`<nc:version-author>${v.author}</nc:version-author>`));
          assert.match(block, v.label ? new RegExp(`<nc:version-label>${v.label}</nc:version-label>`) : /<nc:version-label(\/>|><\/nc:version-label>)/);
          assert.match(block, new RegExp(`<d:getcontentlength>${v.size}</d:getcontentlength>`));
          const g = await get(`${base}/${v.ts}`);
          assert.equal(g.status, 200, `GET version ${v.ts} of ${f.path}`);
          assert.equal(await sha(g), v.sha256, `version ${v.ts} of ${f.path} (${v.size} bytes)`);
        }
      }
    });

    test('every trashed file reads back; the nested folder browses with its empty subfolder and restores whole', async () => {
      const home = `/remote.php/dav/trashbin/${OWNER}/trash`;
      for (const t of gen.trash) {
        for (const f of t.files) {
          const g = await get(`${home}/${seg(`${t.name}.d${t.deletedAt}`)}${f.rel ? `/${seg(f.rel)}` : ''}`);
          assert.equal(g.status, 200, `${t.name}/${f.rel}`);
          assert.equal(await sha(g), f.sha256, `${t.name}/${f.rel}`);
        }
      }
      const deep = gen.trash.find((t) => t.kind === 'folder')!;
      const item = `${home}/${seg(`${deep.name}.d${deep.deletedAt}`)}`;
      const inside = await (await get(item, { depth: '1' }, 'PROPFIND')).text();
      const hrefs = [...inside.matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => decodeURIComponent(m[1]!).slice(decodeURIComponent(item).length));
      assert.deepEqual(hrefs.sort(), ['/', '/a/', '/empty/']);
      const mv = await get(item, { destination: `${srv.url}/remote.php/dav/trashbin/${OWNER}/restore/x` }, 'MOVE');
      assert.equal(mv.status, 201, await mv.text());
      const at = `${deep.location}/${deep.name}`;
      for (const f of deep.files) {
        const g = await get(`/remote.php/dav/files/${OWNER}/${seg(`${at}/${f.rel}`)}`);
        assert.equal(await sha(g), f.sha256, `restored ${at}/${f.rel}`);
        assert.equal((await propfind(srv.url, OWNER, pw, `${at}/${f.rel}`)).fileid, String(f.fileid), 'the file id it had in Nextcloud');
      }
      assert.equal((await propfind(srv.url, OWNER, pw, `${at}/empty`)).status, 207);
      assert.equal((await propfind(srv.url, OWNER, pw, at)).fileid, String(deep.fileid));
      // a trashed file whose folder exists goes back there
      const inSub = gen.trash.find((t) => t.kind === 'file' && t.location !== '.')!;
      const back = await get(`${home}/${seg(`${inSub.name}.d${inSub.deletedAt}`)}`, { destination: `${srv.url}/remote.php/dav/trashbin/${OWNER}/restore/x` }, 'MOVE');
      assert.equal(back.status, 201);
      assert.equal(await sha(await get(`/remote.php/dav/files/${OWNER}/${seg(`${inSub.location}/${inSub.name}`)}`)), inSub.files[0]!.sha256);
    });
  });
}

describe('import:nextcloud: SIGKILL while writing versions, then while writing trash items; the rerun completes', { timeout: 600_000 }, () => {
  test('each version and trash item once, every trash item whole, all reading back', async () => {
    const nc = unpack('master-key');
    const coffer = await installCoffer();
    try {
      const pw = nc.manifest.users.find((u) => u.uid === OWNER)!.password;
      const secret = /'secret' => '([^']+)'/.exec(readFileSync(nc.configPhp, 'utf8'))![1]!;
      const masterKeyId = (nc.manifest as unknown as { encryption: { appconfig: Record<string, string> } }).encryption.appconfig.masterKeyId!;
      // about 1 MiB each: the history phase lasts long enough to be cut twice
      const gen = generateNcHistory(nc.root, { owner: OWNER, secret, masterKeyId, files: 12, versionsPerFile: 4, sizeOf: (i) => (1 << 20) + i, trashFiles: 12, folderFiles: 24 });
      const args = ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data];
      const count = (db: SQLite.Database, table: string) => (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
      // the fixture's 3 versions and the version of its trashed file, and the generated ones
      const totalVersions = 4 + gen.files.length * 4;
      const hm = nc.manifest as unknown as HistoryManifest;
      // alice's (the fixture's) come first; kill once some of carol's are in, not all
      const k1 = await occKilledWhen(coffer.dir, coffer.env, args, (db) => { const n = count(db, 'file_versions'); return n > 3 && n < totalVersions - 1; });
      const k2 = await occKilledWhen(coffer.dir, coffer.env, args, (db) => { const n = count(db, 'trash_items'); return n > hm.trash.length && n < hm.trash.length + gen.trash.length; });
      const r = await coffer.occ(args);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.ok(k1.killed && k2.killed, `both runs were killed (${k1.killed}, ${k2.killed})`);
      assert.match(r.stdout, /already there from an earlier run/);

      const db = new SQLite(join(coffer.dir, 'config', 'coffer.db'), { readonly: true });
      let rows: { fileid: number; version: number }[];
      let items: { id: number; name: string; deleted_at: number; nodes: number }[];
      try {
        rows = db.prepare('select fileid, version from file_versions').all() as typeof rows;
        items = db.prepare('select i.id, i.name, i.deleted_at, (select count(*) from trash_nodes n where n.item_id = i.id) as nodes from trash_items i').all() as typeof items;
      } finally {
        db.close();
      }
      assert.equal(rows.length, totalVersions);
      assert.equal(new Set(rows.map((v) => `${v.fileid}/${v.version}`)).size, rows.length);
      assert.equal(items.length, gen.trash.length + hm.trash.length);
      for (const t of gen.trash) {
        const it = items.find((x) => x.name === t.name && x.deleted_at === t.deletedAt);
        // a file: 1 node; the folder: itself, a, a/b, a/b/c, empty and its files
        assert.equal(it?.nodes, t.kind === 'file' ? 1 : 5 + t.files.length, `${t.name} whole`);
      }
      const srv = await coffer.serve();
      try {
        const get = (path: string) => fetch(`${srv.url}${path}`, { headers: { authorization: basic(OWNER, pw) } });
        const sha = async (r: Response) => createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex');
        for (const f of gen.files) for (const v of f.versions) assert.equal(await sha(await get(`/remote.php/dav/versions/${OWNER}/versions/${f.fileid}/${v.ts}`)), v.sha256);
        for (const t of gen.trash) {
          for (const f of t.files) {
            const p = `/remote.php/dav/trashbin/${OWNER}/trash/${encodeURIComponent(`${t.name}.d${t.deletedAt}`)}${f.rel ? `/${f.rel.split('/').map(encodeURIComponent).join('/')}` : ''}`;
            assert.equal(await sha(await get(p)), f.sha256, `${t.name}/${f.rel}`);
          }
        }
      } finally {
        await srv.stop();
      }
    } finally {
      coffer.cleanup();
      nc.cleanup();
    }
  });
});
