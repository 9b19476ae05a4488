/**
 * Deleting a user removes everything of theirs on every path (OCS, web API, ./occ user:delete):
 * a new account with the same name inherits no group membership, no received or made share, no
 * link, no file, blob, upload, lock, session, app password, preference or key. Every table that
 * names a user is checked after the deletion.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { reportError } from '../../src/cli/cli-support.ts';
import * as userDelete from '../../src/cli/commands/user-delete.command.ts';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { ALICE, BOB, CAROL, SHARES, ocs, propfind, put, share } from '../sharing/helpers.ts';

const OLD_BOB = BOB;
const NEW_BOB = { uid: BOB.uid, password: 'a-new-bob-password-2' };

/** `./occ user:delete UID` in this process against the instance's config. */
async function occDelete(configPath: string, uid: string): Promise<number> {
  const saved = process.env.COFFER_CONFIG;
  process.env.COFFER_CONFIG = configPath;
  try {
    const program = buildProgram();
    if (!program.commands.some((c) => c.name() === 'user:delete')) userDelete.register(program);
    for (const c of program.commands) c.exitOverride();
    await program.parseAsync(['user:delete', uid], { from: 'user' });
    return 0;
  } catch (e) {
    return e instanceof CommanderError ? e.exitCode : reportError(e);
  } finally {
    if (saved === undefined) delete process.env.COFFER_CONFIG; else process.env.COFFER_CONFIG = saved;
  }
}

/** Rows of every table that names `uid`, per table (tables with a user column). */
async function rowsNaming(t: TestInstance, uid: string): Promise<Record<string, number>> {
  const db = t.app.db;
  const count = async (q: { execute(): Promise<unknown[]> }) => (await q.execute()).length;
  return {
    users: await count(db.selectFrom('users').select('uid').where('uid', '=', uid)),
    user_preferences: await count(db.selectFrom('user_preferences').select('uid').where('uid', '=', uid)),
    app_passwords: await count(db.selectFrom('app_passwords').select('uid').where('uid', '=', uid)),
    web_sessions: await count(db.selectFrom('web_sessions').select('uid').where('uid', '=', uid)),
    nodes: await count(db.selectFrom('nodes').select('fileid').where('owner', '=', uid)),
    locks: await count(db.selectFrom('locks').select('token').where('owner', '=', uid)),
    uploads: await count(db.selectFrom('uploads').select('uid').where('uid', '=', uid)),
    upload_chunks: await count(db.selectFrom('upload_chunks').select('uid').where('uid', '=', uid)),
    group_members: await count(db.selectFrom('group_members').select('uid').where('uid', '=', uid)),
    shares: await count(db.selectFrom('shares').select('id').where((eb) => eb.or([
      eb('owner', '=', uid), eb('initiator', '=', uid), eb.and([eb('share_type', '=', 0), eb('share_with', '=', uid)])]))),
    share_mounts: await count(db.selectFrom('share_mounts').select('uid').where('uid', '=', uid)),
    orphan_properties: await count(db.selectFrom('properties').select('fileid')
      .where('fileid', 'not in', db.selectFrom('nodes').select('fileid'))),
    orphan_share_mounts: await count(db.selectFrom('share_mounts').select('share_id')
      .where('share_id', 'not in', db.selectFrom('shares').select('id'))),
  };
}

async function allBlobIds(t: TestInstance): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of t.app.rawBlobs.list()) out.add(e.blobId);
  return out;
}

interface Leftovers { linkToken: string; appPassword: string; session: string; blobIds: string[] }

/**
 * Gives bob everything a user can have: a group membership with a group share, a user share from
 * alice that he reshared to carol, his own file shared to carol and by link, a dead property, a
 * lock, a pending chunked upload, an app password, a web session, a preference and (encryption on)
 * his key folder.
 */
