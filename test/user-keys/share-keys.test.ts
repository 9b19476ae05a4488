import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ForbiddenError } from '../../src/errors.ts';
import type { TestInstance } from '../support/test-instance.ts';
import { perUserInstance } from './helpers.ts';
import { ALICE, BOB, CAROL, DAVE, SHARES, ocs, share, type Creds } from '../sharing/helpers.ts';
import { linkActor, userActor, type Actor } from '../../src/actor.ts';

const dav = (c: Creds, p: string) => `/remote.php/dav/files/${c.uid}/${p}`;

async function read(t: TestInstance, as: Creds, p: string): Promise<{ status: number; text: string }> {
  const r = await t.fetch(dav(as, p), { as });
  return { status: r.status, text: await r.text() };
}

async function write(t: TestInstance, as: Creds, p: string, body: string): Promise<number> {
  return (await t.fetch(dav(as, p), { method: 'PUT', body, as })).status;
}

/** Reads a file of alice's tree directly through the files service as `actor` (key-level check). */
async function readAs(t: TestInstance, actor: Actor, p: string): Promise<string> {
  const c = await t.app.files.openRead(actor, ALICE.uid, p);
  const parts: Buffer[] = [];
  for await (const b of c.stream) parts.push(b as Buffer);
  return Buffer.concat(parts).toString();
}

