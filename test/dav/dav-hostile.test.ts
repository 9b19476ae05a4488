import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { dav, FILES, rawStatus, treeSnapshot } from './helpers.ts';

/** Hostile requests get a 4xx and change nothing. */
describe('DAV hostile requests', () => {
  let t: TestInstance;
  const bob = { uid: 'bob', password: 'bob-password-123' };
  let snapAdmin = '';
  let snapBob = '';

  before(async () => {
    t = await startTestInstance();
    await t.addUser(bob.uid, bob.password);
    await dav(t, 'MKCOL', `${FILES}/dir`);
    await dav(t, 'PUT', `${FILES}/dir/secret.txt`, { body: 'admin secret' });
    await dav(t, 'PUT', '/remote.php/dav/files/bob/mine.txt', { as: bob, body: 'bob data' });
  });
  after(() => t.stop());
  beforeEach(async () => {
    snapAdmin = await treeSnapshot(t, 'admin');
    snapBob = await treeSnapshot(t, 'bob');
  });
  const unchanged = async () => {
    assert.equal(await treeSnapshot(t, 'admin'), snapAdmin);
    assert.equal(await treeSnapshot(t, 'bob'), snapBob);
  };
  const is4xx = (status: number, what: string) => assert.ok(status >= 400 && status < 500, `${what}: got ${status}`);

  it('path traversal, raw and encoded, in every method', async () => {
    const paths = [
      '/remote.php/dav/files/bob/../admin/dir/secret.txt',
      '/remote.php/dav/files/bob/%2e%2e/admin/dir/secret.txt',
      '/remote.php/dav/files/bob/%2E%2E/%2E%2E/admin',
      '/remote.php/dav/files/bob/..%2Fadmin/dir',
      '/remote.php/dav/files/bob/x%2F..%2F..%2Fadmin',
      '/remote.php/dav/files/bob/.',
      '/remote.php/webdav/../dav/files/admin/dir',
      '/remote.php/webdav/%2e%2e/%2e%2e/etc/passwd',
      '/remote.php/webdav/a%5c..%5c..%5cadmin',
    ];
    for (const p of paths) {
      for (const m of ['GET', 'PROPFIND', 'PUT', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'PROPPATCH']) {
        const r = await dav(t, m, p, { as: bob, body: m === 'PUT' ? 'pwned' : undefined, headers: { destination: '/remote.php/dav/files/bob/stolen', depth: '1' } });
        is4xx(r.status, `${m} ${p}`);
        assert.doesNotMatch(r.text, /admin secret/);
      }
    }
    await unchanged();
  });

  it("another user's tree: every method is refused", async () => {
    for (const m of ['GET', 'HEAD', 'PROPFIND', 'PUT', 'DELETE', 'MKCOL', 'PROPPATCH', 'PATCH', 'LOCK', 'COPY', 'MOVE']) {
      const r = await dav(t, m, `${FILES}/dir/secret.txt`, { as: bob, body: m === 'PUT' ? 'x' : undefined, headers: { destination: '/remote.php/dav/files/bob/got' } });
      is4xx(r.status, m);
      assert.doesNotMatch(r.text, /admin secret/);
    }
    // Destination into another user's tree
    for (const dest of ['/remote.php/dav/files/admin/dir/planted.txt', `${t.url}/remote.php/dav/files/admin/planted.txt`]) {
      for (const m of ['COPY', 'MOVE']) {
        const r = await dav(t, m, '/remote.php/dav/files/bob/mine.txt', { as: bob, headers: { destination: dest } });
        assert.equal(r.status, 403, `${m} → ${dest}`);
      }
    }
    const enc = await dav(t, 'PROPFIND', '/remote.php/dav/files/%61dmin/', { as: bob });
    assert.equal(enc.status, 403);
    await unchanged();
  });

  it('malformed XML, XXE and DOCTYPE bodies get 400', async () => {
    const bodies = [
      '<d:propfind xmlns:d="DAV:"><d:prop>',
      '<bar:foo xmlns:bar=""/>',
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop>&x;</d:propfind>',
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><x xmlns="urn:x">&b;</x></d:prop></d:set></d:propertyupdate>',
      'not xml at all',
      '<d:propfind xmlns:d="DAV:">\u0000</d:propfind>',
    ];
    for (const body of bodies) {
      for (const m of ['PROPFIND', 'PROPPATCH']) {
        const r = await dav(t, m, `${FILES}/dir/secret.txt`, { body, headers: { depth: '0' } });
        assert.equal(r.status, 400, `${m} ${body.slice(0, 40)}`);
        assert.doesNotMatch(r.text, /root:/);
      }
    }
    await unchanged();
  });

  it('an oversized XML body is refused with 413', async () => {
    const body = `<d:propfind xmlns:d="DAV:"><d:prop>${'<d:getetag/>'.repeat(200_000)}</d:prop></d:propfind>`;
    const r = await dav(t, 'PROPFIND', `${FILES}/`, { body });
    assert.equal(r.status, 413);
    await unchanged();
  });

  it('NUL bytes, encoded and raw, are refused', async () => {
    for (const p of [`${FILES}/a%00b.txt`, `${FILES}/dir%00/secret.txt`]) {
      for (const m of ['PUT', 'GET', 'MKCOL', 'PROPFIND']) {
        is4xx((await dav(t, m, p, { body: m === 'PUT' ? 'x' : undefined })).status, `${m} ${p}`);
      }
    }
    const auth = t.basic('admin', 'admin-password-123');
    const raw = Buffer.concat([Buffer.from(`PUT ${FILES}/a`), Buffer.from([0]), Buffer.from(`b.txt HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`)]);
    is4xx(await rawStatus(t, raw), 'raw NUL');
    const dest = await dav(t, 'MOVE', `${FILES}/dir/secret.txt`, { headers: { destination: `${FILES}/x%00y` } });
    is4xx(dest.status, 'Destination with NUL');
    await unchanged();
  });

  it('unsatisfiable ranges get 416 and no content', async () => {
    for (const range of ['bytes=1000-', 'bytes=12-', 'bytes=-0', 'bytes=99999999999999999999-']) {
      const r = await dav(t, 'GET', `${FILES}/dir/secret.txt`, { headers: { range } });
      assert.equal(r.status, 416, range);
      assert.doesNotMatch(r.text, /admin secret/);
    }
    await unchanged();
  });

  it('bad headers: Depth, Overwrite, X-OC-Mtime, Content-Length games', async () => {
    is4xx((await dav(t, 'PROPFIND', `${FILES}/`, { headers: { depth: '2' } })).status, 'Depth 2');
    is4xx((await dav(t, 'COPY', `${FILES}/dir`, { headers: { destination: `${FILES}/d2`, overwrite: 'maybe' } })).status, 'Overwrite');
    is4xx((await dav(t, 'PUT', `${FILES}/m.txt`, { body: 'x', headers: { 'x-oc-mtime': 'yesterday' } })).status, 'X-OC-Mtime');
    is4xx((await dav(t, 'PUT', `${FILES}/m.txt`, { body: 'x', headers: { 'oc-total-length': '-5' } })).status, 'OC-Total-Length');
    assert.equal((await dav(t, 'MOVE', `${FILES}/dir`, { headers: { destination: 'ftp://127.0.0.1/x' } })).status, 502);
    await unchanged();
  });

  it('refused uploads leave no half-written file behind', async () => {
    const r = await dav(t, 'PUT', `${FILES}/dir/secret.txt`, { body: 'overwrite attempt', headers: { 'oc-checksum': 'SHA1:0000000000000000000000000000000000000000' } });
    assert.equal(r.status, 400);
    assert.equal((await dav(t, 'GET', `${FILES}/dir/secret.txt`)).text, 'admin secret');
    await unchanged();
  });
});