async function giveBobEverything(t: TestInstance): Promise<Leftovers> {
  await enableEncryption(t);
  for (const u of [ALICE, OLD_BOB, CAROL]) await t.addUser(u.uid, u.password);
  await t.app.groups.create('staff');
  await t.app.groups.addUser('staff', OLD_BOB.uid);
  await t.app.files.mkdir(ALICE.uid, 'Project');
  await t.app.files.mkdir(ALICE.uid, 'Team');
  await put(t, ALICE.uid, 'Project/a.txt', 'alpha');
  await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: OLD_BOB.uid, permissions: 31 });
  await share(t, ALICE, { path: '/Team', shareType: 1, shareWith: 'staff', permissions: 31 });
  await share(t, OLD_BOB, { path: '/Project', shareType: 0, shareWith: CAROL.uid, permissions: 17 });

  const dav = `/remote.php/dav/files/${OLD_BOB.uid}`;
  assert.equal((await t.fetch(`${dav}/mine.txt`, { method: 'PUT', body: 'bob secret', as: OLD_BOB })).status, 201);
  assert.equal((await t.fetch(`${dav}/mine.txt`, {
    method: 'PROPPATCH', as: OLD_BOB, headers: { 'Content-Type': 'application/xml' },
    body: '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:tag>old</x:tag></d:prop></d:set></d:propertyupdate>',
  })).status, 207);
  await share(t, OLD_BOB, { path: '/mine.txt', shareType: 0, shareWith: CAROL.uid, permissions: 1 });
  const link = await share(t, OLD_BOB, { path: '/mine.txt', shareType: 3, permissions: 1 });
  assert.equal((await t.fetch(`${dav}/mine.txt`, {
    method: 'LOCK', as: OLD_BOB, headers: { 'Content-Type': 'application/xml', Timeout: 'Second-600' },
    body: '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>',
  })).status, 200);
  const up = `/remote.php/dav/uploads/${OLD_BOB.uid}/pending-1`;
  assert.equal((await t.fetch(up, { method: 'MKCOL', as: OLD_BOB })).status, 201);
  assert.equal((await t.fetch(`${up}/00001`, { method: 'PUT', body: 'half an upload', as: OLD_BOB })).status, 201);
  const ap = await (await t.fetch('/ocs/v2.php/core/getapppassword?format=json', { headers: { 'OCS-APIREQUEST': 'true' }, as: OLD_BOB })).json() as any;
  const appPassword = ap.ocs.data.apppassword as string;
  const session = (await t.app.sessions.create(OLD_BOB.uid, {})).token;
  await t.app.users.setPreference(OLD_BOB.uid, 'core', 'lang', 'de');

  const blobIds = (await t.app.db.selectFrom('nodes').select('blob_id').where('owner', '=', OLD_BOB.uid).where('blob_id', 'is not', null).execute()).map((r) => r.blob_id!);
  blobIds.push(...(await t.app.db.selectFrom('upload_chunks').select('blob_id').where('uid', '=', OLD_BOB.uid).execute()).map((r) => r.blob_id));
  assert.ok(blobIds.length >= 2);
  assert.ok(existsSync(join(t.dataDir, OLD_BOB.uid, 'files_encryption')), 'bob has a key folder');
  const before = await rowsNaming(t, OLD_BOB.uid);
  for (const k of ['users', 'user_preferences', 'app_passwords', 'web_sessions', 'nodes', 'locks', 'uploads', 'upload_chunks', 'group_members', 'shares', 'share_mounts']) {
    assert.ok(before[k]! > 0, `the setup gives bob rows in ${k}`);
  }
  return { linkToken: link.token, appPassword, session, blobIds };
}

