import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, CAROL, DAVE, ocs, seed, share, SHARES, SHARES_V1 } from './helpers.ts';

describe('OCS Share API', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await seed(t);
    await t.app.groups.create('team');
    await t.app.groups.addUser('team', CAROL.uid);
    await t.app.groups.addUser('team', ALICE.uid);
  });
  after(async () => { await t.stop(); });

  it('creates a user share of a folder with Nextcloud fields, and the recipient lists it', async () => {
    const s = await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    assert.equal(typeof s.id, 'string');
    assert.equal(s.share_type, 0);
    assert.equal(s.uid_owner, ALICE.uid);
    assert.equal(s.uid_file_owner, ALICE.uid);
    assert.equal(s.permissions, 31);
    assert.equal(s.path, '/Project');
    assert.equal(s.item_type, 'folder');
    assert.equal(s.share_with, BOB.uid);
    assert.equal(s.share_with_displayname, BOB.uid);
    assert.equal(s.file_target, '/Project');
    assert.equal(s.token, null);
    assert.ok(Number.isInteger(s.stime) && s.stime > 0);
    const node = await t.app.files.stat(ALICE.uid, 'Project');
    assert.equal(s.file_source, node.fileId);
    assert.equal(s.item_source, node.fileId);

    const mine = await ocs(t, BOB, 'GET', `${SHARES}?shared_with_me=true`);
    assert.equal(mine.http, 200);
    assert.equal(mine.data.length, 1);
    assert.equal(mine.data[0].id, s.id);
    assert.equal(mine.data[0].path, '/Project');
    assert.equal(mine.data[0].file_target, '/Project');

    const own = await ocs(t, ALICE, 'GET', SHARES);
    assert.deepEqual(own.data.map((x: any) => x.id), [s.id]);
    const byPath = await ocs(t, ALICE, 'GET', `${SHARES}?path=/Project`);
    assert.deepEqual(byPath.data.map((x: any) => x.id), [s.id]);
    const sub = await ocs(t, ALICE, 'GET', `${SHARES}?path=/&subfiles=true`);
    assert.deepEqual(sub.data.map((x: any) => x.id), [s.id]);
  });

  it('accepts a JSON body, strips create/delete from file shares, answers v1 with statuscode 100', async () => {
    const r = await ocs(t, ALICE, 'POST', SHARES_V1, { json: { path: 'notes.txt', shareType: 0, shareWith: DAVE.uid, permissions: 31 } });
    assert.equal(r.http, 200);
    assert.equal(r.status, 100);
    assert.equal(r.data.permissions, 19); // 31 minus create and delete
    assert.equal(r.data.item_type, 'file');
  });

  it('answers XML by default', async () => {
    const res = await t.fetch(SHARES, { as: ALICE, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /^<\?xml/);
    assert.match(body, /<share_type>0<\/share_type>/);
    assert.match(body, /<element>/);
  });

  it('refuses bad input with Nextcloud status codes', async () => {
    const cases: [Record<string, string | number>, number, RegExp][] = [
      [{ path: '/nope', shareType: 0, shareWith: BOB.uid }, 404, /Wrong path/],
      [{ path: '/Project', shareType: 0, shareWith: 'nobody' }, 404, /valid user/],
      [{ path: '/Project', shareType: 1, shareWith: 'nogroup' }, 404, /valid group/],
      [{ path: '/Project', shareType: 0, shareWith: ALICE.uid }, 403, /yourself/],
      [{ path: '/Project', shareType: 7, shareWith: BOB.uid }, 400, /share type/],
      [{ path: '/Project', shareType: 0, shareWith: CAROL.uid, permissions: 99 }, 400, /permissions/],
      [{ path: '/Project', shareType: 0, shareWith: CAROL.uid, permissions: 30 }, 403, /read/],
      [{ path: '/notes.txt', shareType: 3, permissions: 15 }, 403, /folders/],
      [{ path: '/Project', shareType: 0, shareWith: BOB.uid }, 403, /already shared/],
      [{ path: '/Project', shareType: 3, expireDate: '2001-01-01' }, 400, /past/],
      [{ path: '/Project', shareType: 3, expireDate: 'tomorrow' }, 400, /YYYY-MM-DD/],
      [{ path: '/', shareType: 3 }, 403, /root/],
    ];
    for (const [form, http, msg] of cases) {
      const r = await ocs(t, ALICE, 'POST', SHARES, { form });
      assert.equal(r.http, http, `${JSON.stringify(form)} → ${r.http} ${r.message}`);
      assert.match(r.message, msg);
    }
    const none = await ocs(t, ALICE, 'POST', SHARES, { form: { shareType: 0, shareWith: BOB.uid } });
    assert.equal(none.http, 404);
  });

  it('updates permissions; recipients get 403, strangers 404; deleted shares are gone', async () => {
    const s = await share(t, ALICE, { path: '/Project/sub', shareType: 0, shareWith: CAROL.uid, permissions: 31 });
    const up = await ocs(t, ALICE, 'PUT', `${SHARES}/${s.id}`, { form: { permissions: 1, note: 'read only now' } });
    assert.equal(up.http, 200);
    assert.equal(up.data.permissions, 1);
    assert.equal(up.data.note, 'read only now');

    const byRecipient = await ocs(t, CAROL, 'PUT', `${SHARES}/${s.id}`, { form: { permissions: 31 } });
    assert.equal(byRecipient.http, 403);
    assert.equal((await ocs(t, CAROL, 'GET', `${SHARES}/${s.id}`)).http, 200, 'the recipient may read it');
    for (const m of ['GET', 'PUT', 'DELETE']) {
      const r = await ocs(t, DAVE, m, `${SHARES}/${s.id}`, m === 'PUT' ? { form: { permissions: 1 } } : undefined);
      assert.equal(r.http, 404, `${m} by a stranger`);
    }
    assert.equal((await ocs(t, ALICE, 'PUT', `${SHARES}/${s.id}`, { form: {} })).http, 400);

    const del = await ocs(t, ALICE, 'DELETE', `${SHARES}/${s.id}`);
    assert.equal(del.http, 200);
    assert.equal((await ocs(t, ALICE, 'GET', `${SHARES}/${s.id}`)).http, 404);
    assert.equal((await ocs(t, ALICE, 'DELETE', `${SHARES}/${s.id}`)).http, 404);
    assert.equal((await ocs(t, ALICE, 'GET', `${SHARES}/abc`)).http, 404);
    const audit = [];
    for await (const e of t.app.audit.read()) if (e.event.startsWith('share.')) audit.push(e.event);
    assert.ok(audit.includes('share.created') && audit.includes('share.updated') && audit.includes('share.deleted'));
  });

  it('group shares reach members (not the owner), and leaving the group ends access', async () => {
    const s = await share(t, ALICE, { path: '/notes.txt', shareType: 1, shareWith: 'team', permissions: 1 });
    assert.equal(s.share_type, 1);
    assert.equal(s.share_with, 'team');
    const carol = await ocs(t, CAROL, 'GET', `${SHARES}?shared_with_me=true`);
    assert.ok(carol.data.some((x: any) => x.id === s.id));
    assert.equal((await t.app.shareResolver.resolve(CAROL.uid, 'notes.txt')).owner, ALICE.uid);
    assert.equal((await t.app.shareResolver.mountsOf(ALICE.uid)).length, 0, 'the owner does not receive her own share');
    await t.app.groups.removeUser('team', CAROL.uid);
    const after = await ocs(t, CAROL, 'GET', `${SHARES}?shared_with_me=true`);
    assert.ok(!after.data.some((x: any) => x.id === s.id));
    assert.equal((await t.app.shareResolver.resolve(CAROL.uid, 'notes.txt')).owner, CAROL.uid);
    assert.equal((await ocs(t, CAROL, 'GET', `${SHARES}/${s.id}`)).http, 404);
    await t.app.groups.addUser('team', CAROL.uid);
  });

  it('creates a link share with token, url, password placeholder and expiration', async () => {
    const s = await share(t, ALICE, { path: '/Project', shareType: 3, password: 'link-pass-1', expireDate: '2099-12-31' });
    assert.equal(s.share_type, 3);
    assert.match(s.token, /^[A-Za-z0-9]{15,}$/);
    assert.equal(s.url, `${t.url}/s/${s.token}`);
    assert.equal(s.permissions, 1);
    assert.equal(s.expiration, '2099-12-31 00:00:00');
    assert.ok(s.password && !String(s.password).startsWith('$argon2'), 'never the hash');
    const up = await ocs(t, ALICE, 'PUT', `${SHARES}/${s.id}`, { form: { publicUpload: 'true' } });
    assert.equal(up.data.permissions, 15);
    const noPw = await ocs(t, ALICE, 'PUT', `${SHARES}/${s.id}`, { form: { password: '' } });
    assert.equal(noPw.data.password, undefined);
    const rows = await t.app.db.selectFrom('shares').select('password_hash').where('id', '=', Number(s.id)).executeTakeFirstOrThrow();
    assert.equal(rows.password_hash, null);
  });

  it('sharees search finds users and groups (not the caller), exact matches apart', async () => {
    const r = await ocs(t, ALICE, 'GET', '/ocs/v2.php/apps/files_sharing/api/v1/sharees?search=bob&itemType=folder');
    assert.equal(r.http, 200);
    assert.deepEqual(r.data.exact.users.map((x: any) => x.value), [{ shareType: 0, shareWith: BOB.uid }]);
    const all = await ocs(t, ALICE, 'GET', '/ocs/v2.php/apps/files_sharing/api/v1/sharees?search=');
    const uids = all.data.users.map((x: any) => x.value.shareWith);
    assert.ok(uids.includes(CAROL.uid) && !uids.includes(ALICE.uid));
    assert.deepEqual(all.data.groups.map((x: any) => x.value), [{ shareType: 1, shareWith: 'team' }]);
  });

  it('unauthenticated requests get 401', async () => {
    const res = await fetch(`${t.url}${SHARES}`, { headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(res.status, 401);
  });
});