function keyFiles(t: TestInstance, uid: string): string[] {
  const dir = join(t.dataDir, uid, 'files_encryption', 'OC_DEFAULT_MODULE');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The owner is not logged in: her unlocked keys are dropped from this server. */
const lockAlice = (t: TestInstance) => t.app.userKeys.session.lock(ALICE.uid);

describe('per-user keys: sharing while the owner is not logged in', () => {
  let t: TestInstance;
  before(async () => {
    t = await perUserInstance();
    for (const u of [ALICE, BOB, CAROL, DAVE]) await t.addUser(u.uid, u.password);
    await t.app.groups.create('team');
    await t.app.groups.addUser('team', CAROL.uid);
    await t.app.groups.addUser('team', DAVE.uid);
    // alice, bob and carol log in once (key pairs); dave has never logged in.
    for (const u of [ALICE, BOB, CAROL]) assert.equal((await t.fetch(dav(u, ''), { method: 'PROPFIND', as: u, headers: { Depth: '0' } })).status, 207);
    assert.equal((await t.fetch(dav(ALICE, 'Project'), { method: 'MKCOL', as: ALICE })).status, 201);
    assert.equal((await t.fetch(dav(ALICE, 'Project/sub'), { method: 'MKCOL', as: ALICE })).status, 201);
    assert.equal(await write(t, ALICE, 'Project/a.txt', 'alpha'), 201);
    assert.equal(await write(t, ALICE, 'Project/sub/b.txt', 'bravo'), 201);
    assert.equal(await write(t, ALICE, 'outside.txt', 'not shared'), 201);
  });
  after(async () => { await t?.stop(); });

  it('user share: the sharee reads files older than the share, writes, and the owner reads the writes', async () => {
    const s = await share(t, ALICE, { path: 'Project', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    assert.ok(keyFiles(t, ALICE.uid).some((n) => /^shareKey_[0-9a-f]{32}\.keyring_[0-9a-f]{16}$/.test(n)), 'keyring of the existing files');
    assert.ok(keyFiles(t, ALICE.uid).some((n) => /^shareKey_[0-9a-f]{32}\.seal_/.test(n)), 'seal to bob');
    lockAlice(t);
    assert.deepEqual(await read(t, BOB, 'Project/a.txt'), { status: 200, text: 'alpha' });
    assert.deepEqual(await read(t, BOB, 'Project/sub/b.txt'), { status: 200, text: 'bravo' });
    assert.equal(await write(t, BOB, 'Project/from-bob.txt', 'hello from bob'), 201);
    assert.equal(await write(t, BOB, 'Project/a.txt', 'alpha v2'), 204);
    assert.deepEqual(await read(t, BOB, 'Project/a.txt'), { status: 200, text: 'alpha v2' });
    assert.ok(s.id);
    // The owner was never unlocked meanwhile; her own files outside the share stay locked for bob.
    await assert.rejects(readAs(t, userActor(BOB.uid, 'password'), 'outside.txt'), ForbiddenError);
    // The owner logs in again and reads what the sharee wrote.
    assert.deepEqual(await read(t, ALICE, 'Project/from-bob.txt'), { status: 200, text: 'hello from bob' });
    assert.deepEqual(await read(t, ALICE, 'Project/a.txt'), { status: 200, text: 'alpha v2' });
  });

  it('a file the owner moves into the shared folder becomes readable for the sharee', async () => {
    assert.equal(await write(t, ALICE, 'moved.txt', 'moved in'), 201);
    const r = await t.fetch(dav(ALICE, 'moved.txt'), { method: 'MOVE', as: ALICE, headers: { Destination: `${t.url}${dav(ALICE, 'Project/moved.txt')}` } });
    assert.equal(r.status, 201);
    lockAlice(t);
    assert.deepEqual(await read(t, BOB, 'Project/moved.txt'), { status: 200, text: 'moved in' });
  });

  it('group share of a nested folder: members read; a member without a key pair is sealed at the owner\'s next login', async () => {
    await share(t, ALICE, { path: 'Project/sub', shareType: 1, shareWith: 'team', permissions: 1 });
    assert.equal(await write(t, ALICE, 'Project/sub/c.txt', 'charlie'), 201); // under the sub folder's share key
    lockAlice(t);
    assert.deepEqual(await read(t, CAROL, 'sub/b.txt'), { status: 200, text: 'bravo' });
    assert.deepEqual(await read(t, CAROL, 'sub/c.txt'), { status: 200, text: 'charlie' });
    assert.equal(await write(t, CAROL, 'sub/d.txt', 'no'), 403); // read-only share
    // bob (share of the enclosing folder) reads the nested share's file through the under-wrap.
    assert.deepEqual(await read(t, BOB, 'Project/sub/c.txt'), { status: 200, text: 'charlie' });
    // dave logs in for the first time: key pair now, but no seal yet; a clear 403.
    const first = await read(t, DAVE, 'sub/b.txt');
    assert.equal(first.status, 403);
    assert.match(first.text, /not yet encrypted for user dave/);
    // alice logs in (any request): the login hook seals the key to dave.
    assert.equal((await read(t, ALICE, 'outside.txt')).status, 200);
    lockAlice(t);
    assert.deepEqual(await read(t, DAVE, 'sub/c.txt'), { status: 200, text: 'charlie' });
    // carol leaves the group: her seal is gone at once (key level), not only the share row.
    await t.app.groups.removeUser('team', CAROL.uid);
    await assert.rejects(readAs(t, userActor(CAROL.uid, 'password'), 'Project/sub/c.txt'), ForbiddenError);
    assert.equal((await readAs(t, userActor(DAVE.uid, 'password'), 'Project/sub/c.txt')), 'charlie');
  });

  it('public links: download and upload through the link with the owner locked; unsharing revokes', async () => {
    const file = await share(t, ALICE, { path: 'Project/a.txt', shareType: 3 });
    const folder = await share(t, ALICE, { path: 'Project', shareType: 3, permissions: 15 });
    lockAlice(t);
    const dl = await fetch(`${t.url}/s/${file.token}/download`);
    assert.equal(dl.status, 200);
    assert.equal(await dl.text(), 'alpha v2');
    const basic = `Basic ${Buffer.from(`${folder.token}:`).toString('base64')}`;
    const g = await fetch(`${t.url}/public.php/webdav/sub/b.txt`, { headers: { Authorization: basic } });
    assert.equal(g.status, 200);
    assert.equal(await g.text(), 'bravo');
    const up = await fetch(`${t.url}/public.php/webdav/dropped.txt`, { method: 'PUT', body: 'via link', headers: { Authorization: basic } });
    assert.equal(up.status, 201);
    const back = await fetch(`${t.url}/s/${folder.token}/download?path=/dropped.txt`);
    assert.equal(await back.text(), 'via link');
    assert.equal(await readAs(t, linkActor(folder.token), 'Project/from-bob.txt'), 'hello from bob');
    // Unshare the folder link: its wrap is gone; the token opens nothing any more, even below the gate.
    const del = await ocs(t, ALICE, 'DELETE', `${SHARES}/${folder.id}`);
    assert.equal(del.http, 200);
    lockAlice(t);
    assert.equal((await fetch(`${t.url}/public.php/webdav/sub/b.txt`, { headers: { Authorization: basic } })).status, 401);
    await assert.rejects(readAs(t, linkActor(folder.token), 'Project/from-bob.txt'), ForbiddenError);
    // The file link still works.
    assert.equal((await fetch(`${t.url}/s/${file.token}/download`)).status, 200);
  });

  it('a link password and an expiry date are enforced as in master-key mode, with the owner locked', async () => {
    const guarded = await share(t, ALICE, { path: 'Project/sub', shareType: 3, password: 'link-pass-123' });
    lockAlice(t);
    const auth = (pw: string) => ({ headers: { Authorization: `Basic ${Buffer.from(`${guarded.token}:${pw}`).toString('base64')}` } });
    const wrong = await fetch(`${t.url}/public.php/webdav/b.txt`, auth('wrong-pass'));
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(await wrong.text(), /bravo/);
    const right = await fetch(`${t.url}/public.php/webdav/b.txt`, auth('link-pass-123'));
    assert.equal(right.status, 200);
    assert.equal(await right.text(), 'bravo');

    const dated = await share(t, ALICE, { path: 'Project/sub', shareType: 3, expireDate: '2099-01-01' });
    lockAlice(t);
    assert.equal(await (await fetch(`${t.url}/s/${dated.token}/download?path=/b.txt`)).text(), 'bravo');
    await t.app.db.updateTable('shares').set({ expiration: Math.floor(Date.now() / 1000) - 1 }).where('id', '=', Number(dated.id)).execute();
    assert.equal((await fetch(`${t.url}/s/${dated.token}/download?path=/b.txt`)).status, 404);
    const basic = { headers: { Authorization: `Basic ${Buffer.from(`${dated.token}:`).toString('base64')}` } };
    assert.equal((await fetch(`${t.url}/public.php/webdav/b.txt`, basic)).status, 401);
  });

  it('unsharing the user share revokes the sharee\'s key; the owner keeps reading what the sharee wrote', async () => {
    const list = await ocs(t, ALICE, 'GET', `${SHARES}?path=Project&reshares=true`);
    const userShare = (list.data as any[]).find((x) => x.share_type === 0);
    assert.ok(userShare);
    const keyrings = () => new Set(keyFiles(t, ALICE.uid).filter((n) => /\.keyring_[0-9a-f]{16}$/.test(n)).map((n) => n.split('.')[0])).size;
    const before = keyrings();
    assert.equal((await ocs(t, ALICE, 'DELETE', `${SHARES}/${userShare.id}`)).http, 200);
    assert.equal(keyrings(), before - 1, 'the last share of Project is gone: so is its keyring');
    lockAlice(t);
    assert.equal((await read(t, BOB, 'Project/a.txt')).status, 404);
    await assert.rejects(readAs(t, userActor(BOB.uid, 'password'), 'Project/from-bob.txt'), ForbiddenError);
    await assert.rejects(readAs(t, userActor(BOB.uid, 'password'), 'Project/a.txt'), ForbiddenError);
    assert.deepEqual(await read(t, ALICE, 'Project/from-bob.txt'), { status: 200, text: 'hello from bob' });
    assert.deepEqual(await read(t, ALICE, 'Project/dropped.txt'), { status: 200, text: 'via link' });
  });

  it('with every key of the server dropped (as after a restart), the sharee is served from their own login', async () => {
    await share(t, ALICE, { path: 'Project', shareType: 0, shareWith: BOB.uid, permissions: 1 });
    await t.app.files.writeFile(userActor(ALICE.uid, 'password'), ALICE.uid, 'Project/late.txt', Readable.from([Buffer.from('late')]));
    t.app.userKeys.session.lockAll();
    assert.deepEqual(await read(t, BOB, 'Project/late.txt'), { status: 200, text: 'late' });
    assert.deepEqual(await read(t, BOB, 'Project/sub/b.txt'), { status: 200, text: 'bravo' });
    assert.equal(await write(t, BOB, 'Project/nope.txt', 'x'), 403); // read-only this time
    assert.equal(t.app.userKeys.session.get(ALICE.uid), undefined);
  });
});

describe('per-user keys: a sharee reshares a subfolder (key wrapped by the enclosing share key)', () => {
  let t: TestInstance;
  before(async () => {
    t = await perUserInstance();
    for (const u of [ALICE, BOB, CAROL]) {
      await t.addUser(u.uid, u.password);
      assert.equal((await t.fetch(dav(u, ''), { method: 'PROPFIND', as: u, headers: { Depth: '0' } })).status, 207);
    }
    assert.equal((await t.fetch(dav(ALICE, 'P'), { method: 'MKCOL', as: ALICE })).status, 201);
    assert.equal((await t.fetch(dav(ALICE, 'P/in'), { method: 'MKCOL', as: ALICE })).status, 201);
    assert.equal(await write(t, ALICE, 'P/in/x.txt', 'x-ray'), 201);
    await share(t, ALICE, { path: 'P', shareType: 0, shareWith: BOB.uid, permissions: 31 });
  });
  after(async () => { await t?.stop(); });

  it('carol reads and writes through bob\'s reshare with alice locked; alice reads carol\'s file', async () => {
    lockAlice(t);
    const re = await share(t, BOB, { path: 'P/in', shareType: 0, shareWith: CAROL.uid, permissions: 31 });
    const sk = keyFiles(t, ALICE.uid).filter((n) => /^shareKey_[0-9a-f]{32}\.key$/.test(n));
    assert.equal(sk.length, 2);
    assert.deepEqual(await read(t, CAROL, 'in/x.txt'), { status: 200, text: 'x-ray' });
    assert.equal(await write(t, CAROL, 'in/y.txt', 'yankee'), 201);
    assert.deepEqual(await read(t, BOB, 'P/in/y.txt'), { status: 200, text: 'yankee' });
    assert.equal(t.app.userKeys.session.get(ALICE.uid), undefined, 'alice stayed locked throughout');
    assert.deepEqual(await read(t, ALICE, 'P/in/y.txt'), { status: 200, text: 'yankee' });
    // bob ends his reshare: carol's key goes.
    assert.equal((await ocs(t, BOB, 'DELETE', `${SHARES}/${re.id}`)).http, 200);
    await assert.rejects(readAs(t, userActor(CAROL.uid, 'password'), 'P/in/y.txt'), ForbiddenError);
  });
});

describe('per-user keys: a folder shared while a write into it is under way', () => {
  let t: TestInstance;
  before(async () => {
    t = await perUserInstance();
    for (const u of [ALICE, BOB]) await t.addUser(u.uid, u.password);
    for (const u of [ALICE, BOB]) assert.equal((await t.fetch(dav(u, ''), { method: 'PROPFIND', as: u, headers: { Depth: '0' } })).status, 207);
    assert.equal((await t.fetch(dav(ALICE, 'Race'), { method: 'MKCOL', as: ALICE })).status, 201);
  });
  after(async () => { await t?.stop(); });

  it('the upload chose its key before the share existed and commits after the share\'s keyring was filled: the sharee still reads it', async () => {
    const content = randomBytes(3 << 20);
    const url = new URL(dav(ALICE, 'Race/big.bin'), t.url);
    const req = request(url, { method: 'PUT', headers: { Authorization: t.basic(ALICE.uid, ALICE.password), 'Content-Length': content.length } });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
    });
    // Past the first MiB the store has chosen the key (alice's root key: no share yet) and streams
    // into a temp file; the body then stalls there while the folder is shared.
    req.write(content.subarray(0, 2 << 20));
    const tmp = join(t.dataDir, 'blobs', '.tmp');
    for (let i = 0; i < 500 && !(existsSync(tmp) && readdirSync(tmp).length > 0); i++) await sleep(10);
    assert.ok(readdirSync(tmp).length > 0, 'the upload is streaming into a temp blob');
    await share(t, ALICE, { path: 'Race', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    req.end(content.subarray(2 << 20));
    assert.equal(await answered, 201);
    lockAlice(t);
    const r = await t.fetch(dav(BOB, 'Race/big.bin'), { as: BOB });
    assert.equal(r.status, 200, 'the sharee can open the version written across the share');
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(content));
  });
});

describe('master-key mode: sharing is metadata only (no share key files)', () => {
  let t: TestInstance;
  before(async () => {
    t = await perUserInstance({ perUser: false });
    for (const u of [ALICE, BOB]) await t.addUser(u.uid, u.password);
    assert.equal((await t.fetch(dav(ALICE, 'M'), { method: 'MKCOL', as: ALICE })).status, 201);
    assert.equal(await write(t, ALICE, 'M/m.txt', 'mike'), 201);
  });
  after(async () => { await t?.stop(); });

  it('user and link shares read and write as before', async () => {
    await share(t, ALICE, { path: 'M', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    const link = await share(t, ALICE, { path: 'M/m.txt', shareType: 3 });
    assert.deepEqual(await read(t, BOB, 'M/m.txt'), { status: 200, text: 'mike' });
    assert.equal(await write(t, BOB, 'M/n.txt', 'november'), 201);
    assert.deepEqual(await read(t, ALICE, 'M/n.txt'), { status: 200, text: 'november' });
    assert.equal(await (await fetch(`${t.url}/s/${link.token}/download`)).text(), 'mike');
    assert.deepEqual(keyFiles(t, ALICE.uid).filter((n) => n.startsWith('share')), []);
  });
});
