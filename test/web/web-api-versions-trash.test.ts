/**
 * The web UI's JSON API for versions and the trash bin (issue #15): what the browser calls, with
 * the session cookie. Writes need the session's requesttoken (403 and nothing changes without it);
 * bad input is a clear 4xx and changes nothing; who may do what is the services' rule (a stranger
 * sees nothing, a read-only recipient lists and downloads but cannot restore or label, a recipient
 * with update permission restores; an item deleted from someone's share is restored by the
 * deleter but deleted for good only by its owner).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, CAROL, seed, share } from '../sharing/helpers.ts';
import { SYSTEM, userActor } from '../../src/actor.ts';

describe('web API: versions and deleted files', () => {
  let t: TestInstance;
  const session: Record<string, { cookie: string; requesttoken: string }> = {};
  const api = (as: string, method: string, route: string, body?: unknown, opts: { csrf?: boolean } = {}) => {
    const h: Record<string, string> = { cookie: session[as]!.cookie };
    if (opts.csrf !== false) h.requesttoken = session[as]!.requesttoken;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    return fetch(`${t.url}/web/api/${route}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  const write = (uid: string, path: string, content: string, mtime: number) =>
    t.app.files.writeFile(userActor(uid, 'password'), uid, path, Readable.from([Buffer.from(content)]), { mtime });
  const read = async (uid: string, path: string) => {
    const parts: Buffer[] = [];
    for await (const c of (await t.app.files.openRead(SYSTEM, uid, path)).stream) parts.push(c as Buffer);
    return Buffer.concat(parts).toString();
  };
  let docId: number;
  let roId: number;

  before(async () => {
    t = await startTestInstance();
    await seed(t);
    for (const u of [ALICE, BOB, CAROL]) {
      const s = await t.app.sessions.create(u.uid, {});
      session[u.uid] = { cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken };
    }
    await t.app.files.mkdir(ALICE.uid, 'ReadOnly');
    await write(ALICE.uid, 'Project/doc.txt', 'one', 1_700_000_000);
    await write(ALICE.uid, 'Project/doc.txt', 'two!', 1_700_000_100);
    await write(ALICE.uid, 'ReadOnly/ro.txt', 'old', 1_700_000_000);
    await write(ALICE.uid, 'ReadOnly/ro.txt', 'new', 1_700_000_100);
    docId = (await t.app.files.stat(ALICE.uid, 'Project/doc.txt')).fileId;
    roId = (await t.app.files.stat(ALICE.uid, 'ReadOnly/ro.txt')).fileId;
    await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    await share(t, ALICE, { path: '/ReadOnly', shareType: 0, shareWith: BOB.uid, permissions: 1 });
  });
  after(async () => { await t?.stop(); });

  test('the owner lists, downloads and labels; the answers carry sizes, authors, labels', async () => {
    const r = await api(ALICE.uid, 'GET', `versions/${docId}`);
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.file.size, 4);
    assert.equal(j.file.author, ALICE.uid);
    assert.equal(j.permissions, 31);
    assert.deepEqual(j.versions.map((v: { version: number; size: number; label: string; authorName: string }) => [v.version, v.size, v.label, v.authorName]),
      [[1_700_000_000, 3, '', ALICE.uid]]);
    const dl = await api(ALICE.uid, 'GET', `versions/${docId}/1700000000/download`);
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition')!, /filename="doc\.txt"/);
    assert.equal(await dl.text(), 'one');
    assert.equal((await api(ALICE.uid, 'POST', `versions/${docId}/1700000000/label`, { label: '  kept  ' })).status, 200);
    assert.equal((await t.app.versions.repo.list(t.app.db, docId))[0]!.label, 'kept');
  });

  test('writes without the requesttoken are refused and change nothing', async () => {
    for (const [route, body] of [[`versions/${docId}/1700000000/restore`, undefined], [`versions/${docId}/1700000000/delete`, undefined],
      [`versions/${docId}/1700000000/label`, { label: 'csrf' }], ['trash/empty', undefined]] as const) {
      const r = await api(ALICE.uid, 'POST', route, body, { csrf: false });
      assert.equal(r.status, 403, route);
      assert.equal((await r.json()).error.code, 'csrf');
    }
    assert.equal(await read(ALICE.uid, 'Project/doc.txt'), 'two!');
    assert.deepEqual((await t.app.versions.repo.list(t.app.db, docId)).map((v) => v.label), ['kept']);
    const anon = await fetch(`${t.url}/web/api/versions/${docId}`);
    assert.equal(anon.status, 401);
  });

  test('bad input is a clear 4xx and changes nothing', async () => {
    for (const [method, route, body, status] of [
      ['GET', 'versions/abc', undefined, 404],
      ['GET', `versions/${docId}/notanumber/download`, undefined, 404],
      ['GET', `versions/${docId}/1699999999/download`, undefined, 404],
      ['POST', `versions/${docId}/1700000000/label`, { label: 5 }, 400],
      ['POST', `versions/${docId}/1700000000/label`, { label: 'bad\u0007bell' }, 400],
      ['POST', `versions/${docId}/1700000000/label`, { label: 'x'.repeat(256) }, 400],
      ['POST', `versions/${docId}/1700000000/label`, '{not json', 400],
      ['POST', `versions/${docId}/1700000000/explode`, undefined, 404],
      ['POST', 'trash/restore', {}, 400],
      ['POST', 'trash/restore', { item: 'not-a-trash-name' }, 404],
      ['POST', 'trash/delete', { item: 'notes.txt.d1', path: '../x' }, 400],
      ['GET', `trash?item=${encodeURIComponent('ghost.txt.d123')}`, undefined, 404],
    ] as const) {
      const r = body === '{not json'
        ? await fetch(`${t.url}/web/api/${route}`, { method, headers: { ...session[ALICE.uid]!, 'Content-Type': 'application/json' }, body })
        : await api(ALICE.uid, method, route, body);
      assert.equal(r.status, status, `${method} ${route} ${JSON.stringify(body)}: ${r.status}`);
      assert.ok((await r.json()).error.message);
    }
    assert.deepEqual((await t.app.versions.repo.list(t.app.db, docId)).map((v) => v.label), ['kept']);
    assert.equal(await read(ALICE.uid, 'Project/doc.txt'), 'two!');
  });

  test('a stranger sees nothing; a read-only recipient lists and downloads only; an editor restores', async () => {
    assert.equal((await api(CAROL.uid, 'GET', `versions/${docId}`)).status, 404);
    assert.equal((await api(CAROL.uid, 'GET', `versions/${docId}/1700000000/download`)).status, 404);
    assert.equal((await api(CAROL.uid, 'POST', `versions/${docId}/1700000000/restore`)).status, 404);

    const ro = await api(BOB.uid, 'GET', `versions/${roId}`);
    assert.equal(ro.status, 200);
    assert.equal((await ro.json()).permissions & 2, 0);
    assert.equal(await (await api(BOB.uid, 'GET', `versions/${roId}/1700000000/download`)).text(), 'old');
    for (const [route, body] of [['restore', undefined], ['delete', undefined], ['label', { label: 'mine' }]] as const) {
      assert.equal((await api(BOB.uid, 'POST', `versions/${roId}/1700000000/${route}`, body)).status, 403, route);
    }
    assert.equal(await read(ALICE.uid, 'ReadOnly/ro.txt'), 'new');
    assert.equal((await t.app.versions.repo.list(t.app.db, roId)).length, 1);

    const back = await api(BOB.uid, 'POST', `versions/${docId}/1700000000/restore`);
    assert.equal(back.status, 200);
    assert.equal((await back.json()).size, 3);
    assert.equal(await read(ALICE.uid, 'Project/doc.txt'), 'one');
    assert.equal((await t.app.files.stat(ALICE.uid, 'Project/doc.txt')).fileId, docId);
  });

  test('deleted files: each sees their own; a recipient restores what they deleted from a share, its owner deletes it for good', async () => {
    assert.equal((await api(BOB.uid, 'POST', 'files/delete', { path: 'Project/a.txt' })).status, 200);
    assert.equal((await api(ALICE.uid, 'POST', 'files/delete', { path: 'notes.txt' })).status, 200);
    const mine = await (await api(ALICE.uid, 'GET', 'trash')).json();
    assert.deepEqual(mine.items.map((i: { name: string; originalLocation: string; deletedBy: string }) => [i.name, i.originalLocation, i.deletedBy]).sort(),
      [['a.txt', 'Project/a.txt', BOB.uid], ['notes.txt', 'notes.txt', ALICE.uid]]);
    const bobs = await (await api(BOB.uid, 'GET', 'trash')).json();
    assert.deepEqual(bobs.items.map((i: { name: string; owner?: string }) => [i.name, i.owner]), [['a.txt', ALICE.uid]]);
    assert.deepEqual((await (await api(CAROL.uid, 'GET', 'trash')).json()).items, []);
    const aItem = bobs.items[0].item as string;
    const notesItem = mine.items.find((i: { name: string }) => i.name === 'notes.txt').item as string;

    // bob cannot reach alice's own item
    assert.equal((await api(BOB.uid, 'POST', 'trash/restore', { item: notesItem })).status, 404);
    assert.equal((await api(BOB.uid, 'POST', 'trash/delete', { item: notesItem })).status, 404);

    const r = await api(BOB.uid, 'POST', 'trash/restore', { item: aItem });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).path, 'Project/a.txt');
    assert.equal(await read(ALICE.uid, 'Project/a.txt'), 'alpha');

    // deleted again, twice: bob's delete and bob's "empty" remove them from his view only
    assert.equal((await api(BOB.uid, 'POST', 'files/delete', { path: 'Project/a.txt' })).status, 200);
    const first = (await (await api(BOB.uid, 'GET', 'trash')).json()).items[0].item as string;
    assert.equal((await api(BOB.uid, 'POST', 'trash/delete', { item: first })).status, 200);
    assert.deepEqual((await (await api(BOB.uid, 'GET', 'trash')).json()).items, []);
    await write(ALICE.uid, 'Project/a.txt', 'alpha again', 1_700_000_250);
    assert.equal((await api(BOB.uid, 'POST', 'files/delete', { path: 'Project/a.txt' })).status, 200);
    assert.equal((await (await api(BOB.uid, 'POST', 'trash/empty')).json()).deleted, 1);
    assert.deepEqual((await (await api(BOB.uid, 'GET', 'trash')).json()).items, []);
    assert.equal((await t.app.trash.usage(ALICE.uid)).count, 3, 'alice keeps notes.txt and both a.txt items');
    for (const i of (await (await api(ALICE.uid, 'GET', 'trash')).json()).items.filter((x: { name: string }) => x.name === 'a.txt')) {
      assert.equal((await api(ALICE.uid, 'POST', 'trash/delete', { item: i.item })).status, 200, 'the owner deletes them for good');
    }
    assert.equal((await t.app.trash.usage(ALICE.uid)).count, 1);
    // restored over a taken name: "name (restored)"
    await write(ALICE.uid, 'notes.txt', 'newer notes', 1_700_000_300);
    const again = await (await api(ALICE.uid, 'POST', 'trash/restore', { item: notesItem })).json();
    assert.equal(again.path, 'notes (restored).txt');
    assert.equal(await read(ALICE.uid, 'notes (restored).txt'), 'my notes');
  });

  test('deleted folders: browse in, restore or delete one member, empty', async () => {
    assert.equal((await api(ALICE.uid, 'POST', 'files/delete', { path: 'Project/sub' })).status, 200);
    await t.app.files.mkdir(ALICE.uid, 'Project/sub'); // a new folder of the same name
    await write(ALICE.uid, 'Project/sub/c.txt', 'charlie', 1_700_000_400);
    assert.equal((await api(ALICE.uid, 'POST', 'files/delete', { path: 'Project/sub/c.txt' })).status, 200);
    const list = await (await api(ALICE.uid, 'GET', 'trash')).json();
    const sub = list.items.find((i: { name: string; type: string }) => i.name === 'sub' && i.type === 'dir');
    const inside = await (await api(ALICE.uid, 'GET', `trash?item=${encodeURIComponent(sub.item)}`)).json();
    assert.equal(inside.folder.name, 'sub');
    assert.deepEqual(inside.items.map((i: { name: string; path: string; originalLocation: string }) => [i.name, i.path, i.originalLocation]),
      [['b.txt', 'b.txt', 'Project/sub/b.txt']]);
    const r = await (await api(ALICE.uid, 'POST', 'trash/restore', { item: sub.item, path: 'b.txt' })).json();
    assert.equal(r.path, 'Project/sub/b.txt');
    assert.equal(await read(ALICE.uid, 'Project/sub/b.txt'), 'bravo');
    assert.equal((await api(ALICE.uid, 'POST', 'trash/delete', { item: sub.item })).status, 200);
    const left = (await (await api(ALICE.uid, 'GET', 'trash')).json()).items.map((i: { name: string }) => i.name);
    assert.deepEqual(left, ['c.txt']);
    assert.equal((await (await api(ALICE.uid, 'POST', 'trash/empty')).json()).deleted, 1);
    assert.deepEqual((await (await api(ALICE.uid, 'GET', 'trash')).json()).items, []);
  });
});
