/**
 * Versions and the trash bin over HTTP (issue #15), in plain, master-key and per-user-key mode:
 * Nextcloud's DAV API end to end for the owner and a share recipient, zero copy (a version is
 * the old blob itself, a trashed folder keeps its blobs and file ids), restored content decrypts
 * to the same bytes, and a version blob copied over the current one is refused.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, share } from '../sharing/helpers.ts';
import { blobFile, blobIds, call, FILES, historyInstance, prop, propfind, put, responses, sha256, TRASH, VERSIONS, xmlText } from './helpers.ts';

// every mode on SQLite; master-key mode on PostgreSQL too (the moves are INSERT … SELECT statements)
for (const [mode, db] of [['plain', 'sqlite'], ['master', 'sqlite'], ['per-user', 'sqlite'], ['master', 'pgsql']] as const) {
  describe(`versions and trash over HTTP (${mode}, ${db})`, () => {
    let t: TestInstance;
    before(async () => { t = await historyInstance(mode, db); });
    after(async () => { await t?.stop(); });

    it('an overwrite keeps the old blob as a version: list, GET (Range), label, delete, restore', async () => {
      const v1 = Buffer.from('first content '.repeat(5000));
      const v2 = Buffer.from('second content');
      const v3 = Buffer.from('third and current');
      await put(t, ALICE, 'doc.txt', v1, 1_700_000_000);
      const n1 = await t.app.files.stat(ALICE.uid, 'doc.txt');
      await put(t, ALICE, 'doc.txt', v2, 1_700_000_100);
      const n2 = await t.app.files.stat(ALICE.uid, 'doc.txt');
      const blobsBefore = blobIds(t).length;
      await put(t, ALICE, 'doc.txt', v3, 1_700_000_200);
      const n3 = await t.app.files.stat(ALICE.uid, 'doc.txt');
      assert.equal(n3.fileId, n1.fileId);
      // zero copy: one new blob for the new content, the old ones still there, untouched
      assert.equal(blobIds(t).length, blobsBefore + 1);
      assert.ok(existsSync(blobFile(t, n1.blobId!)) && existsSync(blobFile(t, n2.blobId!)));

      const list = await propfind(t, ALICE, `${VERSIONS(ALICE)}/versions/${n1.fileId}`,
        ['d:getcontentlength', 'd:getlastmodified', 'd:getetag', 'd:getcontenttype', 'nc:version-label', 'nc:version-author']);
      assert.equal(list.status, 207, list.text);
      const rs = responses(list.text);
      assert.deepEqual(rs.map((r) => r.href), [
        `${VERSIONS(ALICE)}/versions/${n1.fileId}/`,
        `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000100`,
        `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000000`,
      ]);
      assert.equal(prop(rs[1]!.xml, 'd:getcontentlength'), String(v2.length));
      assert.equal(prop(rs[2]!.xml, 'd:getcontentlength'), String(v1.length));
      assert.equal(prop(rs[1]!.xml, 'd:getlastmodified'), new Date(1_700_000_100_000).toUTCString());
      assert.equal(prop(rs[1]!.xml, 'nc:version-author'), ALICE.uid);
      assert.equal(prop(rs[1]!.xml, 'd:getcontenttype'), 'text/plain');
      assert.equal(prop(rs[1]!.xml, 'nc:version-label'), '');
      // each version has its own quoted etag, not the current file's, and the same one on every listing
      const etags = rs.slice(1).map((r) => xmlText(prop(r.xml, 'd:getetag') ?? ''));
      for (const e of etags) assert.match(e, /^"[^"\s]+"$/);
      assert.equal(new Set(etags).size, 2);
      assert.ok(!etags.includes(`"${n3.etag}"`));
      const again = await propfind(t, ALICE, `${VERSIONS(ALICE)}/versions/${n1.fileId}`, ['d:getetag']);
      assert.deepEqual(responses(again.text).slice(1).map((r) => xmlText(prop(r.xml, 'd:getetag') ?? '')), etags);
      // the version rows point at the old blobs themselves
      const versions = await t.app.versions.repo.list(t.app.db, n1.fileId);
      assert.deepEqual(versions.map((v) => v.blobId), [n2.blobId, n1.blobId]);

      const g1 = await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000000`);
      assert.equal(g1.status, 200);
      assert.equal(sha256(g1.body), sha256(v1));
      const range = await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000000`, { headers: { Range: 'bytes=60000-60009' } });
      assert.equal(range.status, 206);
      assert.equal(range.text, v1.subarray(60000, 60010).toString());

      const label = await call(t, ALICE, 'PROPPATCH', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000100`, {
        body: '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:nc="http://nextcloud.org/ns"><d:set><d:prop><nc:version-label>Before review</nc:version-label></d:prop></d:set></d:propertyupdate>',
      });
      assert.equal(label.status, 207);
      assert.match(label.text, /200 OK/);
      const one = await propfind(t, ALICE, `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000100`, ['nc:version-label'], '0');
      assert.equal(prop(responses(one.text)[0]!.xml, 'nc:version-label'), 'Before review');

      // restore v1: the current content becomes a version, the file keeps its id
      const mv = await call(t, ALICE, 'MOVE', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000000`, {
        headers: { Destination: `${t.url}${VERSIONS(ALICE)}/restore/target` },
      });
      assert.equal(mv.status, 201, mv.text);
      const now = await t.app.files.stat(ALICE.uid, 'doc.txt');
      assert.equal(now.fileId, n1.fileId);
      assert.equal(now.blobId, n1.blobId, 'the restored version is the same blob');
      assert.equal(now.mtime, 1_700_000_000);
      const cur = await call(t, ALICE, 'GET', `${FILES(ALICE)}/doc.txt`);
      assert.equal(sha256(cur.body), sha256(v1));
      const after2 = (await t.app.versions.repo.list(t.app.db, n1.fileId)).map((v) => [v.version, v.blobId]);
      assert.deepEqual(after2, [[1_700_000_200, n3.blobId], [1_700_000_100, n2.blobId]]);
      const g3 = await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000200`);
      assert.equal(sha256(g3.body), sha256(v3));

      // delete one version: its blob goes
      assert.equal((await call(t, ALICE, 'DELETE', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000100`)).status, 204);
      assert.ok(!existsSync(blobFile(t, n2.blobId!)));
      assert.equal((await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000100`)).status, 404);
      // bad input changes nothing
      assert.equal((await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${n1.fileId}/abc`)).status, 404);
      assert.equal((await call(t, ALICE, 'PROPFIND', `${VERSIONS(BOB)}/versions/${n1.fileId}`, { headers: { Depth: '1' } })).status, 403);
      assert.equal((await call(t, BOB, 'PROPFIND', `${VERSIONS(BOB)}/versions/${n1.fileId}`, { headers: { Depth: '1' } })).status, 404);
      const wrongDest = await call(t, ALICE, 'MOVE', `${VERSIONS(ALICE)}/versions/${n1.fileId}/1700000200`, { headers: { Destination: `${FILES(ALICE)}/x.txt` } });
      assert.equal(wrongDest.status, 403);
    });

    it('DELETE moves a folder to the trash; list, browse, GET, restore with its file ids, conflict naming, delete, empty', async () => {
      assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/Folder`)).status, 201);
      assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/Folder/sub`)).status, 201);
      const a = Buffer.from('alpha '.repeat(20000));
      await put(t, ALICE, 'Folder/a.txt', a);
      await put(t, ALICE, 'Folder/sub/b.txt', 'bravo');
      await put(t, ALICE, 'Folder/sub/b.txt', 'bravo 2'); // a version that goes along
      const ids = new Map<string, number>();
      const blobs = new Map<string, string>();
      for await (const n of t.app.files.walk(ALICE.uid, 'Folder', Infinity)) { ids.set(n.path, n.fileId); if (n.blobId) blobs.set(n.path, n.blobId); }
      const before = blobIds(t);
      const del = await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/Folder`);
      assert.equal(del.status, 204);
      assert.equal((await call(t, ALICE, 'PROPFIND', `${FILES(ALICE)}/Folder`, { headers: { Depth: '0' } })).status, 404);
      assert.deepEqual(blobIds(t), before, 'a delete to the trash touches no content');

      const list = await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['nc:trashbin-filename', 'nc:trashbin-original-location', 'nc:trashbin-deletion-time',
        'nc:trashbin-deleted-by-id', 'nc:trashbin-deleted-by-display-name', 'oc:fileid', 'oc:size', 'd:resourcetype', 'd:getcontentlength']);
      assert.equal(list.status, 207, list.text);
      const items = responses(list.text).slice(1);
      assert.equal(items.length, 1);
      const it0 = items[0]!;
      const time = Number(prop(it0.xml, 'nc:trashbin-deletion-time'));
      assert.ok(Math.abs(time - Date.now() / 1000) < 60);
      assert.equal(it0.href, `${TRASH(ALICE)}/trash/Folder.d${time}/`);
      assert.equal(prop(it0.xml, 'nc:trashbin-filename'), 'Folder');
      assert.equal(prop(it0.xml, 'nc:trashbin-original-location'), 'Folder');
      assert.equal(prop(it0.xml, 'nc:trashbin-deleted-by-id'), ALICE.uid);
      assert.equal(prop(it0.xml, 'nc:trashbin-deleted-by-display-name'), ALICE.uid);
      assert.equal(prop(it0.xml, 'oc:fileid'), String(ids.get('Folder')));
      assert.equal(prop(it0.xml, 'oc:size'), String(a.length + 7));
      assert.equal(prop(it0.xml, 'd:resourcetype'), '<d:collection/>');
      assert.equal(prop(it0.xml, 'd:getcontentlength'), undefined);

      const item = `${TRASH(ALICE)}/trash/Folder.d${time}`;
      const inside = await propfind(t, ALICE, item, ['nc:trashbin-original-location', 'oc:fileid']);
      assert.deepEqual(responses(inside.text).map((r) => r.href), [`${item}/`, `${item}/a.txt`, `${item}/sub/`]);
      assert.equal(prop(responses(inside.text)[1]!.xml, 'nc:trashbin-original-location'), 'Folder/a.txt');
      const deeper = await propfind(t, ALICE, `${item}/sub`, ['oc:fileid']);
      assert.deepEqual(responses(deeper.text).map((r) => r.href), [`${item}/sub/`, `${item}/sub/b.txt`]);
      const got = await call(t, ALICE, 'GET', `${item}/a.txt`);
      assert.equal(got.status, 200);
      assert.equal(sha256(got.body), sha256(a));

      // restore (Nextcloud ignores the name in the destination): back where it was, same ids
      const mv = await call(t, ALICE, 'MOVE', item, { headers: { Destination: `${TRASH(ALICE)}/restore/Folder.d${time}` } });
      assert.equal(mv.status, 201, mv.text);
      for await (const n of t.app.files.walk(ALICE.uid, 'Folder', Infinity)) assert.equal(n.fileId, ids.get(n.path), n.path);
      assert.equal(sha256((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Folder/a.txt`)).body), sha256(a));
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Folder/sub/b.txt`)).text, 'bravo 2');
      const bId = ids.get('Folder/sub/b.txt')!;
      const bv = await propfind(t, ALICE, `${VERSIONS(ALICE)}/versions/${bId}`, ['d:getcontentlength']);
      assert.equal(responses(bv.text).length, 2, 'the version came back with its file');
      assert.equal((await t.app.files.quota(ALICE.uid)).used, (await t.app.files.stat(ALICE.uid, '')).size);
      assert.equal(responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['oc:fileid'])).text).length, 1);

      // conflict: the name is taken again → "a (restored).txt", then "a (restored 2).txt"
      for (let round = 0; round < 2; round++) {
        assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/Folder/a.txt`)).status, 204);
        await put(t, ALICE, 'Folder/a.txt', `new ${round}`);
        const tl = responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['oc:fileid'])).text).slice(1);
        assert.equal(tl.length, 1);
        assert.equal((await call(t, ALICE, 'MOVE', tl[0]!.href, { headers: { Destination: `${TRASH(ALICE)}/restore/x` } })).status, 201);
      }
      assert.equal(sha256((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Folder/a (restored).txt`)).body), sha256(a));
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Folder/a (restored 2).txt`)).text, 'new 0');

      // restore a member of a trashed folder alone, then delete one for good, then empty
      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/Folder/sub`)).status, 204);
      const sub = responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['oc:fileid'])).text).slice(1)[0]!.href.replace(/\/$/, '');
      assert.equal((await call(t, ALICE, 'MOVE', `${sub}/b.txt`, { headers: { Destination: `${TRASH(ALICE)}/restore/b.txt` } })).status, 201);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Folder/sub/b.txt`)).status, 404, 'its folder is still in the trash: restored to the root');
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/b.txt`)).text, 'bravo 2');
      const sizeLeft = prop(responses((await propfind(t, ALICE, sub, ['oc:size'], '0')).text)[0]!.xml, 'oc:size');
      assert.equal(sizeLeft, '0');
      assert.equal((await call(t, ALICE, 'DELETE', sub)).status, 204);
      assert.equal((await call(t, ALICE, 'PROPFIND', sub, { headers: { Depth: '0' } })).status, 404);

      await put(t, ALICE, 'gone.txt', 'to be purged');
      const gone = await t.app.files.stat(ALICE.uid, 'gone.txt');
      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/gone.txt`)).status, 204);
      assert.ok(existsSync(blobFile(t, gone.blobId!)));
      assert.equal((await call(t, ALICE, 'DELETE', `${TRASH(ALICE)}/trash`)).status, 204);
      assert.equal(responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['oc:fileid'])).text).length, 1);
      assert.ok(!existsSync(blobFile(t, gone.blobId!)), 'emptying the trash deletes the content');
    });

    it('a share recipient sees and restores versions, and a delete in the share lands in both trash bins', async () => {
      assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/Team`)).status, 201);
      await put(t, ALICE, 'Team/plan.txt', 'plan v1', 1_700_100_000);
      await share(t, ALICE, { path: '/Team', shareType: 0, shareWith: BOB.uid, permissions: 31 });
      await put(t, BOB, 'Team/plan.txt', 'plan v2 by bob', 1_700_100_100);
      const n = await t.app.files.stat(ALICE.uid, 'Team/plan.txt');
      const list = await propfind(t, BOB, `${VERSIONS(BOB)}/versions/${n.fileId}`, ['nc:version-author', 'd:getcontentlength']);
      assert.equal(list.status, 207, list.text);
      const rs = responses(list.text);
      assert.equal(rs.length, 2);
      assert.equal(rs[1]!.href, `${VERSIONS(BOB)}/versions/${n.fileId}/1700100000`);
      assert.equal(prop(rs[1]!.xml, 'nc:version-author'), ALICE.uid);
      assert.equal((await call(t, BOB, 'GET', rs[1]!.href)).text, 'plan v1');
      assert.equal((await call(t, BOB, 'MOVE', rs[1]!.href, { headers: { Destination: `${VERSIONS(BOB)}/restore/target` } })).status, 201);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Team/plan.txt`)).text, 'plan v1');
      const av = responses((await propfind(t, ALICE, `${VERSIONS(ALICE)}/versions/${n.fileId}`, ['nc:version-author'])).text);
      assert.equal(prop(av[1]!.xml, 'nc:version-author'), BOB.uid, 'bob wrote the content that became a version');

      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team/plan.txt`)).status, 204);
      const inAlice = responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['nc:trashbin-deleted-by-id', 'nc:trashbin-original-location'])).text)
        .filter((r) => r.href.includes('plan.txt'));
      assert.equal(inAlice.length, 1);
      assert.equal(prop(inAlice[0]!.xml, 'nc:trashbin-deleted-by-id'), BOB.uid);
      assert.equal(prop(inAlice[0]!.xml, 'nc:trashbin-original-location'), 'Team/plan.txt');
      const inBob = responses((await propfind(t, BOB, `${TRASH(BOB)}/trash`, ['oc:fileid'])).text).slice(1);
      assert.equal(inBob.length, 1);
      // bob may restore it into the share
      assert.equal((await call(t, BOB, 'MOVE', inBob[0]!.href, { headers: { Destination: `${TRASH(BOB)}/restore/plan.txt` } })).status, 201);
      assert.equal((await call(t, BOB, 'GET', `${FILES(BOB)}/Team/plan.txt`)).text, 'plan v1');
      assert.equal((await t.app.files.stat(ALICE.uid, 'Team/plan.txt')).fileId, n.fileId);
      // deleted again: bob's DELETE in his trash bin removes it from his view only; alice keeps it
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team/plan.txt`)).status, 204);
      const again = responses((await propfind(t, BOB, `${TRASH(BOB)}/trash`, ['oc:fileid'])).text).slice(1);
      assert.equal(again.length, 1);
      assert.equal((await call(t, BOB, 'DELETE', again[0]!.href)).status, 204);
      assert.equal(responses((await propfind(t, BOB, `${TRASH(BOB)}/trash`, ['oc:fileid'])).text).length, 1, 'only the trash folder itself is left');
      assert.equal((await call(t, BOB, 'MOVE', again[0]!.href, { headers: { Destination: `${TRASH(BOB)}/restore/plan.txt` } })).status, 404);
      const stillAlice = responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['oc:fileid'])).text).filter((r) => r.href.includes('plan.txt'));
      assert.equal(stillAlice.length, 1);
      assert.equal(prop(stillAlice[0]!.xml, 'oc:fileid'), String(n.fileId));
      assert.equal((await call(t, ALICE, 'MOVE', stillAlice[0]!.href, { headers: { Destination: `${TRASH(ALICE)}/restore/plan.txt` } })).status, 201);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Team/plan.txt`)).text, 'plan v1');
    });

    it('a MOVE onto an existing file puts the replaced file in the trash with its id; a COPY onto it keeps it as a version', async () => {
      await put(t, ALICE, 'dst.txt', 'replaced by move', 1_700_050_000);
      const dst = await t.app.files.stat(ALICE.uid, 'dst.txt');
      await put(t, ALICE, 'src.txt', 'moved here', 1_700_050_100);
      const src = await t.app.files.stat(ALICE.uid, 'src.txt');
      assert.equal((await call(t, ALICE, 'MOVE', `${FILES(ALICE)}/src.txt`, { headers: { Destination: `${FILES(ALICE)}/dst.txt`, Overwrite: 'T' } })).status, 204);
      const moved = await t.app.files.stat(ALICE.uid, 'dst.txt');
      assert.equal(moved.fileId, src.fileId, 'the moved file keeps its own id');
      const trashed = async () => responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['oc:fileid', 'nc:trashbin-filename'])).text).slice(1)
        .filter((r) => prop(r.xml, 'nc:trashbin-filename') === 'dst.txt');
      const list = await trashed();
      assert.deepEqual(list.map((r) => Number(prop(r.xml, 'oc:fileid'))), [dst.fileId]);
      assert.equal((await call(t, ALICE, 'GET', list[0]!.href)).text, 'replaced by move');

      // COPY onto the file: an overwrite, as a PUT (same id, new etag, the old blob a version)
      await put(t, ALICE, 'src2.txt', 'copied here', 1_700_050_200);
      const cp = await call(t, ALICE, 'COPY', `${FILES(ALICE)}/src2.txt`, { headers: { Destination: `${FILES(ALICE)}/dst.txt`, Overwrite: 'T' } });
      assert.equal(cp.status, 204);
      const copied = await t.app.files.stat(ALICE.uid, 'dst.txt');
      assert.equal(copied.fileId, moved.fileId);
      assert.notEqual(copied.etag, moved.etag);
      assert.equal(cp.headers.get('etag'), `"${copied.etag}"`);
      assert.equal(copied.mtime, 1_700_050_200);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/dst.txt`)).text, 'copied here');
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/src2.txt`)).text, 'copied here');
      assert.equal((await trashed()).length, 1, 'nothing more in the trash');
      const versions = await t.app.versions.repo.list(t.app.db, moved.fileId);
      assert.deepEqual(versions.map((v) => [v.version, v.blobId, v.author]), [[1_700_050_100, moved.blobId, ALICE.uid]], 'zero copy: the old blob itself');
      assert.ok(existsSync(blobFile(t, moved.blobId!)));
      assert.equal((await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${moved.fileId}/1700050100`)).text, 'moved here');

      // a folder onto a file, a file onto a folder: what is replaced goes to the trash
      assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/dir-x`)).status, 201);
      await put(t, ALICE, 'file-x', 'a file named like a folder');
      const fx = await t.app.files.stat(ALICE.uid, 'file-x');
      assert.equal((await call(t, ALICE, 'COPY', `${FILES(ALICE)}/dir-x`, { headers: { Destination: `${FILES(ALICE)}/file-x` } })).status, 204);
      assert.equal((await t.app.files.stat(ALICE.uid, 'file-x')).kind, 'dir');
      const dx = await t.app.files.stat(ALICE.uid, 'dir-x');
      assert.equal((await call(t, ALICE, 'COPY', `${FILES(ALICE)}/dst.txt`, { headers: { Destination: `${FILES(ALICE)}/dir-x` } })).status, 204);
      assert.equal((await t.app.files.stat(ALICE.uid, 'dir-x')).kind, 'file');
      const ids = responses((await propfind(t, ALICE, `${TRASH(ALICE)}/trash`, ['oc:fileid'])).text).map((r) => Number(prop(r.xml, 'oc:fileid')));
      assert.ok(ids.includes(fx.fileId) && ids.includes(dx.fileId));
    });

    it('capabilities announce undelete and versioning', async () => {
      const r = await t.fetch('/ocs/v2.php/cloud/capabilities?format=json', { headers: { 'OCS-APIRequest': 'true' }, as: ALICE });
      const files = (await r.json() as any).ocs.data.capabilities.files;
      assert.equal(files.undelete, true);
      assert.equal(files.versioning, true);
      assert.equal(files.version_labeling, true);
      assert.equal(files.version_deletion, true);
    });

    if (mode !== 'plain') {
      it('a version blob copied over the current blob is refused; the legitimate restore works', async () => {
        await put(t, ALICE, 'roll.txt', 'old secret state', 1_700_200_000);
        const old = await t.app.files.stat(ALICE.uid, 'roll.txt');
        await put(t, ALICE, 'roll.txt', 'new state', 1_700_200_100);
        const cur = await t.app.files.stat(ALICE.uid, 'roll.txt');
        assert.ok(!readFileSync(blobFile(t, old.blobId!)).includes('old secret state'), 'the version is encrypted at rest');
        copyFileSync(blobFile(t, old.blobId!), blobFile(t, cur.blobId!));
        const r = await call(t, ALICE, 'GET', `${FILES(ALICE)}/roll.txt`);
        assert.equal(r.status, 500);
        assert.ok(!r.text.includes('old secret state'));
        // the audit line is written asynchronously: give it a moment
        for (let i = 0; i < 50 && !readFileSync(`${t.dataDir}/audit.log`, 'utf8').includes('integrity.failure'); i++) await sleep(20);
        assert.match(readFileSync(`${t.dataDir}/audit.log`, 'utf8'), /integrity\.failure/);
        // the version itself still reads (its own blob id), and restoring it is legitimate
        assert.equal((await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${old.fileId}/1700200000`)).text, 'old secret state');
        assert.equal((await call(t, ALICE, 'MOVE', `${VERSIONS(ALICE)}/versions/${old.fileId}/1700200000`, { headers: { Destination: `${VERSIONS(ALICE)}/restore/target` } })).status, 201);
        assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/roll.txt`)).text, 'old secret state');
        // and the tampered blob, now a version, is still refused as one
        assert.equal((await call(t, ALICE, 'GET', `${VERSIONS(ALICE)}/versions/${old.fileId}/1700200100`)).status, 500);
      });
    }
  });
}
