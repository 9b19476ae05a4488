/**
 * Per-user keys, the sharee's side over HTTP (issue 14): bob reads and writes alice's shared folder
 * through the web API, WebDAV and a public link with his own keys (his seal of the share key, the
 * link's wrap), whether alice is logged in or not, and never through alice's key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { shareSealName } from '../../src/encryption/share-keys/share-key-files.ts';
import type { TestInstance } from '../support/test-instance.ts';
import { webLogin, type WebSession } from '../support/web-login.ts';
import { ALICE, BOB, share, type Creds } from '../sharing/helpers.ts';
import { perUserInstance } from './helpers.ts';

const BODY = randomBytes(200_000); // several cfe1 chunks
const dav = (c: Creds, p: string) => `/remote.php/dav/files/${c.uid}/${p}`;
const basic = (user: string, pw = '') => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');

async function bytes(r: Response): Promise<Buffer> { return Buffer.from(await r.arrayBuffer()); }

/** bob's download through the web API with his browser session. */
function webGet(t: TestInstance, s: WebSession, p: string): Promise<Response> {
  return fetch(`${t.url}/web/api/files/download?path=${encodeURIComponent(p)}`, { headers: { cookie: s.cookie } });
}

/** bob's upload through the web API with his browser session. */
function webPut(t: TestInstance, s: WebSession, p: string, body: string): Promise<Response> {
  return fetch(`${t.url}/web/api/files/upload?path=${encodeURIComponent(p)}`, { method: 'PUT', body, headers: { cookie: s.cookie, requesttoken: s.csrfToken } });
}

/** What alice's tree holds at `p`, read as alice over WebDAV (she must be able to read what bob wrote). */
async function aliceReads(t: TestInstance, p: string): Promise<Buffer> {
  const r = await t.fetch(dav(ALICE, p), { as: ALICE });
  assert.equal(r.status, 200, `alice reads ${p}`);
  return bytes(r);
}

/** Deletes bob's seals of alice's share keys (so that only alice's own keys could still open them). */
function dropBobsSeals(t: TestInstance): number {
  const dir = join(t.dataDir, ALICE.uid, 'files_encryption', 'OC_DEFAULT_MODULE');
  let n = 0;
  for (const f of readdirSync(dir)) {
    const m = /^shareKey_([0-9a-f]+)\.seal_/.exec(f);
    if (m && f === shareSealName(m[1]!, BOB.uid)) { rmSync(join(dir, f)); n++; }
  }
  return n;
}

