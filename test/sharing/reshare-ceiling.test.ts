/**
 * The reshare ceiling over HTTP: a reshare (and a link made by a resharer) never grants more
 * than its initiator holds on that node now, in OCS and the web API alike; a downgrade reaches the
 * reshares below it at once (and an upgrade restores them); a disabled user's shares and links stop
 * working for reading and writing, and come back when the account is enabled again.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, CAROL, DAVE, ocs, put, share, SHARES, type Creds } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const MALLORY = { uid: 'mallory', password: 'mallory-password-1' } as const;
const dav = (uid: string, path: string) => `/remote.php/dav/files/${uid}/${path}`;
const tokenAuth = (token: string) => 'Basic ' + Buffer.from(`${token}:`).toString('base64');

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`reshare ceilings, downgrades and disabled sharers (${db})`, () => {
    let t: TestInstance;
    let webHeaders: Record<string, string>;
    const web = (method: string, route: string, body?: unknown) => fetch(`${t.url}/web/api/${route}`, {
      method, headers: { ...webHeaders, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const davPut = (as: Creds, path: string, body: string) => t.fetch(dav(as.uid, path), { method: 'PUT', as, body });
    const davGet = (as: Creds, path: string) => t.fetch(dav(as.uid, path), { as });
    const text = async (uid: string, path: string) => {
      const parts: Buffer[] = [];
      for await (const c of (await t.app.files.openRead(userActor(uid, 'password'), uid, path)).stream) parts.push(c as Buffer);
      return Buffer.concat(parts).toString();
    };

    before(async () => {
      t = await startTestInstance({ db });
      for (const u of [ALICE, BOB, CAROL, DAVE, MALLORY]) await t.addUser(u.uid, u.password);
      await t.app.files.mkdir(ALICE.uid, 'ro');
      await put(t, ALICE.uid, 'ro/keep.txt', 'alice keeps this');
      await t.app.files.mkdir(BOB.uid, 'bw');
      const s = await t.app.sessions.create(MALLORY.uid, {});
      webHeaders = { cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken };
    });
    after(async () => { await t?.stop(); });
    afterEach(async () => { await t.app.throttle.registerSuccess('127.0.0.1', ''); });

    test('item 1: a read-only reshare cannot be widened through OCS or the web API, even with a writable share from someone else', async () => {
      // mallory holds alice's /ro with read+share (17), and an unrelated read-write share from bob
      await share(t, ALICE, { path: '/ro', shareType: 0, shareWith: MALLORY.uid, permissions: 17 });
      await share(t, BOB, { path: '/bw', shareType: 0, shareWith: MALLORY.uid, permissions: 31 });
      const re = await share(t, MALLORY, { path: '/ro', shareType: 0, shareWith: CAROL.uid, permissions: 1 });

      const byOcs = await ocs(t, MALLORY, 'PUT', `${SHARES}/${re.id}`, { form: { permissions: 31 } });
      assert.equal(byOcs.http, 403, byOcs.message);
      const byWeb = await web('PUT', `shares/${re.id}`, { permissions: 31 });
      assert.equal(byWeb.status, 403, await byWeb.text());
      const created = await ocs(t, MALLORY, 'POST', SHARES, { form: { path: '/ro', shareType: 0, shareWith: DAVE.uid, permissions: 31 } });
      assert.equal(created.http, 403, created.message);
      const createdWeb = await web('POST', 'shares', { path: 'ro', shareType: 0, shareWith: DAVE.uid, permissions: 31 });
      assert.equal(createdWeb.status, 403, await createdWeb.text());
      assert.equal((await ocs(t, MALLORY, 'PUT', `${SHARES}/${re.id}`, { form: { permissions: 17 } })).http, 200, 'within the ceiling is fine');

      // nothing changed: carol still reads only
      assert.equal((await ocs(t, CAROL, 'GET', `${SHARES}/${re.id}`)).data[0].permissions, 17);
      assert.equal((await davPut(CAROL, 'ro/keep.txt', 'carol was here')).status, 403);
      assert.equal((await t.fetch(dav(CAROL.uid, 'ro/keep.txt'), { method: 'DELETE', as: CAROL })).status, 403);
      assert.equal(await text(ALICE.uid, 'ro/keep.txt'), 'alice keeps this');
      // the web API tells the UI what it may offer
      const listed = await web('GET', 'shares?path=ro');
      assert.equal(listed.status, 200);
      assert.equal((await listed.json() as { ceiling: number }).ceiling, 17);
    });

    test('item 1: a read-only public link of a resharer cannot become an upload link', async () => {
      const link = await share(t, MALLORY, { path: '/ro', shareType: 3 });
      assert.equal(link.permissions, 1);
      const up = await ocs(t, MALLORY, 'PUT', `${SHARES}/${link.id}`, { form: { publicUpload: 'true' } });
      assert.equal(up.http, 403, up.message);
      const upWeb = await web('PUT', `shares/${link.id}`, { permissions: 15 });
      assert.equal(upWeb.status, 403, await upWeb.text());
      const newLink = await ocs(t, MALLORY, 'POST', SHARES, { form: { path: '/ro', shareType: 3, publicUpload: 'true' } });
      assert.equal(newLink.http, 403, newLink.message);
      const anon = await fetch(`${t.url}/public.php/webdav/evil.txt`, { method: 'PUT', headers: { Authorization: tokenAuth(link.token) }, body: 'x' });
      assert.equal(anon.status, 403);
      const del = await fetch(`${t.url}/public.php/webdav/keep.txt`, { method: 'DELETE', headers: { Authorization: tokenAuth(link.token) } });
      assert.ok(del.status === 403 || del.status === 405, `DELETE through a read-only link: ${del.status}`);
      assert.equal(await text(ALICE.uid, 'ro/keep.txt'), 'alice keeps this');
      assert.equal(await t.app.files.tryStat(ALICE.uid, 'ro/evil.txt'), undefined);
    });

    test('item 7: a downgrade caps the reshares below it at once (chains and links too); an upgrade restores them', async () => {
      await t.app.files.mkdir(ALICE.uid, 'P');
      await put(t, ALICE.uid, 'P/doc.txt', 'v1');
      const toMallory = await share(t, ALICE, { path: '/P', shareType: 0, shareWith: MALLORY.uid, permissions: 31 });
      const toCarol = await share(t, MALLORY, { path: '/P', shareType: 0, shareWith: CAROL.uid, permissions: 31 });
      await share(t, CAROL, { path: '/P', shareType: 0, shareWith: DAVE.uid, permissions: 31 });
      const link = await share(t, MALLORY, { path: '/P', shareType: 3, publicUpload: 'true' });
      assert.equal(link.permissions, 15);
      assert.equal((await davPut(CAROL, 'P/doc.txt', 'v2 by carol')).status, 204);
      assert.equal((await davPut(DAVE, 'P/doc.txt', 'v3 by dave')).status, 204);

      // alice takes write away from mallory: carol, dave and mallory's link follow
      assert.equal((await ocs(t, ALICE, 'PUT', `${SHARES}/${toMallory.id}`, { form: { permissions: 17 } })).http, 200);
      assert.equal((await davPut(CAROL, 'P/doc.txt', 'carol again')).status, 403);
      assert.equal((await davPut(DAVE, 'P/doc.txt', 'dave again')).status, 403);
      assert.equal((await t.fetch(dav(DAVE.uid, 'P/doc.txt'), { method: 'DELETE', as: DAVE })).status, 403);
      const anon = await fetch(`${t.url}/public.php/webdav/anon.txt`, { method: 'PUT', headers: { Authorization: tokenAuth(link.token) }, body: 'x' });
      assert.equal(anon.status, 403);
      assert.equal(await text(ALICE.uid, 'P/doc.txt'), 'v3 by dave');
      assert.equal(await t.app.files.tryStat(ALICE.uid, 'P/anon.txt'), undefined);
      assert.equal((await ocs(t, CAROL, 'GET', `${SHARES}/${toCarol.id}`)).data[0].permissions, 17, 'shown as it works');
      assert.equal((await davGet(DAVE, 'P/doc.txt')).status, 200, 'reading still works');

      // no share permission left for mallory: her reshares (and what hangs below them) stop
      assert.equal((await ocs(t, ALICE, 'PUT', `${SHARES}/${toMallory.id}`, { form: { permissions: 1 } })).http, 200);
      assert.equal((await davGet(CAROL, 'P/doc.txt')).status, 404);
      assert.equal((await davGet(DAVE, 'P/doc.txt')).status, 404);
      assert.equal((await fetch(`${t.url}/s/${link.token}`)).status, 404);

      // alice gives it all back: the reshares work as they were made
      assert.equal((await ocs(t, ALICE, 'PUT', `${SHARES}/${toMallory.id}`, { form: { permissions: 31 } })).http, 200);
      assert.equal((await davPut(DAVE, 'P/doc.txt', 'v4 by dave')).status, 204);
      assert.equal(await text(ALICE.uid, 'P/doc.txt'), 'v4 by dave');
      assert.equal((await fetch(`${t.url}/s/${link.token}`)).status, 200);
    });

    test('item 17: a disabled user\'s shares, links and reshares stop for reading and writing, and come back when enabled', async () => {
      await t.app.files.mkdir(BOB.uid, 'Team');
      await put(t, BOB.uid, 'Team/plan.txt', 'plan v1');
      await share(t, BOB, { path: '/Team', shareType: 0, shareWith: CAROL.uid, permissions: 31 });
      const link = await share(t, BOB, { path: '/Team', shareType: 3, publicUpload: 'true' });
      await share(t, BOB, { path: '/Team', shareType: 0, shareWith: MALLORY.uid, permissions: 31 });
      await share(t, MALLORY, { path: '/Team', shareType: 0, shareWith: DAVE.uid, permissions: 31 });
      const pub = (path: string, init: RequestInit = {}) => fetch(`${t.url}/public.php/webdav/${path}`, { ...init, headers: { Authorization: tokenAuth(link.token) } });
      assert.equal((await davGet(CAROL, 'Team/plan.txt')).status, 200);
      assert.equal((await pub('plan.txt')).status, 200);

      // the resharer is disabled: her reshare stops, bob's own shares go on
      await t.app.users.setEnabled(MALLORY.uid, false);
      assert.equal((await davGet(DAVE, 'Team/plan.txt')).status, 404);
      assert.equal((await davPut(DAVE, 'Team/plan.txt', 'dave')).status, 409, 'no Team folder of dave\'s own to write into');
      assert.equal((await davGet(CAROL, 'Team/plan.txt')).status, 200);
      await t.app.users.setEnabled(MALLORY.uid, true);
      assert.equal((await davGet(DAVE, 'Team/plan.txt')).status, 200);

      // the owner is disabled: everything of his stops, reading and writing
      await t.app.users.setEnabled(BOB.uid, false);
      assert.equal((await davGet(CAROL, 'Team/plan.txt')).status, 404);
      assert.equal((await davPut(CAROL, 'Team/plan.txt', 'carol')).status, 409);
      assert.equal((await davGet(DAVE, 'Team/plan.txt')).status, 404);
      assert.equal((await fetch(`${t.url}/s/${link.token}`)).status, 404);
      assert.equal((await pub('plan.txt')).status, 401);
      assert.equal((await pub('new.txt', { method: 'PUT', body: 'anon' })).status, 401);
      const received = await ocs(t, CAROL, 'GET', `${SHARES}?shared_with_me=true`);
      assert.deepEqual(received.data.filter((s: any) => s.uid_file_owner === BOB.uid), []);
      assert.equal(await text(BOB.uid, 'Team/plan.txt'), 'plan v1');
      assert.equal(await t.app.files.tryStat(BOB.uid, 'Team/new.txt'), undefined);
      await t.app.throttle.registerSuccess('127.0.0.1', '');

      await t.app.users.setEnabled(BOB.uid, true);
      assert.equal((await davPut(CAROL, 'Team/plan.txt', 'plan v2')).status, 204);
      assert.equal((await davGet(DAVE, 'Team/plan.txt')).status, 200);
      assert.equal((await pub('plan.txt')).status, 200);
      assert.equal(await text(BOB.uid, 'Team/plan.txt'), 'plan v2');
    });
  });
}
