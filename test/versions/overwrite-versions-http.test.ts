/**
 * Every way of overwriting a file keeps its previous content as a version (issue #15, item 1), over
 * HTTP, plain and encrypted: a COPY onto a file (here by a share recipient: the owner sees a
 * version authored by them), a chunked upload's assembly (Nextcloud chunking v2) and a bulk upload.
 * And a share recipient without update permission cannot restore, label or delete a version.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { TestInstance } from '../support/test-instance.ts';
import { bulk, bulkBody } from '../support/bulk-upload-body.ts';
import { ALICE, BOB, share, type Creds } from '../sharing/helpers.ts';
import { blobFile, call, FILES, historyInstance, prop, propfind, put, responses, sha256, VERSIONS } from './helpers.ts';

/** `fileId`'s versions as `as` lists them over DAV: where, name, author. */
async function versionsOf(t: TestInstance, as: Creds, fileId: number): Promise<{ href: string; version: number; author: string }[]> {
  const r = await propfind(t, as, `${VERSIONS(as)}/versions/${fileId}`, ['nc:version-author']);
  assert.equal(r.status, 207, r.text);
  return responses(r.text).slice(1).map((x) => ({
    href: x.href, version: Number(x.href.split('/').pop()), author: prop(x.xml, 'nc:version-author')!,
  }));
}

/** Asserts that `fileId` has a version named `version` whose content is `content` (over DAV, as `as`). */
async function assertVersion(t: TestInstance, as: Creds, fileId: number, version: number, content: Buffer | string, author: string): Promise<void> {
  const v = (await versionsOf(t, as, fileId)).find((x) => x.version === version);
  assert.ok(v, `no version ${version} of ${fileId}`);
  assert.equal(v.author, author);
  const got = await call(t, as, 'GET', v.href);
  assert.equal(got.status, 200);
  assert.equal(sha256(got.body), sha256(content));
}

/** A chunked upload (Nextcloud chunking v2) of `content` in two parts to `dest` of `as`'s view; the final MOVE's answer. */
async function chunkedUpload(t: TestInstance, as: Creds, id: string, dest: string, content: Buffer, mtime: number) {
  const up = `/remote.php/dav/uploads/${as.uid}/${id}`;
  const destination = `${t.url}${FILES(as)}/${dest}`;
  assert.equal((await call(t, as, 'MKCOL', up, { headers: { Destination: destination } })).status, 201);
  const half = Math.floor(content.length / 2);
  for (const [i, part] of [content.subarray(0, half), content.subarray(half)].entries()) {
    const r = await call(t, as, 'PUT', `${up}/0000${i + 1}`, { body: part, headers: { Destination: destination, 'OC-Total-Length': String(content.length) } });
    assert.equal(r.status, 201, r.text);
  }
  return call(t, as, 'MOVE', `${up}/.file`, { headers: { Destination: destination, 'OC-Total-Length': String(content.length), 'X-OC-Mtime': String(mtime) } });
}

