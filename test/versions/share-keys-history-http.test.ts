/**
 * Versions and the trash bin of a share in per-user-key mode (issue #15), over HTTP: a recipient
 * reads through their seal of the share key only, so every version and every item they deleted
 * must be reachable through that key's keyring (granted and revoked by ShareKeySync). Versions made
 * before the share, after it (by either side), restores by the recipient, items the recipient
 * deleted (browsed, downloaded, restored), items the owner restores into the share, and the share
 * going away (keys taken back, and given again with a new share).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, ocs, share, SHARES, type Creds } from '../sharing/helpers.ts';
import { isKeyringFileOf, shareNodeName, shareSealName } from '../../src/encryption/share-keys/share-key-files.ts';
import { call, FILES, historyInstance, prop, propfind, put, responses, TRASH, VERSIONS } from './helpers.ts';

// PostgreSQL too: the keyring's queries compare paths (versions by their file's, trash by its original location)
for (const db of ['sqlite', 'pgsql'] as const) describe(`versions and trash of a share, per-user keys, over HTTP (${db})`, () => {
  let t: TestInstance;
  before(async () => { t = await historyInstance('per-user', db); });
  after(async () => { await t?.stop(); });

  const mkcol = async (path: string) => assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/${path}`)).status, 201);
  const shareWithBob = async (path: string) => Number((await share(t, ALICE, { path: `/${path}`, shareType: 0, shareWith: BOB.uid, permissions: 31 })).id);
  const text = async (as: Creds, href: string) => {
    const r = await call(t, as, 'GET', href);
    assert.equal(r.status, 200, `GET ${href} as ${as.uid}: ${r.text}`);
    return r.text;
  };
  /** Version hrefs of `fileId` as `as` sees them, newest first. */
  const versions = async (as: Creds, fileId: number) => {
    const r = await propfind(t, as, `${VERSIONS(as)}/versions/${fileId}`, ['d:getcontentlength']);
    assert.equal(r.status, 207, r.text);
    return responses(r.text).slice(1).map((x) => x.href);
  };
  const restoreVersion = async (as: Creds, href: string) =>
    assert.equal((await call(t, as, 'MOVE', href, { headers: { Destination: `${VERSIONS(as)}/restore/target` } })).status, 201);
  /** The href of the item named `name` in `as`'s trash bin, or undefined. */
  const trashHref = async (as: Creds, name: string) => {
    const r = await propfind(t, as, `${TRASH(as)}/trash`, ['nc:trashbin-filename']);
    assert.equal(r.status, 207, r.text);
    return responses(r.text).slice(1).find((x) => prop(x.xml, 'nc:trashbin-filename') === name)?.href.replace(/\/$/, '');
  };
  const restoreItem = async (as: Creds, href: string) =>
    assert.equal((await call(t, as, 'MOVE', href, { headers: { Destination: `${TRASH(as)}/restore/x` } })).status, 201);
  /** alice's key files naming share key of node `path`: bob's seal, keyring segments. */
  const keyFiles = async (path: string) => {
    const dir = join(t.dataDir, ALICE.uid, 'files_encryption', 'OC_DEFAULT_MODULE');
    const fileId = (await t.app.files.stat(ALICE.uid, path)).fileId;
    const id = (JSON.parse(readFileSync(join(dir, shareNodeName(fileId)), 'utf8')) as { keyId: string }).keyId;
    const names = readdirSync(dir);
    return { bobSeal: existsSync(join(dir, shareSealName(id, BOB.uid))), keyring: names.filter((n) => isKeyringFileOf(id, n)).length };
  };

  it('a version made before the share: the recipient lists, downloads and restores it', async () => {
    await mkcol('Pre');
    await put(t, ALICE, 'Pre/doc.txt', 'pre v1', 1_700_300_000);
    await put(t, ALICE, 'Pre/doc.txt', 'pre v2', 1_700_300_100);
    await shareWithBob('Pre');
    const n = await t.app.files.stat(ALICE.uid, 'Pre/doc.txt');
    const vs = await versions(BOB, n.fileId);
    assert.deepEqual(vs, [`${VERSIONS(BOB)}/versions/${n.fileId}/1700300000`]);
    assert.equal(await text(BOB, vs[0]!), 'pre v1');
    await restoreVersion(BOB, vs[0]!);
    assert.equal(await text(BOB, `${FILES(BOB)}/Pre/doc.txt`), 'pre v1');
    assert.equal(await text(ALICE, `${FILES(ALICE)}/Pre/doc.txt`), 'pre v1');
    assert.equal(await text(BOB, `${VERSIONS(BOB)}/versions/${n.fileId}/1700300100`), 'pre v2', 'the content it replaced is a version bob reads');
  });

  it('versions made after the share, by the owner and by the recipient, read and restored on both sides', async () => {
    await mkcol('Post');
    await put(t, ALICE, 'Post/doc.txt', 'post v1', 1_700_400_000);
    await shareWithBob('Post');
    await put(t, ALICE, 'Post/doc.txt', 'post v2 by alice', 1_700_400_100);
    await put(t, BOB, 'Post/doc.txt', 'post v3 by bob', 1_700_400_200);
    const n = await t.app.files.stat(ALICE.uid, 'Post/doc.txt');
    const base = `/versions/${n.fileId}`;
    assert.deepEqual(await versions(BOB, n.fileId), [`${VERSIONS(BOB)}${base}/1700400100`, `${VERSIONS(BOB)}${base}/1700400000`]);
    for (const as of [ALICE, BOB]) {
      assert.equal(await text(as, `${VERSIONS(as)}${base}/1700400100`), 'post v2 by alice');
      assert.equal(await text(as, `${VERSIONS(as)}${base}/1700400000`), 'post v1');
    }
    await restoreVersion(BOB, `${VERSIONS(BOB)}${base}/1700400000`);
    await restoreVersion(ALICE, `${VERSIONS(ALICE)}${base}/1700400200`);
    for (const as of [ALICE, BOB]) {
      assert.equal(await text(as, `${FILES(as)}/Post/doc.txt`), 'post v3 by bob');
      assert.equal(await text(as, `${VERSIONS(as)}${base}/1700400000`), 'post v1');
    }
  });

  it('what the recipient deletes from the share: in their trash, downloaded, browsed, restored with its versions', async () => {
    await mkcol('Bin');
    await mkcol('Bin/dir');
    await put(t, ALICE, 'Bin/a.txt', 'a v1', 1_700_500_000);
    await put(t, ALICE, 'Bin/a.txt', 'a v2', 1_700_500_100);
    await put(t, ALICE, 'Bin/dir/b.txt', 'b by alice');
    await shareWithBob('Bin');
    const a = await t.app.files.stat(ALICE.uid, 'Bin/a.txt');
    assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Bin/a.txt`)).status, 204);
    assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Bin/dir`)).status, 204);
    const aItem = (await trashHref(BOB, 'a.txt'))!;
    const dirItem = (await trashHref(BOB, 'dir'))!;
    assert.equal(await text(BOB, aItem), 'a v2');
    const inside = responses((await propfind(t, BOB, dirItem, ['oc:fileid'])).text).map((r) => r.href);
    assert.deepEqual(inside, [`${dirItem}/`, `${dirItem}/b.txt`]);
    assert.equal(await text(BOB, `${dirItem}/b.txt`), 'b by alice');
    await restoreItem(BOB, aItem);
    await restoreItem(BOB, dirItem);
    assert.equal(await text(BOB, `${FILES(BOB)}/Bin/a.txt`), 'a v2');
    assert.equal(await text(BOB, `${FILES(BOB)}/Bin/dir/b.txt`), 'b by alice');
    assert.equal(await text(BOB, `${VERSIONS(BOB)}/versions/${a.fileId}/1700500000`), 'a v1', 'the version came back with its file');
  });

  it('the owner restores into the share a file trashed before it was shared: the recipient reads it and its version', async () => {
    await mkcol('Old');
    await put(t, ALICE, 'Old/old.txt', 'old v1', 1_700_600_000);
    await put(t, ALICE, 'Old/old.txt', 'old v2', 1_700_600_100);
    const n = await t.app.files.stat(ALICE.uid, 'Old/old.txt');
    assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/Old/old.txt`)).status, 204);
    await shareWithBob('Old');
    assert.equal(await trashHref(BOB, 'old.txt'), undefined, 'the owner\'s own delete is not in the recipient\'s trash');
    await restoreItem(ALICE, (await trashHref(ALICE, 'old.txt'))!);
    assert.equal(await text(BOB, `${FILES(BOB)}/Old/old.txt`), 'old v2');
    assert.equal(await text(BOB, `${VERSIONS(BOB)}/versions/${n.fileId}/1700600000`), 'old v1');
  });

  it('a share removed afterwards: the recipient loses the versions, and the keys are taken back', async () => {
    await mkcol('Gone');
    await put(t, ALICE, 'Gone/doc.txt', 'gone v1', 1_700_700_000);
    await put(t, ALICE, 'Gone/doc.txt', 'gone v2', 1_700_700_100);
    const id = await shareWithBob('Gone');
    const n = await t.app.files.stat(ALICE.uid, 'Gone/doc.txt');
    const v = `${VERSIONS(BOB)}/versions/${n.fileId}/1700700000`;
    assert.equal(await text(BOB, v), 'gone v1');
    assert.deepEqual(await keyFiles('Gone'), { bobSeal: true, keyring: 1 });
    assert.equal((await ocs(t, ALICE, 'DELETE', `${SHARES}/${id}`)).http, 200);
    assert.equal((await propfind(t, BOB, `${VERSIONS(BOB)}/versions/${n.fileId}`, ['d:getcontentlength'])).status, 404);
    assert.equal((await call(t, BOB, 'GET', v)).status, 404);
    assert.deepEqual(await keyFiles('Gone'), { bobSeal: false, keyring: 0 });
    assert.equal(await text(ALICE, `${VERSIONS(ALICE)}/versions/${n.fileId}/1700700000`), 'gone v1', 'the owner keeps them');
  });

  it('unsharing while the recipient\'s deletes are in the trash: out of sight and keys; shared again, readable again', async () => {
    await mkcol('Again');
    await put(t, ALICE, 'Again/x.txt', 'x by alice');
    const id = await shareWithBob('Again');
    assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Again/x.txt`)).status, 204);
    const seen = (await trashHref(BOB, 'x.txt'))!;
    assert.equal(await text(BOB, seen), 'x by alice');
    assert.equal((await ocs(t, ALICE, 'DELETE', `${SHARES}/${id}`)).http, 200);
    assert.equal(await trashHref(BOB, 'x.txt'), undefined);
    assert.equal((await call(t, BOB, 'GET', seen)).status, 404);
    assert.deepEqual(await keyFiles('Again'), { bobSeal: false, keyring: 0 });
    assert.equal(await text(ALICE, (await trashHref(ALICE, 'x.txt'))!), 'x by alice', 'the owner keeps it');
    await shareWithBob('Again');
    const back = (await trashHref(BOB, 'x.txt'))!;
    assert.equal(await text(BOB, back), 'x by alice', 'shared again: the key to it is given again');
    await restoreItem(BOB, back);
    assert.equal(await text(BOB, `${FILES(BOB)}/Again/x.txt`), 'x by alice');
  });
});
