import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basic, startTestServer, type TestServer } from '../auth/helpers.ts';

const FAST = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const ADMIN = { uid: 'admin', password: 'admin-pw' };
const ALICE = { uid: 'alice', password: 'alice-pw' };

describe('OCS and status.php', () => {
  let s: TestServer;
  const get = (path: string, as?: { uid: string; password: string }, headers: Record<string, string> = {}) =>
    fetch(s.url + path, { headers: { ...(as ? { authorization: basic(as.uid, as.password) } : {}), ...headers } });
  const send = (method: string, path: string, as: { uid: string; password: string } | undefined, body: Record<string, string>) =>
    fetch(s.url + path, {
      method,
      headers: { ...(as ? { authorization: basic(as.uid, as.password) } : {}), 'content-type': 'application/x-www-form-urlencoded', 'ocs-apirequest': 'true' },
      body: new URLSearchParams(body).toString(),
    });

  before(async () => {
    s = await startTestServer({ argon2: FAST, throttle: { baseDelayMs: 10 } });
    await s.app.users.create({ uid: ADMIN.uid, password: ADMIN.password, isAdmin: true });
    await s.app.users.create({ uid: ALICE.uid, password: ALICE.password, displayName: 'Alice', email: 'alice@example.org', quota: 1_000_000 });
  });
  after(async () => { await s.close(); });

  it('GET /status.php returns the full status object and reports maintenance', async () => {
    let r = await get('/status.php');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /application\/json/);
    const body = await r.json();
    assert.deepEqual(Object.keys(body).sort(), ['edition', 'extendedSupport', 'installed', 'maintenance', 'needsDbUpgrade', 'productname', 'version', 'versionstring']);
    assert.equal(body.installed, true);
    assert.equal(body.maintenance, false);
    assert.match(body.version, /^\d+\.\d+\.\d+\.\d+$/);
    await s.app.appConfig.set('core', 'maintenance', '1');
    await new Promise((res) => setTimeout(res, 1100)); // the flag is cached for ≤ 1 s
    try {
      r = await get('/status.php');
      assert.equal((await r.json()).maintenance, true);
      r = await get('/ocs/v2.php/cloud/capabilities?format=json');
      assert.equal(r.status, 503);
      await r.arrayBuffer();
    } finally {
      await s.app.maintenance.set(false);
    }
  });

  it('capabilities v1 JSON: statuscode 100 and the client minimum set with bulkupload, no locking', async () => {
    const r = await get('/ocs/v1.php/cloud/capabilities?format=json', undefined, { 'ocs-apirequest': 'true' });
    assert.equal(r.status, 200);
    const { ocs } = await r.json();
    assert.deepEqual(ocs.meta, { status: 'ok', statuscode: 100, message: 'OK', totalitems: '', itemsperpage: '' });
    const c = ocs.data.capabilities;
    assert.equal(ocs.data.version.major, 30);
    assert.equal(c.dav.chunking, '1.0');
    assert.equal(c.dav.bulkupload, '1.0');
    assert.equal(c.files.bigfilechunking, true);
    assert.equal(c.files.locking, undefined);
    assert.deepEqual(c.files.blacklisted_files, ['.htaccess']);
    assert.equal(c.core['webdav-root'], 'remote.php/webdav');
    assert.equal(c.core.pollinterval, 60);
    assert.deepEqual(c.checksums, { supportedTypes: ['SHA1'], preferredUploadType: 'SHA1' });
  });

  it('capabilities v2 JSON via Accept, and XML by default', async () => {
    let r = await get('/ocs/v2.php/cloud/capabilities', ADMIN, { accept: 'application/json' });
    const { ocs } = await r.json();
    assert.deepEqual(ocs.meta, { status: 'ok', statuscode: 200, message: 'OK' });
    r = await get('/ocs/v2.php/cloud/capabilities');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /text\/xml/);
    const xml = await r.text();
    assert.match(xml, /^<\?xml version="1.0"\?>\n<ocs>\n <meta>\n  <status>ok<\/status>\n  <statuscode>200<\/statuscode>/);
    assert.match(xml, /<dav>\s*<chunking>1\.0<\/chunking>\s*<bulkupload>1\.0<\/bulkupload>\s*<\/dav>/);
    assert.match(xml, /<bigfilechunking>1<\/bigfilechunking>/);
    assert.match(xml, /<blacklisted_files>\s*<element>\.htaccess<\/element>\s*<\/blacklisted_files>/);
    assert.match(xml, /<webdav-root>remote\.php\/webdav<\/webdav-root>/);
    r = await get('/ocs/v1.php/cloud/capabilities');
    assert.match(await r.text(), /<statuscode>100<\/statuscode>/);
  });

  it('401 with the Basic challenge for missing or wrong credentials (v1 997, v2 997)', async () => {
    for (const path of ['/ocs/v1.php/cloud/user?format=json', '/ocs/v2.php/cloud/user?format=json']) {
      let r = await get(path);
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Basic realm="Nextcloud", charset="UTF-8"');
      assert.equal((await r.json()).ocs.meta.statuscode, 997);
      r = await get(path, { uid: 'alice', password: 'nope' });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Basic realm="Nextcloud", charset="UTF-8"');
      await r.arrayBuffer();
    }
    const r = await get('/ocs/v1.php/cloud/capabilities?format=json', { uid: 'alice', password: 'nope' });
    assert.equal(r.status, 401, 'wrong credentials on a public endpoint still fail');
    await r.arrayBuffer();
    await s.app.throttle.registerSuccess('127.0.0.1', 'alice');
    await s.app.throttle.registerSuccess('127.0.0.1', 'alice');
  });

  it('GET cloud/user: id, display-name, email and quota (used = root node size)', async () => {
    await s.app.db.insertInto('nodes').values({
      fileid: 1_000_001, owner: 'alice', parent_id: null, path: '', name: '', kind: 'dir', size: 250_000,
      mtime: 1, etag: 'e', mimetype: 'httpd/unix-directory', blob_id: null, blob_codec: null, checksum: null, favorite: 0,
    }).execute();
    const r = await get('/ocs/v1.php/cloud/user?format=json', ALICE);
    assert.equal(r.status, 200);
    const { ocs } = await r.json();
    assert.equal(ocs.meta.statuscode, 100);
    assert.equal(ocs.data.id, 'alice');
    assert.equal(ocs.data['display-name'], 'Alice');
    assert.equal(ocs.data.email, 'alice@example.org');
    assert.deepEqual(ocs.data.quota, { free: 750_000, used: 250_000, total: 1_000_000, relative: 25, quota: 1_000_000 });
    const x = await (await get('/ocs/v2.php/cloud/user', ALICE)).text();
    assert.match(x, /<display-name>Alice<\/display-name>/);
    const a = await (await get('/ocs/v2.php/cloud/user?format=json', ADMIN)).json();
    assert.equal(a.ocs.data.quota.quota, -3, 'unlimited');
    assert.equal(a.ocs.data.quota.used, 0);
    assert.ok(a.ocs.data.quota.free > 0);
  });

  it('cloud/users: admin lists and adds; non-admins get 403', async () => {
    let r = await get('/ocs/v2.php/cloud/users?format=json', ADMIN);
    assert.deepEqual((await r.json()).ocs.data.users, ['admin', 'alice']);
    r = await get('/ocs/v2.php/cloud/users?format=json', ALICE);
    assert.equal(r.status, 403);
    assert.equal((await r.json()).ocs.meta.statuscode, 403);
    r = await get('/ocs/v1.php/cloud/users?format=json', ALICE);
    assert.equal(r.status, 200, 'v1 errors are HTTP 200');
    assert.equal((await r.json()).ocs.meta.statuscode, 403);

    r = await send('POST', '/ocs/v2.php/cloud/users?format=json', ADMIN, { userid: 'bob', password: 'bob-pw', displayName: 'Bob', email: 'bob@example.org', quota: '1 GB' });
    assert.equal(r.status, 200);
    assert.deepEqual((await r.json()).ocs.data, { id: 'bob' });
    const bob = await s.app.users.get('bob');
    assert.equal(bob.displayName, 'Bob');
    assert.equal(bob.quota, 2 ** 30);
    r = await send('POST', '/ocs/v2.php/cloud/users?format=json', ADMIN, { userid: 'bob', password: 'x' });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).ocs.meta.statuscode, 102);
    r = await send('POST', '/ocs/v1.php/cloud/users?format=json', ADMIN, { userid: 'bad/name', password: 'x' });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).ocs.meta.statuscode, 101);
    r = await send('POST', '/ocs/v2.php/cloud/users?format=json', ALICE, { userid: 'mallory', password: 'x' });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    await assert.rejects(s.app.users.get('mallory'));
  });

  it('cloud/users/<id>: GET self or admin, 404 (v2) / 998 (v1) for unknown users', async () => {
    let r = await get('/ocs/v2.php/cloud/users/alice?format=json', ALICE);
    assert.equal((await r.json()).ocs.data.id, 'alice');
    r = await get('/ocs/v2.php/cloud/users/bob?format=json', ALICE);
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    r = await get('/ocs/v2.php/cloud/users/bob?format=json', ADMIN);
    assert.equal((await r.json()).ocs.data.displayname, 'Bob');
    r = await get('/ocs/v2.php/cloud/users/nobody?format=json', ADMIN);
    assert.equal(r.status, 404);
    assert.equal((await r.json()).ocs.meta.statuscode, 404);
    r = await get('/ocs/v1.php/cloud/users/nobody?format=json', ADMIN);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).ocs.meta.statuscode, 998);
    r = await get('/ocs/v1.php/no/such/endpoint?format=json', ADMIN);
    assert.equal((await r.json()).ocs.meta.statuscode, 998);
    r = await get('/ocs/v2.php/no/such/endpoint?format=json', ADMIN);
    assert.equal(r.status, 404);
    await r.arrayBuffer();
  });

  it('PUT cloud/users/<id>: own display name, email and password; quota admin-only', async () => {
    let r = await send('PUT', '/ocs/v2.php/cloud/users/alice?format=json', ALICE, { key: 'displayname', value: 'Alice Liddell' });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await fetch(s.url + '/ocs/v2.php/cloud/users/alice?format=json', {
      method: 'PUT', headers: { authorization: basic(ALICE.uid, ALICE.password), 'content-type': 'application/json', 'OCS-APIREQUEST': 'true' },
      body: JSON.stringify({ key: 'email', value: 'json@example.org' }),
    });
    assert.equal(r.status, 200, 'JSON bodies work too');
    await r.arrayBuffer();
    assert.equal((await s.app.users.get('alice')).email, 'json@example.org');
    r = await send('PUT', '/ocs/v2.php/cloud/users/alice?format=json', ALICE, { key: 'email', value: 'al@example.org' });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await send('PUT', '/ocs/v2.php/cloud/users/alice?format=json', ALICE, { key: 'quota', value: '5 GB' });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    r = await send('PUT', '/ocs/v2.php/cloud/users/bob?format=json', ALICE, { key: 'displayname', value: 'Hacked' });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    r = await send('PUT', '/ocs/v2.php/cloud/users/alice?format=json', ADMIN, { key: 'quota', value: 'none' });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await send('PUT', '/ocs/v2.php/cloud/users/alice?format=json', ADMIN, { key: 'colour', value: 'red' });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).ocs.meta.statuscode, 103);
    let a = await s.app.users.get('alice');
    assert.equal(a.displayName, 'Alice Liddell');
    assert.equal(a.email, 'al@example.org');
    assert.equal(a.quota, null);

    r = await send('PUT', '/ocs/v2.php/cloud/users/alice?format=json', ALICE, { key: 'password', value: 'alice-pw-2' });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await get('/ocs/v2.php/cloud/user?format=json', ALICE);
    assert.equal(r.status, 401, 'old password no longer works (cache invalidated)');
    await r.arrayBuffer();
    const alice2 = { uid: 'alice', password: 'alice-pw-2' };
    r = await get('/ocs/v2.php/cloud/user?format=json', alice2);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    // an admin may change anyone's password
    r = await send('PUT', '/ocs/v1.php/cloud/users/alice?format=json', ADMIN, { key: 'password', value: ALICE.password });
    assert.equal((await r.json()).ocs.meta.statuscode, 100);
    r = await get('/ocs/v2.php/cloud/user?format=json', alice2);
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    a = await s.app.users.verifyPassword('alice', ALICE.password);
    assert.equal(a.uid, 'alice');
    await s.app.throttle.registerSuccess('127.0.0.1', 'alice');
  });

  it('enable/disable and DELETE cloud/users/<id> are admin-only', async () => {
    const bob = { uid: 'bob', password: 'bob-pw' };
    let r = await send('PUT', '/ocs/v2.php/cloud/users/bob/disable?format=json', ALICE, {});
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    r = await send('PUT', '/ocs/v2.php/cloud/users/bob/disable?format=json', ADMIN, {});
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await get('/ocs/v2.php/cloud/user?format=json', bob);
    assert.equal(r.status, 401, 'disabled users cannot log in');
    await r.arrayBuffer();
    r = await send('PUT', '/ocs/v2.php/cloud/users/bob/enable?format=json', ADMIN, {});
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    await s.app.throttle.registerSuccess('127.0.0.1', 'bob');

    r = await send('DELETE', '/ocs/v2.php/cloud/users/bob?format=json', ALICE, {});
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    r = await send('DELETE', '/ocs/v2.php/cloud/users/admin?format=json', ADMIN, {});
    assert.equal(r.status, 400, 'an admin cannot delete themselves');
    await r.arrayBuffer();
    r = await send('DELETE', '/ocs/v2.php/cloud/users/bob?format=json', ADMIN, {});
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    await assert.rejects(s.app.users.get('bob'));
    r = await send('DELETE', '/ocs/v2.php/cloud/users/bob?format=json', ADMIN, {});
    assert.equal(r.status, 404);
    await r.arrayBuffer();
  });

  it('refuses oversized request bodies with 413', async () => {
    const r = await send('PUT', '/ocs/v2.php/cloud/users/alice?format=json', ALICE, { key: 'displayname', value: 'x'.repeat(70_000) });
    assert.equal(r.status, 413);
    await r.arrayBuffer();
  });
});
