import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { dav, FILES, propfindBody } from './helpers.ts';

const sha1 = (b: string | Buffer) => createHash('sha1').update(b).digest('hex');
const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');

describe('DAV write side: PUT, MKCOL, DELETE, COPY, MOVE, PROPPATCH, PATCH', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(() => t.stop());
  const stat = (p: string) => t.app.files.tryStat('admin', p);
  const ocId = (id: number) => `${String(id).padStart(8, '0')}${t.app.config.instanceid}`;

  it('PUT creates (201) then overwrites (204) with ETag, OC-ETag, OC-FileId and X-OC-MTime', async () => {
    const r = await dav(t, 'PUT', `${FILES}/new.txt`, { body: 'hello', headers: { 'x-oc-mtime': '1795767190', 'oc-checksum': `SHA1:${sha1('hello')}` } });
    assert.equal(r.status, 201);
    const n = (await stat('new.txt'))!;
    assert.equal(n.size, 5);
    assert.equal(n.mtime, 1795767190);
    assert.equal(n.checksum, `SHA1:${sha1('hello')}`);
    assert.equal(r.headers.etag, `"${n.etag}"`);
    assert.equal(r.headers['oc-etag'], `"${n.etag}"`);
    assert.equal(r.headers['oc-fileid'], ocId(n.fileId));
    assert.equal(r.headers['x-oc-mtime'], 'accepted');
    const r2 = await dav(t, 'PUT', `${FILES}/new.txt`, { body: 'hello world', headers: { 'if-match': `"${n.etag}"`, 'x-oc-ctime': '1' } });
    assert.equal(r2.status, 204);
    const n2 = (await stat('new.txt'))!;
    assert.equal(n2.fileId, n.fileId);
    assert.notEqual(n2.etag, n.etag);
    assert.equal((await dav(t, 'GET', `${FILES}/new.txt`)).text, 'hello world');
  });

  it('PUT preconditions: If-Match mismatch and If-None-Match: * on an existing file are 412 and change nothing', async () => {
    const before = (await stat('new.txt'))!;
    assert.equal((await dav(t, 'PUT', `${FILES}/new.txt`, { body: 'x', headers: { 'if-match': '"nope"' } })).status, 412);
    assert.equal((await dav(t, 'PUT', `${FILES}/new.txt`, { body: 'x', headers: { 'if-none-match': '*' } })).status, 412);
    assert.equal((await dav(t, 'PUT', `${FILES}/fresh.txt`, { body: 'x', headers: { 'if-none-match': '*' } })).status, 201);
    assert.equal((await dav(t, 'PUT', `${FILES}/never.txt`, { body: 'x', headers: { 'if-match': '"abc"' } })).status, 412);
    assert.equal((await stat('new.txt'))!.etag, before.etag);
    assert.equal(await stat('never.txt'), undefined);
  });

  it('PUT refuses a wrong checksum (400), a missing parent (409), a folder target (409), the root (405)', async () => {
    assert.equal((await dav(t, 'PUT', `${FILES}/bad.txt`, { body: 'abc', headers: { 'oc-checksum': `SHA1:${sha1('xyz')}` } })).status, 400);
    assert.equal(await stat('bad.txt'), undefined);
    assert.equal((await dav(t, 'PUT', `${FILES}/no/parent.txt`, { body: 'abc' })).status, 409);
    await t.app.files.mkdir('admin', 'folder');
    assert.equal((await dav(t, 'PUT', `${FILES}/folder`, { body: 'abc' })).status, 409);
    assert.equal((await dav(t, 'PUT', `${FILES}/`, { body: 'abc' })).status, 405);
    assert.equal((await dav(t, 'PUT', `${FILES}/x.txt`, { body: 'abc', headers: { 'content-range': 'bytes 0-2/3' } })).status, 400);
  });

  it('PUT with OC-Total-Length that disagrees with the body stores nothing', async () => {
    const r = await dav(t, 'PUT', `${FILES}/short.txt`, { body: 'abc', headers: { 'oc-total-length': '10' } });
    assert.equal(r.status, 400);
    assert.equal(await stat('short.txt'), undefined);
  });

  it('PUT over quota is 507', async () => {
    await t.addUser('small', 'small-password-1', { quota: 10 });
    const as = { uid: 'small', password: 'small-password-1' };
    const r = await dav(t, 'PUT', '/remote.php/dav/files/small/big.bin', { as, body: Buffer.alloc(100) });
    assert.equal(r.status, 507);
    assert.equal((await dav(t, 'PUT', '/remote.php/dav/files/small/ok.bin', { as, body: Buffer.alloc(5) })).status, 201);
  });

  it('MKCOL: 201 with OC-FileId; 405 when it exists; 409 without parent; 415 with a body', async () => {
    const r = await dav(t, 'MKCOL', `${FILES}/made`, { headers: { 'x-oc-mtime': '1600000000' } });
    assert.equal(r.status, 201);
    const n = (await stat('made'))!;
    assert.equal(n.kind, 'dir');
    assert.equal(r.headers['oc-fileid'], ocId(n.fileId));
    assert.equal((await dav(t, 'MKCOL', `${FILES}/made/`)).status, 405);
    assert.equal((await dav(t, 'MKCOL', `${FILES}/new.txt`)).status, 405);
    assert.equal((await dav(t, 'MKCOL', `${FILES}/`)).status, 405);
    assert.equal((await dav(t, 'MKCOL', `${FILES}/a/b/c`)).status, 409);
    assert.equal((await dav(t, 'MKCOL', `${FILES}/withbody`, { body: '<x/>' })).status, 415);
    assert.equal(await stat('withbody'), undefined);
  });

  it('DELETE: 204 recursively; 404 when missing; root is 403; If-Match is honoured', async () => {
    await t.app.files.mkdir('admin', 'gone');
    await dav(t, 'PUT', `${FILES}/gone/f.txt`, { body: 'x' });
    assert.equal((await dav(t, 'DELETE', `${FILES}/gone/f.txt`, { headers: { 'if-match': '"nope"' } })).status, 412);
    assert.equal((await dav(t, 'DELETE', `${FILES}/gone/`)).status, 204);
    assert.equal(await stat('gone'), undefined);
    assert.equal(await stat('gone/f.txt'), undefined);
    assert.equal((await dav(t, 'DELETE', `${FILES}/gone`)).status, 404);
    assert.equal((await dav(t, 'DELETE', `${FILES}/`)).status, 403);
  });

  it('MOVE keeps the file id, answers 201/204, and 412 for Overwrite: F onto an existing file', async () => {
    await dav(t, 'PUT', `${FILES}/m1.txt`, { body: 'one', headers: { 'oc-checksum': `SHA1:${sha1('one')}` } });
    const before = (await stat('m1.txt'))!;
    const r = await dav(t, 'MOVE', `${FILES}/m1.txt`, { headers: { destination: `${FILES}/m2.txt` } });
    assert.equal(r.status, 201);
    const moved = (await stat('m2.txt'))!;
    assert.equal(moved.fileId, before.fileId);
    assert.equal(r.headers['oc-fileid'], ocId(before.fileId));
    assert.equal(r.headers.etag, `"${moved.etag}"`);
    assert.equal(await stat('m1.txt'), undefined);
    await dav(t, 'PUT', `${FILES}/m3.txt`, { body: 'three' });
    const f = await dav(t, 'MOVE', `${FILES}/m2.txt`, { headers: { destination: `${t.url}${FILES}/m3.txt`, overwrite: 'F' } });
    assert.equal(f.status, 412);
    assert.doesNotMatch(f.text, /multistatus/);
    const o = await dav(t, 'MOVE', `${FILES}/m2.txt`, { headers: { destination: `${t.url}${FILES}/m3.txt`, overwrite: 'T' } });
    assert.equal(o.status, 204);
    assert.equal((await dav(t, 'GET', `${FILES}/m3.txt`)).text, 'one');
    assert.equal((await stat('m3.txt'))!.fileId, before.fileId);
  });

  it('MOVE/COPY refusals: missing destination parent 409, onto or into itself 403, bad Depth 400, other host 502, other user 403', async () => {
    await t.app.files.mkdir('admin', 'src');
    await dav(t, 'PUT', `${FILES}/src/f.txt`, { body: 'f' });
    const mv = (dest: string, headers: Record<string, string> = {}) => dav(t, 'MOVE', `${FILES}/src`, { headers: { destination: dest, ...headers } });
    assert.equal((await mv(`${FILES}/nope/dst`)).status, 409);
    assert.equal((await mv(`${FILES}/src`)).status, 403);
    assert.equal((await mv(`${FILES}/src/inner`)).status, 403);
    assert.equal((await mv(`${FILES}/dst`, { depth: '0' })).status, 400);
    assert.equal((await mv('http://other.example/remote.php/dav/files/admin/dst')).status, 502);
    assert.equal((await mv('/remote.php/dav/files/small/dst')).status, 403);
    assert.equal((await dav(t, 'MOVE', `${FILES}/src`)).status, 400);
    assert.equal((await dav(t, 'COPY', `${FILES}/missing`, { headers: { destination: `${FILES}/x` } })).status, 404);
    assert.ok(await stat('src/f.txt'));
  });

  it('COPY gives new ids, carries checksums and dead properties, honours Depth 0', async () => {
    await t.app.files.mkdir('admin', 'c');
    await dav(t, 'PUT', `${FILES}/c/f.txt`, { body: 'copy me', headers: { 'oc-checksum': `SHA1:${sha1('copy me')}` } });
    const f = (await stat('c/f.txt'))!;
    await t.app.files.properties.patch(f.fileId, [{ op: 'set', prop: { namespace: 'urn:x', name: 'tag', value: 'v' } }]);
    const r = await dav(t, 'COPY', `${FILES}/c`, { headers: { destination: `${FILES}/c2` } });
    assert.equal(r.status, 201);
    const copy = (await stat('c2/f.txt'))!;
    assert.notEqual(copy.fileId, f.fileId);
    assert.equal(copy.checksum, `SHA1:${sha1('copy me')}`);
    const props = await dav(t, 'PROPFIND', `${FILES}/c2/f.txt`, { headers: { depth: '0' }, body: propfindBody('x:tag', 'oc:checksums') });
    assert.ok(props.text.includes('<tag xmlns="urn:x">v</tag>'));
    assert.ok(props.text.includes(`SHA1:${sha1('copy me')}`));
    const shallow = await dav(t, 'COPY', `${FILES}/c`, { headers: { destination: `${FILES}/c3`, depth: '0' } });
    assert.equal(shallow.status, 201);
    assert.equal((await stat('c3'))!.kind, 'dir');
    assert.equal(await stat('c3/f.txt'), undefined);
    assert.equal((await dav(t, 'COPY', `${FILES}/c`, { headers: { destination: `${FILES}/c2`, overwrite: 'F' } })).status, 412);
    assert.equal((await dav(t, 'COPY', `${FILES}/c/f.txt`, { headers: { destination: `${FILES}/c2/f.txt` } })).status, 204);
    assert.equal((await dav(t, 'COPY', `${FILES}/c`, { headers: { destination: `${FILES}/c4`, depth: '1' } })).status, 400);
  });

  it('PROPPATCH sets and removes dead properties in document order and they survive MOVE', async () => {
    await dav(t, 'PUT', `${FILES}/p.txt`, { body: 'p' });
    const body = `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z">
      <d:set><d:prop><z:a>1</z:a><z:b><inner xmlns="urn:i">x</inner></z:b><empty xmlns="">e</empty></d:prop></d:set>
      <d:remove><d:prop><z:a/></d:prop></d:remove>
      <d:set><d:prop><z:c>&#65536;</z:c></d:prop></d:set></d:propertyupdate>`;
    const r = await dav(t, 'PROPPATCH', `${FILES}/p.txt`, { body });
    assert.equal(r.status, 207);
    assert.doesNotMatch(r.text, /HTTP\/1.1 (4|5)\d\d/);
    await dav(t, 'MOVE', `${FILES}/p.txt`, { headers: { destination: `${FILES}/p2.txt` } });
    const g = await dav(t, 'PROPFIND', `${FILES}/p2.txt`, { headers: { depth: '0' }, body: `<d:propfind xmlns:d="DAV:" xmlns:z="urn:z"><d:prop><z:a/><z:b/><z:c/><empty xmlns=""/></d:prop></d:propfind>` });
    assert.ok(g.text.includes('<b xmlns="urn:z"><inner xmlns="urn:i">x</inner></b>'));
    assert.ok(g.text.includes('<c xmlns="urn:z">\u{10000}</c>'));
    assert.ok(g.text.includes('<empty xmlns="">e</empty>'));
    assert.match(g.text, /<d:propstat><d:prop><a xmlns="urn:z"\/><\/d:prop><d:status>HTTP\/1.1 404/);
  });

  it('PROPPATCH lastmodified sets the mtime (rclone), favorite is stored', async () => {
    const r = await dav(t, 'PROPPATCH', `${FILES}/p2.txt`, {
      body: '<d:propertyupdate xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:set><d:prop><lastmodified xmlns="DAV:">1500000000</lastmodified><oc:favorite>1</oc:favorite></d:prop></d:set></d:propertyupdate>',
    });
    assert.equal(r.status, 207);
    assert.match(r.text, /HTTP\/1.1 200 OK/);
    const n = (await stat('p2.txt'))!;
    assert.equal(n.mtime, 1500000000);
    assert.equal(n.favorite, true);
  });

  it('PROPPATCH of a protected property fails as a whole: 403 for it, 424 for the rest', async () => {
    const r = await dav(t, 'PROPPATCH', `${FILES}/p2.txt`, {
      body: '<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop><z:new>1</z:new><d:getetag>"x"</d:getetag></d:prop></d:set></d:propertyupdate>',
    });
    assert.equal(r.status, 207);
    assert.match(r.text, /<d:prop><new xmlns="urn:z"\/><\/d:prop><d:status>HTTP\/1.1 424 Failed Dependency/);
    assert.match(r.text, /<d:prop><d:getetag\/><\/d:prop><d:status>HTTP\/1.1 403 Forbidden/);
    const props = await t.app.files.properties.get((await stat('p2.txt'))!.fileId);
    assert.equal(props.find((p) => p.name === 'new'), undefined);
  });

  it('PROPPATCH with malformed XML or the wrong root is 400; on a missing file 404', async () => {
    assert.equal((await dav(t, 'PROPPATCH', `${FILES}/p2.txt`, { body: '<d:propertyupdate xmlns:d="DAV:">' })).status, 400);
    assert.equal((await dav(t, 'PROPPATCH', `${FILES}/p2.txt`, { body: '<d:propfind xmlns:d="DAV:"/>' })).status, 400);
    assert.equal((await dav(t, 'PROPPATCH', `${FILES}/none`, { body: '<d:propertyupdate xmlns:d="DAV:"/>' })).status, 404);
  });

  it('PATCH X-Recalculate-Hash returns and stores the checksum', async () => {
    await dav(t, 'PUT', `${FILES}/h.bin`, { body: 'hash me' });
    const r = await dav(t, 'PATCH', `${FILES}/h.bin`, { headers: { 'x-recalculate-hash': 'sha1' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['oc-checksum'], `SHA1:${sha1('hash me')}`);
    const m = await dav(t, 'PATCH', `${FILES}/h.bin`, { headers: { 'x-recalculate-hash': 'MD5' } });
    assert.equal(m.headers['oc-checksum'], `MD5:${md5('hash me')}`);
    const a = await dav(t, 'PATCH', `${FILES}/h.bin`, { headers: { 'x-recalculate-hash': 'adler32' } });
    assert.match(String(a.headers['oc-checksum']), /^ADLER32:[0-9a-f]{8}$/);
    assert.equal((await dav(t, 'GET', `${FILES}/h.bin`)).headers['oc-checksum'], `SHA1:${sha1('hash me')}`);
    assert.equal((await dav(t, 'PATCH', `${FILES}/h.bin`, { headers: { 'x-recalculate-hash': 'CRC9' } })).status, 400);
    assert.equal((await dav(t, 'PATCH', `${FILES}/h.bin`)).status, 405);
  });

  it('an unknown method is 405 with Allow', async () => {
    const r = await dav(t, 'SEARCH', `${FILES}/`);
    assert.equal(r.status, 405);
    assert.match(String(r.headers.allow), /PROPFIND/);
  });

  it('folder etags change up to the root on a change below', async () => {
    await t.app.files.mkdir('admin', 'e1');
    await t.app.files.mkdir('admin', 'e1/e2');
    const root = (await stat(''))!.etag;
    const e1 = (await stat('e1'))!.etag;
    await dav(t, 'PUT', `${FILES}/e1/e2/f.txt`, { body: 'x' });
    assert.notEqual((await stat(''))!.etag, root);
    assert.notEqual((await stat('e1'))!.etag, e1);
  });
});
