import { describe, it, before, after, afterEach } from 'node:test';
import { request } from 'node:http';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, ocs, put, seed, share, SHARES } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const basic = (user: string, pw = '') => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');

describe('public links: /s/<token>, download, /public.php/webdav', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await seed(t);
  });
  after(async () => { await t.stop(); });
  // Each test's deliberate failures (wrong passwords, dead tokens) would slow the next one down:
  // the throttle works, so forget them between tests.
  afterEach(async () => { await t.app.throttle.registerSuccess('127.0.0.1', ''); });

  /** A request with the path sent exactly as written (fetch would resolve dot segments). */
  function rawGet(path: string, auth: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const u = new URL(t.url);
      const r = request({ host: u.hostname, port: u.port, path, headers: { Authorization: auth } }, (res) => { res.resume(); resolve(res.statusCode!); });
      r.on('error', reject);
      r.end();
    });
  }

  it('shows a page for a file link and downloads the file', async () => {
    const s = await share(t, ALICE, { path: '/notes.txt', shareType: 3 });
    const page = await fetch(`${t.url}/s/${s.token}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'none'/);
    const html = await page.text();
    assert.match(html, /notes\.txt/);
    assert.match(html, new RegExp(`/s/${s.token}/download`));
    const dl = await fetch(`${t.url}/s/${s.token}/download`);
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition')!, /attachment; filename="notes\.txt"/);
    assert.equal(await dl.text(), 'my notes');
  });

  it('downloads a large file byte for byte; one whose blob is cut short is never served as complete', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 9);
    big.write('first', 0);
    big.write('last', big.length - 4);
    await t.app.files.writeFile(userActor(ALICE.uid, 'password'), ALICE.uid, 'big-link.bin', Readable.from([big]), {});
    const s = await share(t, ALICE, { path: '/big-link.bin', shareType: 3 });
    const dl = await fetch(`${t.url}/s/${s.token}/download`);
    assert.equal(dl.status, 200);
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(big));
    const node = await t.app.files.stat(ALICE.uid, 'big-link.bin');
    assert.ok(hasLocalPaths(t.app.rawBlobs));
    truncateSync(t.app.rawBlobs.pathOf(node.blobId!), 2 * 1024 * 1024);
    await assert.rejects(fetch(`${t.url}/s/${s.token}/download`).then((r) => r.arrayBuffer()));
  });

  it('downloads a folder as a streamed zip that unzip accepts', async () => {
    const s = await share(t, ALICE, { path: '/Project', shareType: 3 });
    const dl = await fetch(`${t.url}/s/${s.token}/download`);
    assert.equal(dl.status, 200);
    assert.equal(dl.headers.get('content-type'), 'application/zip');
    assert.equal(dl.headers.get('content-length'), null, 'streamed, not buffered');
    const zip = join(t.dir, 'p.zip');
    writeFileSync(zip, Buffer.from(await dl.arrayBuffer()));
    execFileSync('unzip', ['-tq', zip]); // CRCs and structure
    const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(listing, ['Project/', 'Project/a.txt', 'Project/sub/', 'Project/sub/b.txt']);
    assert.equal(execFileSync('unzip', ['-p', zip, 'Project/sub/b.txt'], { encoding: 'utf8' }), 'bravo');
    const one = await fetch(`${t.url}/s/${s.token}/download?path=/sub/b.txt`);
    assert.equal(await one.text(), 'bravo');
  });

  it('enforces the link password: form, wrong password 403, right one sets a signed cookie', async () => {
    await put(t, ALICE.uid, 'secret.txt', 'top secret');
    const s = await share(t, ALICE, { path: '/secret.txt', shareType: 3, password: 'open sesame' });
    const page = await fetch(`${t.url}/s/${s.token}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /type="password"/);
    assert.doesNotMatch(html, /secret\.txt/, 'nothing about the file before the password');
    assert.equal((await fetch(`${t.url}/s/${s.token}/download`)).status, 403);

    const post = (pw: string) => fetch(`${t.url}/s/${s.token}`, {
      method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: pw }).toString(),
    });
    const wrong = await post('wrong');
    assert.equal(wrong.status, 403);
    assert.equal(wrong.headers.get('set-cookie'), null);
    const right = await post('open sesame');
    assert.equal(right.status, 303);
    const cookie = right.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    const pair = cookie.split(';')[0]!;
    const dl = await fetch(`${t.url}/s/${s.token}/download`, { headers: { Cookie: pair } });
    assert.equal(dl.status, 200);
    assert.equal(await dl.text(), 'top secret');
    // a forged cookie does not work
    const forged = pair.replace(/=(\d+)\..*$/, '=$1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal((await fetch(`${t.url}/s/${s.token}/download`, { headers: { Cookie: forged } })).status, 403);
    // changing the password invalidates the session
    await ocs(t, ALICE, 'PUT', `${SHARES}/${s.id}`, { form: { password: 'new password' } });
    assert.equal((await fetch(`${t.url}/s/${s.token}/download`, { headers: { Cookie: pair } })).status, 403);
    const failures = [];
    for await (const e of t.app.audit.read()) if (e.event === 'login.failure' && e.method === 'public-link') failures.push(e);
    assert.ok(failures.length >= 1);
  });

  it('enforces expiry: 404 after the date', async () => {
    const s = await share(t, ALICE, { path: '/notes.txt', shareType: 3, expireDate: '2099-01-01' });
    assert.equal((await fetch(`${t.url}/s/${s.token}`)).status, 200);
    await t.app.db.updateTable('shares').set({ expiration: Math.floor(Date.now() / 1000) - 1 }).where('id', '=', Number(s.id)).execute();
    assert.equal((await fetch(`${t.url}/s/${s.token}`)).status, 404);
    assert.equal((await fetch(`${t.url}/s/${s.token}/download`)).status, 404);
    assert.equal((await fetch(`${t.url}/public.php/webdav/`, { method: 'PROPFIND', headers: { Authorization: basic(s.token), Depth: '0' } })).status, 401);
  });

  it('/public.php/webdav: PROPFIND and GET with the token as user name; PUT only with upload permission', async () => {
    const s = await share(t, ALICE, { path: '/Project', shareType: 3 });
    const pf = await fetch(`${t.url}/public.php/webdav/`, {
      method: 'PROPFIND', headers: { Authorization: basic(s.token), Depth: '1' },
      body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><d:getcontentlength/><oc:permissions/><d:resourcetype/></d:prop></d:propfind>',
    });
    assert.equal(pf.status, 207);
    const xml = await pf.text();
    assert.match(xml, /<d:href>\/public\.php\/webdav\/<\/d:href>/);
    assert.match(xml, /<d:href>\/public\.php\/webdav\/a\.txt<\/d:href>/);
    assert.match(xml, /<d:href>\/public\.php\/webdav\/sub\/<\/d:href>/);
    assert.match(xml, /<oc:permissions>SG<\/oc:permissions>/);
    const get = await fetch(`${t.url}/public.php/webdav/sub/b.txt`, { headers: { Authorization: basic(s.token) } });
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'bravo');
    const denied = await fetch(`${t.url}/public.php/webdav/new.txt`, { method: 'PUT', headers: { Authorization: basic(s.token) }, body: 'x' });
    assert.equal(denied.status, 403);
    assert.equal(await t.app.files.tryStat(ALICE.uid, 'Project/new.txt'), undefined);

    await ocs(t, ALICE, 'PUT', `${SHARES}/${s.id}`, { form: { permissions: 15 } });
    const ok = await fetch(`${t.url}/public.php/webdav/new.txt`, { method: 'PUT', headers: { Authorization: basic(s.token) }, body: 'uploaded' });
    assert.equal(ok.status, 201);
    let text = '';
    for await (const c of (await t.app.files.openRead(userActor(ALICE.uid, 'password'), ALICE.uid, 'Project/new.txt')).stream) text += c.toString();
    assert.equal(text, 'uploaded');
    assert.equal(await rawGet('/public.php/webdav/../notes.txt', basic(s.token)), 400);
    assert.equal(await rawGet('/public.php/webdav/%2e%2e/notes.txt', basic(s.token)), 400);
    assert.equal(await rawGet('/public.php/webdav/sub/..%2f..%2fnotes.txt', basic(s.token)), 400);
  });

  it('/public.php/webdav needs the link password when there is one', async () => {
    const s = await share(t, ALICE, { path: '/Project', shareType: 3, password: 'pw-for-dav' });
    const opts = (pw: string) => ({ method: 'PROPFIND', headers: { Authorization: basic(s.token, pw), Depth: '0' } });
    const no = await fetch(`${t.url}/public.php/webdav/`, opts('nope'));
    assert.equal(no.status, 401);
    assert.match(no.headers.get('www-authenticate')!, /Basic/);
    assert.equal((await fetch(`${t.url}/public.php/webdav/`, opts('pw-for-dav'))).status, 207);
  });

  it('a deleted share is gone everywhere (404 page, 401 DAV)', async () => {
    const s = await share(t, ALICE, { path: '/notes.txt', shareType: 3 });
    assert.equal((await ocs(t, ALICE, 'DELETE', `${SHARES}/${s.id}`)).http, 200);
    assert.equal((await fetch(`${t.url}/s/${s.token}`)).status, 404);
    assert.equal((await fetch(`${t.url}/s/${s.token}/download`)).status, 404);
    assert.equal((await fetch(`${t.url}/public.php/webdav/`, { method: 'PROPFIND', headers: { Authorization: basic(s.token), Depth: '0' } })).status, 401);
    assert.equal((await fetch(`${t.url}/s/doesnotexist123`)).status, 404);
  });
});