describe('per-user keys: a sharee reads and writes a shared folder with his own keys (web API, WebDAV, public link)', () => {
  let t: TestInstance;
  let token = '';

  before(async () => {
    t = await perUserInstance();
    await t.addUser(ALICE.uid, ALICE.password);
    await t.addUser(BOB.uid, BOB.password);
    // bob logs in once (his key pair); alice uploads Project/f.bin and shares Project with bob and by a link.
    assert.equal((await t.fetch(dav(BOB, ''), { method: 'PROPFIND', as: BOB, headers: { Depth: '0' } })).status, 207);
    assert.equal((await t.fetch(dav(ALICE, 'Project'), { method: 'MKCOL', as: ALICE })).status, 201);
    assert.equal((await t.fetch(dav(ALICE, 'Project/f.bin'), { method: 'PUT', as: ALICE, body: new Uint8Array(BODY) })).status, 201);
    await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    token = (await share(t, ALICE, { path: '/Project', shareType: 3, publicUpload: 'true' })).token;
    // The server restarts: nobody is logged in, alice's key is locked.
    await t.restart();
  });
  after(async () => { await t?.stop(); });

  test('alice logged out: bob downloads and uploads through the web API and WebDAV', async () => {
    const s = await webLogin(t.url, BOB.uid, BOB.password);
    assert.equal(t.app.userKeys.session.get(ALICE.uid), undefined, 'alice is locked');
    const w = await webGet(t, s, '/Project/f.bin');
    assert.equal(w.status, 200, await w.clone().text().catch(() => ''));
    assert.ok((await bytes(w)).equals(BODY), 'web API download');
    const d = await t.fetch(dav(BOB, 'Project/f.bin'), { as: BOB });
    assert.equal(d.status, 200);
    assert.ok((await bytes(d)).equals(BODY), 'WebDAV download');
    // A ranged GET starts in the middle of a chunk.
    const r = await t.fetch(dav(BOB, 'Project/f.bin'), { as: BOB, headers: { Range: 'bytes=70000-70009' } });
    assert.equal(r.status, 206);
    assert.ok((await bytes(r)).equals(BODY.subarray(70000, 70010)));

    assert.equal((await webPut(t, s, '/Project/from-web.txt', 'bob via the web')).status, 201);
    assert.equal((await t.fetch(dav(BOB, 'Project/from-dav.txt'), { method: 'PUT', as: BOB, body: 'bob via dav' })).status, 201);
    assert.equal(t.app.userKeys.session.get(ALICE.uid), undefined, 'alice is still locked');
    // bob reads back what he wrote, both ways, with alice still logged out.
    assert.equal(await (await webGet(t, s, '/Project/from-dav.txt')).text(), 'bob via dav');
    assert.equal(await (await t.fetch(dav(BOB, 'Project/from-web.txt'), { as: BOB })).text(), 'bob via the web');
  });

  test('alice logged out: the public link downloads and uploads with its own wrap', async () => {
    assert.equal(t.app.userKeys.session.get(ALICE.uid), undefined);
    const dl = await fetch(`${t.url}/s/${token}/download?path=/f.bin`);
    assert.equal(dl.status, 200);
    assert.ok((await bytes(dl)).equals(BODY), 'link download');
    const g = await fetch(`${t.url}/public.php/webdav/f.bin`, { headers: { Authorization: basic(token) } });
    assert.equal(g.status, 200);
    assert.ok((await bytes(g)).equals(BODY), 'public WebDAV download');
    const up = await fetch(`${t.url}/public.php/webdav/from-link.txt`, { method: 'PUT', headers: { Authorization: basic(token) }, body: 'via the link' });
    assert.equal(up.status, 201);
    assert.equal(await (await fetch(`${t.url}/public.php/webdav/from-link.txt`, { headers: { Authorization: basic(token) } })).text(), 'via the link');
    assert.equal(t.app.userKeys.session.get(ALICE.uid), undefined, 'alice is still locked');
  });

  test('alice logged in: bob still reads with his own keys, and without his seal he cannot, although alice\'s key is open', async () => {
    // alice logs in: everything written by bob and the link is hers to read.
    assert.equal((await aliceReads(t, 'Project/from-web.txt')).toString(), 'bob via the web');
    assert.equal((await aliceReads(t, 'Project/from-dav.txt')).toString(), 'bob via dav');
    assert.equal((await aliceReads(t, 'Project/from-link.txt')).toString(), 'via the link');
    assert.ok(t.app.userKeys.session.get(ALICE.uid), 'alice is unlocked');

    await t.restart();
    assert.ok((await aliceReads(t, 'Project/f.bin')).equals(BODY)); // alice logged in again
    const s = await webLogin(t.url, BOB.uid, BOB.password);
    assert.equal((await t.fetch(dav(BOB, ''), { method: 'PROPFIND', as: BOB, headers: { Depth: '0' } })).status, 207);
    // With his seal, bob reads and writes both ways.
    assert.equal(await (await webGet(t, s, '/Project/from-link.txt')).text(), 'via the link');
    assert.equal((await webPut(t, s, '/Project/web-2.txt', 'second')).status, 201);
    assert.equal((await aliceReads(t, 'Project/web-2.txt')).toString(), 'second');

    // The observable: bob's seals go (his session has not cached the key of f.bin's folder for
    // reads through a new restart); alice stays logged in with her root key open. A read that
    // borrowed alice's key would still succeed; bob's own keys no longer reach the file.
    await t.restart();
    assert.ok((await aliceReads(t, 'Project/f.bin')).equals(BODY));
    const s2 = await webLogin(t.url, BOB.uid, BOB.password);
    assert.equal((await t.fetch(dav(BOB, ''), { method: 'PROPFIND', as: BOB, headers: { Depth: '0' } })).status, 207);
    assert.ok(dropBobsSeals(t) >= 1, 'bob had a seal');
    assert.ok(t.app.userKeys.session.get(ALICE.uid), 'alice is unlocked');
    assert.equal((await webGet(t, s2, '/Project/f.bin')).status, 403, 'web API read without bob\'s seal');
    assert.equal((await t.fetch(dav(BOB, 'Project/f.bin'), { as: BOB })).status, 403, 'WebDAV read without bob\'s seal');
    assert.equal((await webPut(t, s2, '/Project/web-3.txt', 'x')).status, 403, 'web API write without bob\'s seal');
    assert.equal((await t.fetch(dav(BOB, 'Project/dav-3.txt'), { method: 'PUT', as: BOB, body: 'x' })).status, 403, 'WebDAV write without bob\'s seal');
    // alice, meanwhile, reads with her own key.
    assert.ok((await aliceReads(t, 'Project/f.bin')).equals(BODY));
  });
});
