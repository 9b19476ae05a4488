import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '../../src/errors.ts';
import { davPermissions } from '../../src/sharing/share-permissions.ts';
import { numberedName } from '../../src/sharing/share-resolver.ts';
import { assertPermitted, presentMount, presentNode, permissionLetters } from '../../src/sharing/share-access.ts';
import { ForbiddenError } from '../../src/errors.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, CAROL, DAVE, put, seed, share } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

describe('ShareResolver: how received shares appear in the recipient tree', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await seed(t);
    await t.app.files.mkdir(BOB.uid, 'Project'); // bob's own folder of the same name
    await put(t, BOB.uid, 'Project/mine.txt', 'bob owns this');
  });
  after(async () => { await t.stop(); });

  it('names clashing mounts "Foo (2)" and "a (2).txt"', () => {
    assert.equal(numberedName('Foo', 1), 'Foo');
    assert.equal(numberedName('Foo', 2), 'Foo (2)');
    assert.equal(numberedName('a.txt', 3), 'a (3).txt');
    assert.equal(numberedName('.hidden', 2), '.hidden (2)');
  });

  it('is the identity with all permissions outside shares', async () => {
    assert.deepEqual(await t.app.shareResolver.resolve(BOB.uid, 'Project/mine.txt'), { owner: BOB.uid, path: 'Project/mine.txt', permissions: 31 });
    assert.deepEqual(await t.app.shareResolver.resolve(BOB.uid, ''), { owner: BOB.uid, path: '', permissions: 31 });
  });

  it('maps a mount and paths below it to the owner tree, with the share permissions', async () => {
    const s = await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: BOB.uid, permissions: 3 });
    assert.equal(s.path, '/Project');
    const mounts = await t.app.shareResolver.mountsOf(BOB.uid);
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]!.mountPoint, 'Project (2)', 'bob already has a Project');
    assert.equal(mounts[0]!.owner, ALICE.uid);
    assert.equal(mounts[0]!.node.path, 'Project');
    assert.equal(mounts[0]!.permissions, 3);

    const r = await t.app.shareResolver.resolve(BOB.uid, 'Project (2)/sub/b.txt');
    assert.deepEqual(r, { owner: ALICE.uid, path: 'Project/sub/b.txt', permissions: 3, shareId: Number(s.id), mountPoint: 'Project (2)', mountNodePath: 'Project' });
    const content = await t.app.files.openRead(userActor(r.owner, 'password'), r.owner, r.path);
    let text = '';
    for await (const c of content.stream) text += c.toString();
    assert.equal(text, 'bravo');
    // bob's own folder is untouched
    assert.equal((await t.app.shareResolver.resolve(BOB.uid, 'Project/mine.txt')).owner, BOB.uid);

    const mine = await t.app.shares.list(BOB.uid, { sharedWithMe: true });
    assert.equal(mine.length, 1);
    const viewed = await t.fetch(`/ocs/v2.php/apps/files_sharing/api/v1/shares?shared_with_me=true&format=json`, { as: BOB, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal((await viewed.json() as any).ocs.data[0].file_target, '/Project (2)');
  });

  it('share-access helpers: permission checks and how owner nodes are presented to the recipient', async () => {
    const r = await t.app.shareResolver.resolve(BOB.uid, 'Project (2)/sub');
    assertPermitted(r, 'read');
    assertPermitted(r, 'update');
    assert.throws(() => assertPermitted(r, 'create'), ForbiddenError);
    assert.throws(() => assertPermitted(r, 'delete'), ForbiddenError);
    const node = await t.app.files.stat(r.owner, r.path);
    const shown = presentNode(node, r);
    assert.equal(shown.path, 'Project (2)/sub');
    assert.equal(shown.name, 'sub');
    assert.equal(shown.fileId, node.fileId);
    const rootR = await t.app.shareResolver.resolve(BOB.uid, 'Project (2)');
    const rootShown = presentNode(await t.app.files.stat(rootR.owner, rootR.path), rootR);
    assert.deepEqual([rootShown.path, rootShown.name], ['Project (2)', 'Project (2)']);
    const bobRoot = await t.app.files.stat(BOB.uid, '');
    const m = presentMount((await t.app.shareResolver.mountsOf(BOB.uid))[0]!, bobRoot.fileId);
    assert.deepEqual([m.path, m.name, m.parentId, m.owner], ['Project (2)', 'Project (2)', bobRoot.fileId, ALICE.uid]);
    assert.equal(permissionLetters(node, r, false), 'SGNV');
    assert.equal(permissionLetters(node, rootR, true), 'SMGDNV');
    assert.equal(permissionLetters(node, await t.app.shareResolver.resolve(BOB.uid, 'Project'), false), 'RGDNVCK');
  });

  it('renames follow the file id: a moved shared folder stays shared', async () => {
    await t.app.files.move(userActor(ALICE.uid, 'password'), ALICE.uid, 'Project', 'Renamed');
    const r = await t.app.shareResolver.resolve(BOB.uid, 'Project (2)/a.txt');
    assert.equal(r.path, 'Renamed/a.txt');
    await t.app.files.move(userActor(ALICE.uid, 'password'), ALICE.uid, 'Renamed', 'Project');
  });

  it('a user and a group share of one node make one mount with the union of permissions', async () => {
    await t.app.groups.create('crew');
    await t.app.groups.addUser('crew', BOB.uid);
    await share(t, ALICE, { path: '/Project', shareType: 1, shareWith: 'crew', permissions: 17 });
    const mounts = await t.app.shareResolver.mountsOf(BOB.uid);
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]!.permissions, 3 | 17);
    assert.equal(mounts[0]!.shareIds.length, 2);
    assert.equal((await t.app.shareResolver.resolve(BOB.uid, 'Project (2)')).permissions, 19);
  });

  it('a file share is a file mount; nothing lives below it', async () => {
    await share(t, ALICE, { path: '/notes.txt', shareType: 0, shareWith: CAROL.uid, permissions: 1 });
    const r = await t.app.shareResolver.resolve(CAROL.uid, 'notes.txt');
    assert.equal(r.path, 'notes.txt');
    assert.equal(r.owner, ALICE.uid);
    await assert.rejects(t.app.shareResolver.resolve(CAROL.uid, 'notes.txt/x'), NotFoundError);
  });

  it('shareTypesOf marks the owner side for oc:share-types', async () => {
    await share(t, ALICE, { path: '/notes.txt', shareType: 3 });
    const project = await t.app.files.stat(ALICE.uid, 'Project');
    const notes = await t.app.files.stat(ALICE.uid, 'notes.txt');
    const a = await t.app.files.stat(ALICE.uid, 'Project/a.txt');
    const types = await t.app.shareResolver.shareTypesOf(ALICE.uid, [project.fileId, notes.fileId, a.fileId]);
    assert.deepEqual(types.get(project.fileId), [0, 1]);
    assert.deepEqual(types.get(notes.fileId), [0, 3]);
    assert.equal(types.get(a.fileId), undefined);
  });

  it('shareTypesOf gives the same answer for a big listing (one query over the owner\'s shares)', async () => {
    await t.app.files.mkdir(ALICE.uid, 'Many');
    for (let i = 0; i < 60; i++) await put(t, ALICE.uid, `Many/f${i}.txt`, `file ${i}`);
    await share(t, ALICE, { path: '/Many/f7.txt', shareType: 3 });
    await share(t, ALICE, { path: '/Many/f42.txt', shareType: 0, shareWith: BOB.uid, permissions: 1 });
    const expired = await share(t, ALICE, { path: '/Many/f9.txt', shareType: 3 });
    await t.app.db.updateTable('shares').set({ expiration: Math.floor(Date.now() / 1000) - 10 }).where('id', '=', Number(expired.id)).execute();
    const kids = await t.app.files.children(ALICE.uid, 'Many');
    const big = await t.app.shareResolver.shareTypesOf(ALICE.uid, kids.map((k) => k.fileId));
    const byName = new Map([...big].map(([id, types]) => [kids.find((k) => k.fileId === id)!.name, types]));
    assert.deepEqual(Object.fromEntries(byName), { 'f7.txt': [3], 'f42.txt': [0] });
    // The same ids asked a few at a time (the IN-list path) agree.
    const small = new Map<number, number[]>();
    for (let i = 0; i < kids.length; i += 20) for (const [k, v] of await t.app.shareResolver.shareTypesOf(ALICE.uid, kids.slice(i, i + 20).map((n) => n.fileId))) small.set(k, v);
    assert.deepEqual(small, big);
  });

  it('expired shares and shares of deleted nodes no longer resolve', async () => {
    await t.app.files.mkdir(ALICE.uid, 'Temp');
    const s = await share(t, ALICE, { path: '/Temp', shareType: 0, shareWith: DAVE.uid, permissions: 1 });
    assert.equal((await t.app.shareResolver.resolve(DAVE.uid, 'Temp')).owner, ALICE.uid);
    await t.app.db.updateTable('shares').set({ expiration: Math.floor(Date.now() / 1000) - 10 }).where('id', '=', Number(s.id)).execute();
    assert.equal((await t.app.shareResolver.resolve(DAVE.uid, 'Temp')).owner, DAVE.uid);
    await t.app.db.updateTable('shares').set({ expiration: null }).where('id', '=', Number(s.id)).execute();
    assert.equal((await t.app.shareResolver.resolve(DAVE.uid, 'Temp')).owner, ALICE.uid);
    await t.app.files.delete(ALICE.uid, 'Temp');
    assert.equal((await t.app.shareResolver.resolve(DAVE.uid, 'Temp')).owner, DAVE.uid);
    assert.equal((await t.app.shareResolver.mountsOf(DAVE.uid)).length, 0);
  });

  it('renameMount and unshareFromSelf change only the recipient tree', async () => {
    await t.app.shares.renameMount(CAROL.uid, 'notes.txt', 'from-alice.txt');
    assert.equal((await t.app.shareResolver.resolve(CAROL.uid, 'from-alice.txt')).owner, ALICE.uid);
    await t.app.shares.unshareFromSelf(CAROL.uid, 'from-alice.txt');
    assert.equal((await t.app.shareResolver.mountsOf(CAROL.uid)).length, 0);
    assert.ok(await t.app.files.tryStat(ALICE.uid, 'notes.txt'), 'the owner keeps the file');
  });

  it('renders oc:permissions letters for shared nodes', () => {
    assert.equal(davPermissions('dir', 31, { shared: false, mountRoot: false }), 'RGDNVCK');
    assert.equal(davPermissions('file', 31, { shared: false, mountRoot: false }), 'RGDNVW');
    assert.equal(davPermissions('dir', 1, { shared: true, mountRoot: true }), 'SMGDNV');
    assert.equal(davPermissions('dir', 1, { shared: true, mountRoot: false }), 'SG');
    assert.equal(davPermissions('file', 3, { shared: true, mountRoot: false }), 'SGNVW');
    assert.equal(davPermissions('dir', 5, { shared: true, mountRoot: false }), 'SGCK');
  });
});
