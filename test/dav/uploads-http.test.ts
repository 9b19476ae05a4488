import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption, encryptionSkipReason } from '../support/encryption-enabler.ts';

const FILES = '/remote.php/dav/files/admin';
const UPLOADS = '/remote.php/dav/uploads/admin';
const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');

describe('chunked uploads over HTTP', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t.stop(); });

  const req = (path: string, method: string, headers: Record<string, string> = {}, body?: Buffer | string) =>
    t.fetch(path, { method, headers, body: body as never });
  const get = async (path: string) => Buffer.from(await (await t.fetch(`${FILES}/${path}`)).arrayBuffer());

  test('desktop 3.7 style: MKCOL, 3 chunks, resume listing, MOVE .file with mtime/checksum → 201 then 204 with If-Match', async () => {
    const parts = [randomBytes(70_000), randomBytes(50_000), randomBytes(1234)];
    const whole = Buffer.concat(parts);
    assert.equal((await req(`${UPLOADS}/2931736874`, 'MKCOL', { 'OC-Total-Length': String(whole.length) })).status, 201);
    assert.equal((await req(`${UPLOADS}/2931736874`, 'MKCOL')).status, 405, 'MKCOL on an existing upload');
    let off = 0;
    for (const [i, p] of parts.slice(0, 2).entries()) {
      const r = await req(`${UPLOADS}/2931736874/${String(i).padStart(16, '0')}`, 'PUT', { 'OC-Chunk-Offset': String(off), 'OC-Total-Length': String(whole.length) }, p);
      assert.equal(r.status, 201);
      off += p.length;
    }
    // Resume: the client lists what is there and continues from the next index.
    const list = await req(`${UPLOADS}/2931736874`, 'PROPFIND', { Depth: '1' },
      '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/></d:prop></d:propfind>');
    assert.equal(list.status, 207);
    const xml = await list.text();
    assert.ok(xml.includes(`<d:href>${UPLOADS}/2931736874/</d:href>`));
    assert.ok(xml.includes(`<d:href>${UPLOADS}/2931736874/0000000000000000</d:href>`));
    assert.ok(xml.includes(`<d:href>${UPLOADS}/2931736874/0000000000000001</d:href>`));
    assert.ok(xml.includes('<d:getcontentlength>70000</d:getcontentlength>'));
    assert.ok(xml.includes('<d:getcontentlength>50000</d:getcontentlength>'));
    assert.match(xml, /<d:collection\/>/);
    assert.ok(!xml.includes('0000000000000002'));
    assert.equal((await req(`${UPLOADS}/2931736874/0000000000000002`, 'PUT', { 'OC-Chunk-Offset': String(off) }, parts[2])).status, 201);

    const mv = await req(`${UPLOADS}/2931736874/.file`, 'MOVE', {
      Destination: `${FILES}/big file+&.bin`, 'OC-Checksum': `SHA1:${sha1(whole)}`, 'OC-Total-Length': String(whole.length), 'X-OC-Mtime': '1700000000',
    });
    assert.equal(mv.status, 201);
    assert.equal(mv.headers.get('x-oc-mtime'), 'accepted');
    const etag = mv.headers.get('etag')!;
    assert.match(etag, /^"[^"]+"$/);
    assert.equal(mv.headers.get('oc-etag'), etag);
    assert.match(mv.headers.get('oc-fileid')!, /^\d{8}oc/);
    assert.ok((await get('big%20file%2B%26.bin')).equals(whole));
    const head = await t.fetch(`${FILES}/big%20file%2B%26.bin`, { method: 'HEAD' });
    assert.equal(head.headers.get('etag'), etag);
    assert.equal(head.headers.get('last-modified'), new Date(1700000000 * 1000).toUTCString());
    assert.equal((await req(`${UPLOADS}/2931736874`, 'PROPFIND', { Depth: '1' })).status, 404, 'upload gone after MOVE');

    // Overwrite with If-Match: wrong etag → 412 and nothing changes; right etag → 204, same file id.
    await req(`${UPLOADS}/up2`, 'MKCOL');
    await req(`${UPLOADS}/up2/0000000000000000`, 'PUT', {}, 'replacement');
    const bad = await req(`${UPLOADS}/up2/.file`, 'MOVE', { Destination: `${FILES}/big%20file%2B%26.bin`, 'If-Match': '"nope"' });
    assert.equal(bad.status, 412);
    assert.ok((await get('big%20file%2B%26.bin')).equals(whole));
    const ok = await req(`${UPLOADS}/up2/.file`, 'MOVE', { Destination: `${FILES}/big%20file%2B%26.bin`, 'If-Match': etag, 'OC-Total-Length': '11' });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('oc-fileid'), mv.headers.get('oc-fileid'));
    assert.equal((await get('big%20file%2B%26.bin')).toString(), 'replacement');
  });

  test('v2 style: Destination (absolute URL) on MKCOL, PUT and MOVE; chunks 1..n', async () => {
    const dest = `${t.url}${FILES}/v2.txt`;
    assert.equal((await req(`${UPLOADS}/web-file-upload-abc`, 'MKCOL', { Destination: dest, 'OC-Total-Length': '12' })).status, 201);
    for (const [i, s] of ['aaaa', 'bbbb', 'cccc'].entries()) {
      assert.equal((await req(`${UPLOADS}/web-file-upload-abc/${String(i + 1).padStart(5, '0')}`, 'PUT', { Destination: dest, 'OC-Total-Length': '12' }, s)).status, 201);
    }
    const mv = await req(`${UPLOADS}/web-file-upload-abc/.file`, 'MOVE', { Destination: dest, 'OC-Total-Length': '12' });
    assert.equal(mv.status, 201);
    assert.equal((await get('v2.txt')).toString(), 'aaaabbbbcccc');
  });

  test('rclone names (%015d-%015d) assemble in numeric order; a gap → 400 and nothing changes', async () => {
    const id = 'rclone-chunked-upload-' + 'a'.repeat(32);
    await req(`${UPLOADS}/${id}`, 'DELETE'); // rclone first removes a leftover; 404 is fine
    assert.equal((await req(`${UPLOADS}/${id}`, 'MKCOL')).status, 201);
    const name = (s: number, e: number) => `${String(s).padStart(15, '0')}-${String(e).padStart(15, '0')}`;
    // uploaded out of order; 10 sorts after 9 only numerically
    assert.equal((await req(`${UPLOADS}/${id}/${name(10, 14)}`, 'PUT', {}, 'KLMNO')).status, 201);
    assert.equal((await req(`${UPLOADS}/${id}/${name(0, 9)}`, 'PUT', {}, 'ABCDEFGHIJ')).status, 201);
    const mv = await req(`${UPLOADS}/${id}/.file`, 'MOVE', { Destination: `${t.url}${FILES}/rc.txt`, 'X-OC-Mtime': '1600000000', 'OC-Checksum': `SHA1:${sha1('ABCDEFGHIJKLMNO')}` });
    assert.equal(mv.status, 201);
    assert.equal((await get('rc.txt')).toString(), 'ABCDEFGHIJKLMNO');

    await req(`${UPLOADS}/${id}`, 'MKCOL');
    await req(`${UPLOADS}/${id}/${name(0, 4)}`, 'PUT', {}, 'zzzzz');
    await req(`${UPLOADS}/${id}/${name(10, 14)}`, 'PUT', {}, 'yyyyy');
    const gap = await req(`${UPLOADS}/${id}/.file`, 'MOVE', { Destination: `${FILES}/rc.txt` });
    assert.equal(gap.status, 400);
    assert.equal((await get('rc.txt')).toString(), 'ABCDEFGHIJKLMNO', 'destination unchanged');
    const gapNew = await req(`${UPLOADS}/${id}/.file`, 'MOVE', { Destination: `${FILES}/rc-new.txt` });
    assert.equal(gapNew.status, 400);
    assert.equal((await t.fetch(`${FILES}/rc-new.txt`)).status, 404, 'no file created');
    assert.equal((await req(`${UPLOADS}/${id}`, 'DELETE')).status, 204);
  });

  test('desktop offsets with a missing chunk, or a wrong total → 400 and nothing changes', async () => {
    await req(`${UPLOADS}/gap1`, 'MKCOL', { 'OC-Total-Length': '10' });
    await req(`${UPLOADS}/gap1/0000000000000000`, 'PUT', { 'OC-Chunk-Offset': '0' }, 'abcde');
    await req(`${UPLOADS}/gap1/0000000000000002`, 'PUT', { 'OC-Chunk-Offset': '10' }, 'klmno');
    assert.equal((await req(`${UPLOADS}/gap1/.file`, 'MOVE', { Destination: `${FILES}/gap1.txt` })).status, 400);
    assert.equal((await t.fetch(`${FILES}/gap1.txt`)).status, 404);

    await req(`${UPLOADS}/tot`, 'MKCOL', { 'OC-Total-Length': '11' });
    await req(`${UPLOADS}/tot/0000000000000000`, 'PUT', { 'OC-Chunk-Offset': '0' }, 'abcde');
    await req(`${UPLOADS}/tot/0000000000000001`, 'PUT', { 'OC-Chunk-Offset': '5' }, 'fghij');
    assert.equal((await req(`${UPLOADS}/tot/.file`, 'MOVE', { Destination: `${FILES}/tot.txt` })).status, 400, 'MKCOL total 11 vs 10 bytes');
    assert.equal((await req(`${UPLOADS}/tot/.file`, 'MOVE', { Destination: `${FILES}/tot.txt`, 'OC-Total-Length': '9' })).status, 400);
    assert.equal((await req(`${UPLOADS}/tot/.file`, 'MOVE', { Destination: `${FILES}/tot.txt`, 'OC-Checksum': `SHA1:${sha1('wrong')}`, 'OC-Total-Length': '10' })).status, 400, 'checksum mismatch');
    assert.equal((await t.fetch(`${FILES}/tot.txt`)).status, 404);
    assert.equal((await req(`${UPLOADS}/tot/.file`, 'MOVE', { Destination: `${FILES}/tot.txt`, 'OC-Total-Length': '10' })).status, 201, 'a correct retry still works');
    assert.equal((await get('tot.txt')).toString(), 'abcdefghij');
    await req(`${UPLOADS}/gap1`, 'DELETE');
  });

  test('abort, 404s, bad names, other users, Overwrite: F, locked destination', async () => {
    await req(`${UPLOADS}/ab`, 'MKCOL');
    await req(`${UPLOADS}/ab/1`, 'PUT', {}, 'x');
    assert.equal((await req(`${UPLOADS}/ab`, 'DELETE')).status, 204);
    assert.equal((await req(`${UPLOADS}/ab`, 'DELETE')).status, 404);
    assert.equal((await req(`${UPLOADS}/ab/2`, 'PUT', {}, 'x')).status, 404, 'PUT into a missing upload');
    assert.equal((await req(`${UPLOADS}/ab/.file`, 'MOVE', { Destination: `${FILES}/x` })).status, 404);
    await req(`${UPLOADS}/names`, 'MKCOL');
    assert.equal((await req(`${UPLOADS}/names/abc`, 'PUT', {}, 'x')).status, 400);
    assert.equal((await req(`${UPLOADS}/names/..%2F..%2Fx`, 'PUT', {}, 'x')).status, 400);
    assert.equal((await req(`${UPLOADS}/names`, 'MKCOL', {}, 'body')).status, 415);
    assert.equal((await req(`${UPLOADS}/names/1`, 'PUT', {}, 'abc')).status, 201);
    assert.equal((await req(`${UPLOADS}/names/.file`, 'MOVE', { Destination: '/remote.php/dav/files/bob/stolen.txt' })).status, 403);
    assert.equal((await req(`${UPLOADS}/names/.file`, 'MOVE', { Destination: 'http://elsewhere.example/remote.php/dav/files/admin/x' })).status, 502);
    await t.addUser('carol', 'carol-password-123');
    const carol = { uid: 'carol', password: 'carol-password-123' };
    assert.equal((await t.fetch(`${UPLOADS}/names`, { method: 'PROPFIND', headers: { Depth: '1' }, as: carol })).status, 403);
    assert.equal((await t.fetch(`${UPLOADS}/names`, { method: 'DELETE', as: carol })).status, 403);
    // Overwrite: F onto an existing file → 412
    await t.fetch(`${FILES}/exists.txt`, { method: 'PUT', body: 'e' });
    assert.equal((await req(`${UPLOADS}/names/.file`, 'MOVE', { Destination: `${FILES}/exists.txt`, Overwrite: 'F' })).status, 412);
    // A locked destination needs the token (rclone retries on 423).
    const lk = await t.fetch(`${FILES}/exists.txt`, { method: 'LOCK', body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>' });
    const tok = /^<(.+)>$/.exec(lk.headers.get('lock-token')!)![1]!;
    assert.equal((await req(`${UPLOADS}/names/.file`, 'MOVE', { Destination: `${FILES}/exists.txt` })).status, 423);
    assert.equal((await req(`${UPLOADS}/names/.file`, 'MOVE', { Destination: `${FILES}/exists.txt`, If: `<${t.url}${FILES}/exists.txt> (<${tok}>)` })).status, 204);
    assert.equal((await get('exists.txt')).toString(), 'abc');
    // Listing the upload home.
    await req(`${UPLOADS}/listed`, 'MKCOL');
    const home = await (await req(`${UPLOADS}/`, 'PROPFIND', { Depth: '1' })).text();
    assert.ok(home.includes(`<d:href>${UPLOADS}/listed/</d:href>`));
    await req(`${UPLOADS}/listed`, 'DELETE');
  });

  test('quota: OC-Total-Length beyond the free space → 507 at MKCOL', async () => {
    await t.addUser('dave', 'dave-password-123', { quota: 1000 });
    const dave = { uid: 'dave', password: 'dave-password-123' };
    const r = await t.fetch('/remote.php/dav/uploads/dave/big', { method: 'MKCOL', headers: { 'OC-Total-Length': '5000' }, as: dave });
    assert.equal(r.status, 507);
    assert.equal((await t.fetch('/remote.php/dav/uploads/dave/big', { method: 'PROPFIND', as: dave })).status, 404, 'no upload created');
    assert.equal((await t.fetch('/remote.php/dav/uploads/dave/small', { method: 'MKCOL', headers: { 'OC-Total-Length': '500' }, as: dave })).status, 201);
  });

  test('stale uploads are removed by cleanup(now)', async () => {
    await req(`${UPLOADS}/old`, 'MKCOL');
    await req(`${UPLOADS}/old/1`, 'PUT', {}, 'old data');
    const later = Math.floor(Date.now() / 1000) + 25 * 3600;
    assert.ok(await t.app.uploads.cleanup(later) >= 1);
    assert.equal((await req(`${UPLOADS}/old`, 'PROPFIND', { Depth: '1' })).status, 404);
  });
});

