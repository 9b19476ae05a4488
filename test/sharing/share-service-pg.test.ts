import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ForbiddenError, NotFoundError } from '../../src/errors.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, CAROL, DAVE, ocs, seed, SHARES } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

describe('ShareService on PostgreSQL', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance({ db: 'pgsql' });
    await seed(t);
    await t.app.files.mkdir(BOB.uid, 'Project');
    await t.app.groups.create('team');
    await t.app.groups.addUser('team', BOB.uid);
    await t.app.groups.addUser('team', CAROL.uid);
  });
  after(async () => { await t.stop(); });

  it('creates, lists, resolves, updates and deletes user, group and link shares', async () => {
    const s = t.app.shares;
    const user = await s.create(userActor(ALICE.uid, 'password'), { uid: ALICE.uid, path: 'Project', shareType: 0, shareWith: BOB.uid, permissions: 1 });
    const group = await s.create(userActor(ALICE.uid, 'password'), { uid: ALICE.uid, path: 'Project/sub', shareType: 1, shareWith: 'team', permissions: 31 });
    const link = await s.create(userActor(ALICE.uid, 'password'), { uid: ALICE.uid, path: 'notes.txt', shareType: 3, password: 'pw', expireDate: '2099-06-30' });
    assert.equal(link.share.token!.length, 15);
    assert.equal(link.share.hasPassword, true);
    assert.equal(await s.checkLinkPassword(link.share, 'pw'), true);
    assert.equal(await s.checkLinkPassword(link.share, 'wrong'), false);
    assert.equal((await s.byToken(link.share.token!)).share.id, link.share.id);

    assert.deepEqual((await s.list(ALICE.uid)).map((x) => x.share.id), [user.share.id, group.share.id, link.share.id]);
    assert.deepEqual((await s.list(BOB.uid, { sharedWithMe: true })).map((x) => x.share.id), [user.share.id, group.share.id]);
    assert.deepEqual((await s.list(ALICE.uid, { path: 'Project', subfiles: true })).map((x) => x.share.id), [group.share.id]);

    const mounts = await t.app.shareResolver.mountsOf(BOB.uid);
    assert.deepEqual(mounts.map((m) => m.mountPoint), ['Project (2)', 'sub']);
    const r = await t.app.shareResolver.resolve(BOB.uid, 'Project (2)/sub/b.txt');
    assert.deepEqual([r.owner, r.path, r.permissions], [ALICE.uid, 'Project/sub/b.txt', 1]);
    assert.equal((await t.app.shareResolver.resolve(CAROL.uid, 'sub/b.txt')).permissions, 31);

    await assert.rejects(s.update(BOB.uid, user.share.id, { permissions: 31 }), ForbiddenError);
    await assert.rejects(s.get(DAVE.uid, user.share.id), NotFoundError);
    const up = await s.update(ALICE.uid, user.share.id, { permissions: 3 });
    assert.equal(up.share.permissions, 3);

    // a recipient removes a group share from their own tree only
    await s.delete(CAROL.uid, group.share.id);
    assert.equal((await t.app.shareResolver.mountsOf(CAROL.uid)).length, 0);
    assert.equal((await t.app.shareResolver.mountsOf(BOB.uid)).length, 2);

    for (const x of [user, group, link]) await s.delete(ALICE.uid, x.share.id);
    assert.equal((await s.list(ALICE.uid)).length, 0);
    assert.equal((await t.app.shareResolver.mountsOf(BOB.uid)).length, 0);
    await assert.rejects(s.byToken(link.share.token!), NotFoundError);
  });

  it('reshares need the share permission and never exceed it; unsharing drops them', async () => {
    const s = t.app.shares;
    const base = await s.create(userActor(ALICE.uid, 'password'), { uid: ALICE.uid, path: 'Project', shareType: 0, shareWith: BOB.uid, permissions: 1 | 16 });
    const mount = (await t.app.shareResolver.mountsOf(BOB.uid))[0]!.mountPoint;
    await assert.rejects(s.create(userActor(BOB.uid, 'password'), { uid: BOB.uid, path: `${mount}/a.txt`, shareType: 0, shareWith: DAVE.uid, permissions: 3 }), ForbiddenError);
    const re = await s.create(userActor(BOB.uid, 'password'), { uid: BOB.uid, path: `${mount}/a.txt`, shareType: 0, shareWith: DAVE.uid, permissions: 1 });
    assert.equal(re.share.owner, ALICE.uid);
    assert.equal(re.share.initiator, BOB.uid);
    assert.equal((await t.app.shareResolver.resolve(DAVE.uid, 'a.txt')).path, 'Project/a.txt');
    const viaOcs = await ocs(t, BOB, 'GET', SHARES);
    assert.equal(viaOcs.data[0].path, `/${mount}/a.txt`);
    assert.equal(viaOcs.data[0].uid_file_owner, ALICE.uid);
    await s.delete(ALICE.uid, base.share.id);
    assert.equal((await t.app.shareResolver.mountsOf(DAVE.uid)).length, 0, 'the reshare ended with the share');
  });

  it('the OCS API works the same on PostgreSQL', async () => {
    const r = await ocs(t, ALICE, 'POST', SHARES, { form: { path: '/Project', shareType: 0, shareWith: CAROL.uid } });
    assert.equal(r.http, 200);
    assert.equal(r.data.permissions, 31);
    assert.equal((await ocs(t, CAROL, 'GET', `${SHARES}?shared_with_me=true`)).data.length, 1);
  });
});
