import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readFileSync, truncateSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { dav, FILES, hrefs, PROPFIND_ALL_CLIENT, propfindBody } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const CONTENT = Buffer.from('0123456789abcdefghij');
const SHA1 = createHash('sha1').update(CONTENT).digest('hex');

describe('DAV read side: OPTIONS, PROPFIND, GET/HEAD', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await t.app.files.mkdir('admin', 'dir');
    await t.app.files.mkdir('admin', 'dir/sub');
    await t.app.files.writeFile(userActor('admin', 'password'), 'admin', 'dir/a b+c.txt', Readable.from([CONTENT]), { mtime: 1700000000, checksum: `SHA1:${SHA1}` });
    await t.app.files.writeFile(userActor('admin', 'password'), 'admin', 'dir/sub/deep.bin', Readable.from([Buffer.alloc(5)]), {});
    await t.app.files.writeFile(userActor('admin', 'password'), 'admin', 'empty.txt', Readable.from([]), {});
  });
  after(() => t.stop());

  it('OPTIONS advertises DAV 1, 2, 3', async () => {
    const r = await dav(t, 'OPTIONS', `${FILES}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.dav, '1, 2, 3');
    assert.equal(r.headers['ms-author-via'], 'DAV');
    assert.match(String(r.headers.allow), /PROPFIND/);
  });

  it('refuses requests without valid credentials with 401 and the Nextcloud challenge', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/`, { as: null });
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Nextcloud", charset="UTF-8"');
    const w = await dav(t, 'PROPFIND', `${FILES}/`, { as: { uid: 'admin', password: 'wrong' } });
    assert.equal(w.status, 401);
  });

  it('PROPFIND Depth 1 on the root lists its members with the client properties', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/`, { headers: { depth: '1' }, body: PROPFIND_ALL_CLIENT });
    assert.equal(r.status, 207);
    assert.deepEqual(hrefs(r.text), [`${FILES}/`, `${FILES}/dir/`, `${FILES}/empty.txt`]);
    const root = await t.app.files.stat('admin', '');
    assert.ok(r.text.includes(`<d:getetag>&quot;${root.etag}&quot;</d:getetag>`));
    assert.ok(r.text.includes(`<oc:id>${String(root.fileId).padStart(8, '0')}${t.app.config.instanceid}</oc:id>`));
    assert.ok(r.text.includes('<oc:permissions>RGDNVCK</oc:permissions>'));
    assert.ok(r.text.includes('<oc:permissions>RGDNVW</oc:permissions>'));
    assert.ok(r.text.includes('<oc:size>25</oc:size>'));
    // getcontentlength of folders goes into a 404 propstat
    assert.match(r.text, /<d:propstat><d:prop><d:getcontentlength\/>(<oc:checksums\/>)?<\/d:prop><d:status>HTTP\/1.1 404 Not Found/);
  });

  it('PROPFIND returns checksums, mtime from X-OC-Mtime, and encoded hrefs', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/dir/`, { headers: { depth: '1' }, body: PROPFIND_ALL_CLIENT });
    assert.equal(r.status, 207);
    assert.deepEqual(hrefs(r.text), [`${FILES}/dir/`, `${FILES}/dir/a%20b%2Bc.txt`, `${FILES}/dir/sub/`]);
    assert.ok(r.text.includes(`<oc:checksums><oc:checksum>SHA1:${SHA1}</oc:checksum></oc:checksums>`));
    assert.ok(r.text.includes('<d:getlastmodified>Tue, 14 Nov 2023 22:13:20 GMT</d:getlastmodified>'));
    assert.ok(r.text.includes('<d:getcontentlength>20</d:getcontentlength>'));
  });

  it('PROPFIND on a file with Depth 1 returns only that file; a missing path is 404', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/dir/a%20b+c.txt`, { headers: { depth: '1' }, body: propfindBody('d:getetag') });
    assert.deepEqual(hrefs(r.text), [`${FILES}/dir/a%20b%2Bc.txt`]);
    assert.equal((await dav(t, 'PROPFIND', `${FILES}/nope`, { headers: { depth: '0' } })).status, 404);
  });

  it('PROPFIND Depth infinity walks the subtree', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/dir`, { headers: { depth: 'infinity' }, body: propfindBody('d:resourcetype') });
    assert.equal(r.status, 207);
    assert.deepEqual(hrefs(r.text).sort(), [`${FILES}/dir/`, `${FILES}/dir/a%20b%2Bc.txt`, `${FILES}/dir/sub/`, `${FILES}/dir/sub/deep.bin`]);
  });

  it('unknown properties get one 404 propstat; allprop and propname never do', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/empty.txt`, { headers: { depth: '0' }, body: propfindBody('d:getetag', 'x:nope', 'x:other') });
    assert.equal(r.text.match(/404 Not Found/g)?.length, 1);
    assert.ok(r.text.includes('<nope xmlns="urn:x"/><other xmlns="urn:x"/>'));
    const all = await dav(t, 'PROPFIND', `${FILES}/dir`, { headers: { depth: '1' } });
    assert.equal(all.status, 207);
    assert.doesNotMatch(all.text, /HTTP\/1\.1 404/);
    assert.ok(all.text.includes('<d:getcontentlength>20</d:getcontentlength>'));
    assert.ok(all.text.includes('<d:supportedlock>'));
    const names = await dav(t, 'PROPFIND', `${FILES}/empty.txt`, { headers: { depth: '0' }, body: '<propfind xmlns="DAV:"><propname/></propfind>' });
    assert.ok(names.text.includes('<d:getetag/>'));
    assert.ok(names.text.includes('<oc:fileid/>'));
    assert.doesNotMatch(names.text, /HTTP\/1\.1 404/);
  });

  it('Brief: t drops the 404 propstat', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/dir`, { headers: { depth: '0', brief: 't' }, body: propfindBody('d:getetag', 'd:getcontentlength') });
    assert.doesNotMatch(r.text, /HTTP\/1\.1 404/);
  });

  it('quota and owner properties', async () => {
    const r = await dav(t, 'PROPFIND', `${FILES}/`, {
      headers: { depth: '0' },
      body: propfindBody('d:quota-available-bytes', 'd:quota-used-bytes', 'oc:owner-id', 'nc:has-preview', 'nc:is-encrypted', 'oc:favorite'),
    });
    assert.ok(r.text.includes('<d:quota-available-bytes>-3</d:quota-available-bytes>'));
    assert.ok(r.text.includes('<d:quota-used-bytes>25</d:quota-used-bytes>'));
    assert.ok(r.text.includes('<oc:owner-id>admin</oc:owner-id>'));
    assert.ok(r.text.includes('<nc:is-encrypted>0</nc:is-encrypted>'));
    assert.ok(r.text.includes('<oc:favorite>0</oc:favorite>'));
  });

  it('/remote.php/webdav/ is the same tree with its own hrefs', async () => {
    const r = await dav(t, 'PROPFIND', '/remote.php/webdav/', { headers: { depth: '1' }, body: propfindBody('d:getetag') });
    assert.deepEqual(hrefs(r.text), ['/remote.php/webdav/', '/remote.php/webdav/dir/', '/remote.php/webdav/empty.txt']);
  });

  it('the DAV root answers a minimal PROPFIND', async () => {
    const r = await dav(t, 'PROPFIND', '/remote.php/dav/', { headers: { depth: '1' } });
    assert.equal(r.status, 207);
    assert.deepEqual(hrefs(r.text), ['/remote.php/dav/', '/remote.php/dav/files/']);
    const f = await dav(t, 'PROPFIND', '/remote.php/dav/files/', { headers: { depth: '1' } });
    assert.deepEqual(hrefs(f.text), ['/remote.php/dav/files/', '/remote.php/dav/files/admin/']);
  });

  it('GET sends the content with version headers and OC-Checksum', async () => {
    const node = await t.app.files.stat('admin', 'dir/a b+c.txt');
    const r = await dav(t, 'GET', `${FILES}/dir/a%20b+c.txt`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, CONTENT);
    assert.equal(r.headers.etag, `"${node.etag}"`);
    assert.equal(r.headers['oc-etag'], `"${node.etag}"`);
    assert.equal(r.headers['oc-fileid'], `${String(node.fileId).padStart(8, '0')}${t.app.config.instanceid}`);
    assert.equal(r.headers['oc-checksum'], `SHA1:${SHA1}`);
    assert.equal(r.headers['last-modified'], 'Tue, 14 Nov 2023 22:13:20 GMT');
    assert.equal(r.headers['content-length'], '20');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['content-type'], 'text/plain');
  });

  it('HEAD sends the headers only', async () => {
    const r = await dav(t, 'HEAD', `${FILES}/dir/a%20b+c.txt`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '20');
    assert.equal(r.body.length, 0);
  });

  it('serves single byte ranges with 206 and Content-Range', async () => {
    const p = `${FILES}/dir/a%20b+c.txt`;
    const cases: Array<[string, string, string]> = [
      ['bytes=2-5', '2345', 'bytes 2-5/20'],
      ['bytes=15-', 'fghij', 'bytes 15-19/20'],
      ['bytes=-3', 'hij', 'bytes 17-19/20'],
      ['bytes=18-100', 'ij', 'bytes 18-19/20'],
    ];
    for (const [range, body, cr] of cases) {
      const r = await dav(t, 'GET', p, { headers: { range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.text, body, range);
      assert.equal(r.headers['content-range'], cr, range);
    }
    const multi = await dav(t, 'GET', p, { headers: { range: 'bytes=0-1,4-5' } });
    assert.equal(multi.status, 200);
    assert.equal(multi.body.length, 20);
  });

  it('answers unsatisfiable ranges with 416 and bytes */size', async () => {
    for (const range of ['bytes=20-', 'bytes=100-200', 'bytes=-0']) {
      const r = await dav(t, 'GET', `${FILES}/dir/a%20b+c.txt`, { headers: { range } });
      assert.equal(r.status, 416, range);
      assert.equal(r.headers['content-range'], 'bytes */20');
    }
    const e = await dav(t, 'GET', `${FILES}/empty.txt`, { headers: { range: 'bytes=0-0' } });
    assert.equal(e.status, 416);
  });

  it('If-Range with another etag serves the whole file', async () => {
    const r = await dav(t, 'GET', `${FILES}/dir/a%20b+c.txt`, { headers: { range: 'bytes=0-1', 'if-range': '"old"' } });
    assert.equal(r.status, 200);
  });

  it('conditional GET: 304 for If-None-Match / If-Modified-Since, 412 for If-Match / If-Unmodified-Since', async () => {
    const node = await t.app.files.stat('admin', 'dir/a b+c.txt');
    const p = `${FILES}/dir/a%20b+c.txt`;
    assert.equal((await dav(t, 'GET', p, { headers: { 'if-none-match': `"${node.etag}"` } })).status, 304);
    assert.equal((await dav(t, 'GET', p, { headers: { 'if-none-match': '"other"' } })).status, 200);
    assert.equal((await dav(t, 'GET', p, { headers: { 'if-modified-since': 'Tue, 14 Nov 2023 22:13:20 GMT' } })).status, 304);
    assert.equal((await dav(t, 'GET', p, { headers: { 'if-modified-since': 'Tue, 14 Nov 2023 22:13:19 GMT' } })).status, 200);
    assert.equal((await dav(t, 'GET', p, { headers: { 'if-match': '"other"' } })).status, 412);
    assert.equal((await dav(t, 'GET', p, { headers: { 'if-match': `"${node.etag}"` } })).status, 200);
    assert.equal((await dav(t, 'GET', p, { headers: { 'if-unmodified-since': 'Mon, 13 Nov 2023 00:00:00 GMT' } })).status, 412);
  });

  it('GET on a folder is 405; on a missing file 404 with a Sabre error body', async () => {
    assert.equal((await dav(t, 'GET', `${FILES}/dir/`)).status, 405);
    const r = await dav(t, 'GET', `${FILES}/missing.txt`);
    assert.equal(r.status, 404);
    assert.match(r.text, /<s:exception>Sabre\\DAV\\Exception\\NotFound<\/s:exception>/);
  });

  it('another user cannot read or list my tree', async () => {
    await t.addUser('eve', 'eve-password-123');
    const eve = { uid: 'eve', password: 'eve-password-123' };
    assert.equal((await dav(t, 'GET', `${FILES}/dir/a%20b+c.txt`, { as: eve })).status, 403);
    assert.equal((await dav(t, 'PROPFIND', `${FILES}/`, { as: eve, headers: { depth: '1' } })).status, 403);
    // eve's own tree is empty and separate
    const own = await dav(t, 'PROPFIND', '/remote.php/dav/files/eve/', { as: eve, headers: { depth: '1' } });
    assert.deepEqual(hrefs(own.text), ['/remote.php/dav/files/eve/']);
    void ADMIN;
  });

  it('maintenance mode answers 503 with Retry-After', async () => {
    await t.app.maintenance.set(true);
    try {
      const r = await dav(t, 'PROPFIND', `${FILES}/`, { headers: { depth: '0' } });
      assert.equal(r.status, 503);
      assert.ok(r.headers['retry-after']);
    } finally {
      await t.app.maintenance.set(false);
    }
    assert.equal((await dav(t, 'PROPFIND', `${FILES}/`, { headers: { depth: '0' } })).status, 207);
  });

  it('content shorter than its recorded size is never served as complete: the connection is cut', async () => {
    await t.app.files.writeFile(userActor('admin', 'password'), 'admin', 'trunc.bin', Readable.from([Buffer.alloc(100_000, 7)]), {});
    const node = await t.app.files.stat('admin', 'trunc.bin');
    assert.ok(hasLocalPaths(t.app.rawBlobs));
    truncateSync(t.app.rawBlobs.pathOf(node.blobId!), 50_000);
    await assert.rejects(dav(t, 'GET', `${FILES}/trunc.bin`), /aborted|ECONNRESET|socket hang up/);
    let audit = '';
    for (let i = 0; i < 50 && !audit.includes('integrity.failure'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      audit = readFileSync(join(t.dataDir, 'audit.log'), 'utf8');
    }
    assert.match(audit, /integrity\.failure/);
  });

  it('a file past the one-read size is served byte for byte, whole and in ranges across its buffers', async () => {
    const big = Buffer.allocUnsafe(3 * 1024 * 1024 + 12_344);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32BE(i, i);
    await t.app.files.writeFile(userActor('admin', 'password'), 'admin', 'big.bin', Readable.from([big]), {});
    const whole = await dav(t, 'GET', `${FILES}/big.bin`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-length'], String(big.length));
    assert.ok(whole.body.equals(big));
    for (const [start, end] of [[1, 2 * 1024 * 1024 + 7], [1024 * 1024 - 3, big.length - 1], [5, 1024 * 1024 + 5]]) {
      const r = await dav(t, 'GET', `${FILES}/big.bin`, { headers: { range: `bytes=${start}-${end}` } });
      assert.equal(r.status, 206);
      assert.ok(r.body.equals(big.subarray(start, end + 1)), `bytes ${start}-${end}`);
    }
  });

  it('a large blob shorter than its recorded size is never served as complete: the connection is cut', async () => {
    await t.app.files.writeFile(userActor('admin', 'password'), 'admin', 'trunc-big.bin', Readable.from([Buffer.alloc(3 * 1024 * 1024, 7)]), {});
    const node = await t.app.files.stat('admin', 'trunc-big.bin');
    assert.ok(hasLocalPaths(t.app.rawBlobs));
    truncateSync(t.app.rawBlobs.pathOf(node.blobId!), 2 * 1024 * 1024 + 5);
    await assert.rejects(dav(t, 'GET', `${FILES}/trunc-big.bin`), /aborted|ECONNRESET|socket hang up/);
    let audit = '';
    for (let i = 0; i < 50 && !audit.includes('trunc-big.bin'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      audit = readFileSync(join(t.dataDir, 'audit.log'), 'utf8');
    }
    assert.match(audit, /integrity\.failure.*trunc-big\.bin|trunc-big\.bin.*integrity\.failure/);
  });

  it('PUT with chunked transfer encoding and no Content-Length works', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const u = new URL(t.url);
      const req = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: `${FILES}/chunked.txt`, headers: { authorization: t.basic(ADMIN.uid, ADMIN.password), 'transfer-encoding': 'chunked' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.write('part one, ');
      setTimeout(() => req.end('part two'), 20);
    });
    assert.equal(r, 201);
    assert.equal((await dav(t, 'GET', `${FILES}/chunked.txt`)).text, 'part one, part two');
  });
});