describe('chunked uploads with encryption on', () => {
  test('no chunk or assembled plaintext reaches the data directory', async (ctx) => {
    const reason = await encryptionSkipReason();
    if (reason) return ctx.skip(reason);
    const t = await startTestInstance();
    try {
      try {
        await enableEncryption(t);
      } catch (err) {
        return ctx.skip(`cannot enable encryption yet: ${(err as Error).message.slice(0, 200)}`);
      }
      const scan = (marker: Buffer): string[] => {
        const hits: string[] = [];
        const walk = (dir: string) => {
          for (const n of readdirSync(dir)) {
            const p = join(dir, n);
            const st = statSync(p);
            if (st.isDirectory()) walk(p);
            else if (n.startsWith('coffer.db')) continue; // opening it would drop the server's SQLite locks
            else if (readFileSync(p).includes(marker)) hits.push(p);
          }
        };
        walk(t.dataDir);
        return hits;
      };
      const probe = Buffer.from(`probe-${randomBytes(16).toString('hex')}`);
      await t.fetch(`${FILES}/probe.txt`, { method: 'PUT', body: Buffer.concat([probe, probe]) });
      if (scan(probe).length > 0) return ctx.skip('encryption is not active in the running instance yet (a plain PUT stays plaintext)');

      const marker = Buffer.from(`secret-${randomBytes(16).toString('hex')}`);
      const c1 = Buffer.concat(Array.from({ length: 2000 }, () => marker));
      const c2 = Buffer.concat(Array.from({ length: 1000 }, () => marker));
      assert.equal((await t.fetch(`${UPLOADS}/enc`, { method: 'MKCOL' })).status, 201);
      await t.fetch(`${UPLOADS}/enc/0000000000000000`, { method: 'PUT', body: c1, headers: { 'OC-Chunk-Offset': '0' } });
      await t.fetch(`${UPLOADS}/enc/0000000000000001`, { method: 'PUT', body: c2, headers: { 'OC-Chunk-Offset': String(c1.length) } });
      assert.deepEqual(scan(marker), [], 'chunks are stored encrypted');
      const mv = await t.fetch(`${UPLOADS}/enc/.file`, { method: 'MOVE', headers: { Destination: `${FILES}/enc.bin` } });
      assert.equal(mv.status, 201);
      assert.deepEqual(scan(marker), [], 'the assembled file is stored encrypted');
      const back = Buffer.from(await (await t.fetch(`${FILES}/enc.bin`)).arrayBuffer());
      assert.ok(back.equals(Buffer.concat([c1, c2])));
    } finally {
      await t.stop();
    }
  });
});
