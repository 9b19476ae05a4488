/**
 * Received shares through WebDAV (the recipient's tree). These tests switch themselves on once the
 * DAV adapter calls the ShareResolver (the integration list in the sharing report); until then a
 * recipient's root has no mounts and each test is skipped with that reason.
 */
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, CAROL, propfind, seed, share } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const PROPS = '<d:resourcetype/><d:getetag/><oc:permissions/><oc:share-types/><oc:fileid/><oc:owner-id/>';

describe('received shares in the recipient WebDAV tree', () => {
  let t: TestInstance;
  let integrated = false;
  before(async () => {
    t = await startTestInstance();
    await seed(t);
    await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: BOB.uid, permissions: 1 });
    await share(t, ALICE, { path: '/Project/sub', shareType: 0, shareWith: CAROL.uid, permissions: 31 });
    const root = await propfind(t, BOB, `/remote.php/dav/files/${BOB.uid}/`, PROPS);
    integrated = root.body.includes(`/remote.php/dav/files/${BOB.uid}/Project/`);
  });
  after(async () => { await t.stop(); });
  const gate = (c: TestContext) => { if (!integrated) c.skip('DAV integration of ShareResolver not applied yet'); return integrated; };

  it('the root lists the mount with S and M, and without letters a read share does not grant', async (c) => {
    if (!gate(c)) return;
    const r = await propfind(t, BOB, `/remote.php/dav/files/${BOB.uid}/`, PROPS);
    const entry = r.body.split('<d:response>').find((x) => x.includes(`/files/${BOB.uid}/Project/`))!;
    const perms = /<oc:permissions>([A-Z]*)<\/oc:permissions>/.exec(entry)![1]!;
    assert.ok(perms.includes('S') && perms.includes('M') && perms.includes('G'), perms);
    assert.ok(!/[CKW]/.test(perms), `read-only share must not offer create/write: ${perms}`);
    assert.match(entry, new RegExp(`<oc:owner-id>${ALICE.uid}</oc:owner-id>`));
  });

  it('the recipient reads through the mount; writes a read share does not permit get 403', async (c) => {
    if (!gate(c)) return;
    const get = await t.fetch(`/remote.php/dav/files/${BOB.uid}/Project/sub/b.txt`, { as: BOB });
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'bravo');
    const put = await t.fetch(`/remote.php/dav/files/${BOB.uid}/Project/x.txt`, { as: BOB, method: 'PUT', body: 'x' });
    assert.equal(put.status, 403);
    const del = await t.fetch(`/remote.php/dav/files/${BOB.uid}/Project/a.txt`, { as: BOB, method: 'DELETE' });
    assert.equal(del.status, 403);
    assert.ok(await t.app.files.tryStat(ALICE.uid, 'Project/a.txt'));
  });

  it('a writable share accepts writes into the owner tree', async (c) => {
    if (!gate(c)) return;
    const put = await t.fetch(`/remote.php/dav/files/${CAROL.uid}/sub/new.txt`, { as: CAROL, method: 'PUT', body: 'from carol' });
    assert.equal(put.status, 201);
    let text = '';
    for await (const chunk of (await t.app.files.openRead(userActor(ALICE.uid, 'password'), ALICE.uid, 'Project/sub/new.txt')).stream) text += chunk.toString();
    assert.equal(text, 'from carol');
  });

  it('the owner sees oc:share-types on the shared folder', async (c) => {
    if (!gate(c)) return;
    const r = await propfind(t, ALICE, `/remote.php/dav/files/${ALICE.uid}/`, PROPS);
    const entry = r.body.split('<d:response>').find((x) => x.includes(`/files/${ALICE.uid}/Project/`))!;
    assert.match(entry, /<oc:share-type>0<\/oc:share-type>/);
  });

  it('paths inside a mount keep the mount name in hrefs, never the owner path', async (c) => {
    if (!gate(c)) return;
    const r = await propfind(t, BOB, `/remote.php/dav/files/${BOB.uid}/Project/`, PROPS);
    assert.equal(r.status, 207);
    assert.match(r.body, new RegExp(`<d:href>/remote.php/dav/files/${BOB.uid}/Project/sub/</d:href>`));
    assert.match(r.body, new RegExp(`<d:href>/remote.php/dav/files/${BOB.uid}/Project/a.txt</d:href>`));
    assert.doesNotMatch(r.body, /files\/alice/);
  });

  it('MOVE of a mount root renames it for the recipient only; DELETE removes it from their tree', async (c) => {
    if (!gate(c)) return;
    const mv = await t.fetch(`/remote.php/dav/files/${CAROL.uid}/sub`, {
      as: CAROL, method: 'MOVE', headers: { Destination: `${t.url}/remote.php/dav/files/${CAROL.uid}/From Alice` },
    });
    assert.equal(mv.status, 201);
    const get = await t.fetch(`/remote.php/dav/files/${CAROL.uid}/From%20Alice/b.txt`, { as: CAROL });
    assert.equal(await get.text(), 'bravo');
    assert.ok(await t.app.files.tryStat(ALICE.uid, 'Project/sub'), 'the owner tree is unchanged');
    const del = await t.fetch(`/remote.php/dav/files/${CAROL.uid}/From%20Alice`, { as: CAROL, method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await t.app.shareResolver.mountsOf(CAROL.uid)).length, 0);
    assert.ok(await t.app.files.tryStat(ALICE.uid, 'Project/sub/b.txt'), 'nothing of the owner is deleted');
  });

  it('no user reaches another user tree through a path', async () => {
    const r = await t.fetch(`/remote.php/dav/files/${ALICE.uid}/notes.txt`, { as: BOB });
    assert.equal(r.status, 403);
    const mine = await t.fetch(`/remote.php/dav/files/${BOB.uid}/notes.txt`, { as: BOB });
    assert.equal(mine.status, 404, 'notes.txt is not shared with bob');
  });
});