// plain and both key modes; the COPY's compare-and-swap commit on PostgreSQL too
for (const [mode, db] of [['plain', 'sqlite'], ['master', 'pgsql'], ['per-user', 'sqlite']] as const) {
  describe(`every overwrite keeps a version (${mode}, ${db})`, () => {
    let t: TestInstance;
    before(async () => {
      t = await historyInstance(mode, db);
      // alice's Team: bob may do everything; alice's Look: bob may only read
      for (const dir of ['Team', 'Look']) assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/${dir}`)).status, 201);
      await share(t, ALICE, { path: '/Team', shareType: 0, shareWith: BOB.uid, permissions: 31 });
      await share(t, ALICE, { path: '/Look', shareType: 0, shareWith: BOB.uid, permissions: 1 });
    });
    after(async () => { await t?.stop(); });

    it('a share recipient\'s COPY onto a shared file overwrites it: same id, the old content a version, authored by whoever wrote it', async () => {
      const old = Buffer.from('alice wrote this '.repeat(4000));
      await put(t, ALICE, 'Team/report.txt', old, 1_700_400_000);
      const before = await t.app.files.stat(ALICE.uid, 'Team/report.txt');
      const mine = Buffer.from('bob\'s replacement '.repeat(3000));
      await put(t, BOB, 'mine.txt', mine, 1_700_400_100);
      // from bob's tree into alice's (new content under alice's keys), then within the share
      const cp = await call(t, BOB, 'COPY', `${FILES(BOB)}/mine.txt`, { headers: { Destination: `${t.url}${FILES(BOB)}/Team/report.txt`, Overwrite: 'T' } });
      assert.equal(cp.status, 204, cp.text);
      const after1 = await t.app.files.stat(ALICE.uid, 'Team/report.txt');
      assert.equal(after1.fileId, before.fileId);
      assert.notEqual(after1.etag, before.etag);
      assert.equal(after1.mtime, 1_700_400_100);
      assert.equal(sha256((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Team/report.txt`)).body), sha256(mine));
      await assertVersion(t, ALICE, before.fileId, 1_700_400_000, old, ALICE.uid);
      assert.ok(existsSync(blobFile(t, before.blobId!)), 'the version is the old blob');

      await put(t, BOB, 'Team/draft.txt', 'a draft by bob', 1_700_400_200);
      assert.equal((await call(t, BOB, 'COPY', `${FILES(BOB)}/Team/draft.txt`, { headers: { Destination: `${t.url}${FILES(BOB)}/Team/report.txt` } })).status, 204);
      // bob's copied content, now overwritten in turn, is a version bob wrote
      await assertVersion(t, ALICE, before.fileId, 1_700_400_100, mine, BOB.uid);
      await assertVersion(t, BOB, before.fileId, 1_700_400_100, mine, BOB.uid);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Team/report.txt`)).text, 'a draft by bob');
      assert.equal((await t.app.files.stat(ALICE.uid, 'Team/report.txt')).fileId, before.fileId);
      // the quota counts the current content only, as for a PUT
      assert.equal((await t.app.files.quota(ALICE.uid)).used, (await t.app.files.stat(ALICE.uid, '')).size);
    });

    it('a COPY onto a file beyond the owner\'s quota is refused and changes nothing', async () => {
      await put(t, ALICE, 'Team/small.txt', 'small', 1_700_450_000);
      const before = await t.app.files.stat(ALICE.uid, 'Team/small.txt');
      await put(t, BOB, 'big.bin', Buffer.alloc(50_000, 7));
      await t.app.users.setQuota(ALICE.uid, (await t.app.files.quota(ALICE.uid)).used + 1000);
      try {
        const r = await call(t, BOB, 'COPY', `${FILES(BOB)}/big.bin`, { headers: { Destination: `${t.url}${FILES(BOB)}/Team/small.txt` } });
        assert.equal(r.status, 507, r.text);
      } finally {
        await t.app.users.setQuota(ALICE.uid, null);
      }
      assert.deepEqual(await t.app.files.stat(ALICE.uid, 'Team/small.txt'), before);
      assert.deepEqual(await versionsOf(t, ALICE, before.fileId), []);
    });

    it('a chunked upload onto a file keeps the previous content as a version (the owner\'s, a recipient\'s)', async () => {
      const v1 = Buffer.from('first, by a PUT '.repeat(5000));
      const v2 = Buffer.from('second, chunked '.repeat(9000));
      const v3 = Buffer.from('third, chunked by bob '.repeat(7000));
      await put(t, ALICE, 'Team/big.txt', v1, 1_700_500_000);
      const n1 = await t.app.files.stat(ALICE.uid, 'Team/big.txt');
      const r2 = await chunkedUpload(t, ALICE, 'up-alice', 'Team/big.txt', v2, 1_700_500_100);
      assert.equal(r2.status, 204, r2.text);
      const n2 = await t.app.files.stat(ALICE.uid, 'Team/big.txt');
      assert.equal(n2.fileId, n1.fileId);
      assert.notEqual(n2.etag, n1.etag);
      await assertVersion(t, ALICE, n1.fileId, 1_700_500_000, v1, ALICE.uid);
      const r3 = await chunkedUpload(t, BOB, 'up-bob', 'Team/big.txt', v3, 1_700_500_200);
      assert.equal(r3.status, 204, r3.text);
      await assertVersion(t, ALICE, n1.fileId, 1_700_500_100, v2, ALICE.uid);
      assert.equal(sha256((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Team/big.txt`)).body), sha256(v3));
      // bob's upload becomes a version bob wrote when alice overwrites it
      await put(t, ALICE, 'Team/big.txt', 'fourth', 1_700_500_300);
      await assertVersion(t, ALICE, n1.fileId, 1_700_500_200, v3, BOB.uid);
      assert.deepEqual((await versionsOf(t, ALICE, n1.fileId)).map((v) => v.version), [1_700_500_200, 1_700_500_100, 1_700_500_000]);
    });

    it('a bulk upload onto a file keeps the previous content as a version', async () => {
      const v1 = Buffer.from('before the bulk upload '.repeat(3000));
      await put(t, ALICE, 'bulk.txt', v1, 1_700_600_000);
      const n1 = await t.app.files.stat(ALICE.uid, 'bulk.txt');
      const a = await bulk(t, bulkBody([{ path: '/bulk.txt', content: 'after the bulk upload', mtime: 1_700_600_100 }, { path: '/bulk-new.txt', content: 'new' }]), { as: ALICE });
      assert.equal(a.status, 200);
      assert.equal(a.json['/bulk.txt']?.error, false, JSON.stringify(a.json));
      const n2 = await t.app.files.stat(ALICE.uid, 'bulk.txt');
      assert.equal(n2.fileId, n1.fileId);
      assert.equal(a.json['/bulk.txt']?.etag, n2.etag);
      assert.notEqual(n2.etag, n1.etag);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/bulk.txt`)).text, 'after the bulk upload');
      assert.deepEqual((await versionsOf(t, ALICE, n1.fileId)).map((v) => v.version), [1_700_600_000]);
      await assertVersion(t, ALICE, n1.fileId, 1_700_600_000, v1, ALICE.uid);
    });

    it('a recipient without update permission lists versions but cannot restore, label or delete one', async () => {
      await put(t, ALICE, 'Look/ro.txt', 'ro v1', 1_700_700_000);
      await put(t, ALICE, 'Look/ro.txt', 'ro v2', 1_700_700_100);
      const n = await t.app.files.stat(ALICE.uid, 'Look/ro.txt');
      const listed = await versionsOf(t, BOB, n.fileId);
      assert.deepEqual(listed.map((v) => v.version), [1_700_700_000]);
      const href = listed[0]!.href;
      const rows = await t.app.versions.repo.list(t.app.db, n.fileId);

      const mv = await call(t, BOB, 'MOVE', href, { headers: { Destination: `${t.url}${VERSIONS(BOB)}/restore/target` } });
      assert.equal(mv.status, 403, mv.text);
      const label = await call(t, BOB, 'PROPPATCH', href, {
        body: '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:nc="http://nextcloud.org/ns"><d:set><d:prop><nc:version-label>mine</nc:version-label></d:prop></d:set></d:propertyupdate>',
      });
      assert.equal(label.status, 403, label.text);
      const del = await call(t, BOB, 'DELETE', href);
      assert.equal(del.status, 403, del.text);

      // nothing changed: the file, its versions, their blobs
      assert.deepEqual(await t.app.files.stat(ALICE.uid, 'Look/ro.txt'), n);
      assert.deepEqual(await t.app.versions.repo.list(t.app.db, n.fileId), rows);
      assert.ok(existsSync(blobFile(t, rows[0]!.blobId)));
      assert.equal((await call(t, BOB, 'GET', href)).text, 'ro v1');
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Look/ro.txt`)).text, 'ro v2');
    });
  });
}