async function checkNothingLeft(t: TestInstance, left: Leftovers): Promise<void> {
  const rows = await rowsNaming(t, OLD_BOB.uid);
  assert.deepEqual(rows, Object.fromEntries(Object.keys(rows).map((k) => [k, 0])), 'no row of any table names the deleted user');
  const blobs = await allBlobIds(t);
  for (const id of left.blobIds) assert.ok(!blobs.has(id), `blob ${id} is gone`);
  assert.ok(!existsSync(join(t.dataDir, OLD_BOB.uid, 'files_encryption')), 'the key folder is gone');
  assert.equal((await fetch(`${t.url}/s/${left.linkToken}`)).status, 404, 'the link bob made is gone');
  assert.equal((await t.fetch('/remote.php/dav/files/bob/', { method: 'PROPFIND', as: { uid: 'bob', password: left.appPassword } })).status, 401);
  assert.equal((await fetch(`${t.url}/web/api/session`, { headers: { cookie: `coffer_session=${left.session}` } })).status, 401);
  // carol no longer sees what bob shared or reshared
  const carolSees = await ocs(t, CAROL, 'GET', `${SHARES}?shared_with_me=true`);
  assert.deepEqual(carolSees.data, []);

  // A new account with the same name starts empty.
  const created = await ocs(t, ADMIN, 'POST', '/ocs/v2.php/cloud/users', { form: { userid: NEW_BOB.uid, password: NEW_BOB.password } });
  assert.equal(created.http, 200, created.message);
  const root = await propfind(t, NEW_BOB, `/remote.php/dav/files/${NEW_BOB.uid}/`, '<d:resourcetype/>');
  assert.equal(root.status, 207);
  assert.equal((root.body.match(/<d:response>/g) ?? []).length, 1, `only the root: ${root.body}`);
  assert.deepEqual((await ocs(t, NEW_BOB, 'GET', `${SHARES}?shared_with_me=true`)).data, []);
  assert.deepEqual((await ocs(t, NEW_BOB, 'GET', SHARES)).data, []);
  assert.deepEqual(await t.app.groups.groupsOf(NEW_BOB.uid), []);
  assert.deepEqual(await t.app.users.listPreferences(NEW_BOB.uid), {});
  assert.equal((await t.fetch(`/remote.php/dav/uploads/${NEW_BOB.uid}/pending-1`, { method: 'PROPFIND', as: NEW_BOB })).status, 404);
  // the new bob writes with a fresh key of his own (not the old one, whose file is gone)
  assert.equal((await t.fetch(`/remote.php/dav/files/${NEW_BOB.uid}/new.txt`, { method: 'PUT', body: 'new bob', as: NEW_BOB })).status, 201);
  assert.ok(existsSync(join(t.dataDir, NEW_BOB.uid, 'files_encryption')), 'the new bob has a key folder of his own');
  assert.equal(await (await t.fetch(`/remote.php/dav/files/${NEW_BOB.uid}/new.txt`, { as: NEW_BOB })).text(), 'new bob');
}

const PATHS: [string, (t: TestInstance) => Promise<void>][] = [
  ['OCS DELETE cloud/users/<id>', async (t) => {
    const r = await ocs(t, ADMIN, 'DELETE', `/ocs/v2.php/cloud/users/${OLD_BOB.uid}`);
    assert.equal(r.http, 200, r.message);
  }],
  ['web API DELETE users/<id>', async (t) => {
    const s = await t.app.sessions.create(ADMIN.uid, {});
    const r = await fetch(`${t.url}/web/api/users/${OLD_BOB.uid}`, { method: 'DELETE', headers: { cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken } });
    assert.equal(r.status, 200, await r.text());
  }],
  ['./occ user:delete', async (t) => {
    assert.equal(await occDelete(t.configPath, OLD_BOB.uid), 0);
  }],
];

for (const [name, del] of PATHS) {
  for (const db of name.startsWith('OCS') ? ['sqlite', 'pgsql'] as const : ['sqlite'] as const) {
    describe(`user deletion through ${name} (${db})`, () => {
      let t: TestInstance;
      let left: Leftovers;
      before(async () => {
        t = await startTestInstance({ db });
        left = await giveBobEverything(t);
      });
      after(async () => { await t?.stop(); });

      it('removes everything of the user; a new account with the same name inherits nothing', async () => {
        await del(t);
        await checkNothingLeft(t, left);
      });
    });
  }
}

describe('user deletion refusals', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t?.stop(); });

  it('an unknown user is a 404 and an admin cannot delete themselves; nothing changes', async () => {
    assert.equal((await ocs(t, ADMIN, 'DELETE', '/ocs/v2.php/cloud/users/nobody')).http, 404);
    const me = await ocs(t, ADMIN, 'DELETE', `/ocs/v2.php/cloud/users/${ADMIN.uid}`);
    assert.notEqual(me.http, 200);
    assert.equal((await t.app.users.get(ADMIN.uid)).enabled, true);
  });
});
