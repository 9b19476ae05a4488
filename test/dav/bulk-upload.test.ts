/**
 * Bulk upload (POST /remote.php/dav/bulk) over real HTTP: Nextcloud's request and answer shape,
 * per-file errors, quota, share permissions, locks, encryption at rest, bad bodies, CSRF, and a
 * 100 × 1 MiB batch that streams with flat memory.
 */
import { SYSTEM } from '../../src/actor.ts';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption, encryptionSkipReason } from '../support/encryption-enabler.ts';
import { webLogin } from '../support/web-login.ts';
import { BOUNDARY, bulk, bulkBody, md5, partBytes, type BulkAnswer } from '../support/bulk-upload-body.ts';

const FILES = '/remote.php/dav/files/admin';

describe('bulk upload over HTTP', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await t.addUser('bob', 'bob-password-123');
    await t.addUser('carol', 'carol-password-123');
    await t.addUser('small', 'small-password-123', { quota: 10_000 });
  });
  after(async () => { await t.stop(); });
  const get = async (path: string, as = ADMIN) => {
    const r = await t.fetch(`/remote.php/dav/files/${as.uid}/${path}`, { as });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  };

  test('Nextcloud shape: every path answered with etag, fileid, permissions; content, mtime and MD5 stored', async () => {
    assert.equal((await t.fetch(`${FILES}/sub`, { method: 'MKCOL' })).status, 201);
    const files = [
      { path: '/b1.txt', content: 'one' },
      { path: '/sub/b2 ü+&.txt', content: randomBytes(70_000), mtime: 1_600_000_123 },
      { path: '/empty', content: '' },
    ];
    const a = await bulk(t, bulkBody(files));
    assert.equal(a.status, 200);
    assert.deepEqual(Object.keys(a.json).sort(), files.map((f) => f.path).sort());
    for (const f of files) {
      const e = a.json[f.path]!;
      assert.equal(e.error, false, JSON.stringify(e));
      const node = await t.app.files.stat('admin', f.path.slice(1));
      assert.equal(e.etag, node.etag, 'unquoted etag, as Nextcloud');
      assert.equal(e.fileid, `${String(node.fileId).padStart(8, '0')}${t.app.config.instanceid}`);
      assert.equal(e.permissions, 'RGDNVW');
      assert.equal(node.mtime, f.mtime ?? 1_700_000_000);
      assert.equal(node.checksum, `MD5:${md5(Buffer.from(f.content))}`);
      assert.deepEqual((await get(f.path.slice(1))).body, Buffer.from(f.content));
    }
    const pf = await t.fetch(`${FILES}/sub/`, { method: 'PROPFIND', headers: { Depth: '1' } });
    assert.match(await pf.text(), /b2%20%C3%BC%2B%26\.txt/);
  });

  test('one bad file fails alone, with its error in the answer', async () => {
    await t.fetch(`${FILES}/existing.txt`, { method: 'PUT', body: 'v1' });
    const files = [
      { path: '/ok1.txt', content: 'fine' },
      { path: '/badmd5.txt', content: 'wrong digest', md5: md5('something else') },
      { path: '/no/parent.txt', content: 'x' },
      { path: '/../escape.txt', content: 'x' },
      { path: '/existing.txt', content: 'v2', headers: { 'If-Match': '"not-the-etag"' } },
      { path: '/nomd5.txt', content: 'x', md5: '' },
      { path: '/ok2.txt', content: 'fine too' },
    ];
    const a = await bulk(t, bulkBody(files));
    assert.equal(a.status, 200);
    assert.equal(a.json['/ok1.txt']!.error, false);
    assert.equal(a.json['/ok2.txt']!.error, false);
    assert.match(a.json['/badmd5.txt']!.message!, /MD5 checksum mismatch/);
    assert.match(a.json['/no/parent.txt']!.message!, /parent|exist/i);
    assert.match(a.json['/../escape.txt']!.message!, /invalid name/);
    assert.match(a.json['/existing.txt']!.message!, /If-Match|precondition/i);
    assert.match(a.json['/nomd5.txt']!.message!, /X-File-MD5/);
    for (const gone of ['badmd5.txt', 'no/parent.txt', 'nomd5.txt']) assert.equal((await get(gone)).status, 404, gone);
    assert.equal((await get('existing.txt')).body.toString(), 'v1');
    assert.equal(await t.app.files.tryStat('admin', 'escape.txt'), undefined);
    assert.equal((await get('ok2.txt')).body.toString(), 'fine too');
  });

  test('quota applies per file as for a PUT', async () => {
    const small = { uid: 'small', password: 'small-password-123' };
    const files = [0, 1, 2].map((i) => ({ path: `/q${i}.bin`, content: randomBytes(4000) }));
    const a = await bulk(t, bulkBody(files), { as: small });
    assert.equal(a.json['/q0.bin']!.error, false);
    assert.equal(a.json['/q1.bin']!.error, false);
    assert.equal(a.json['/q2.bin']!.error, true);
    assert.match(a.json['/q2.bin']!.message!, /space/);
    assert.equal(await t.app.files.tryStat('small', 'q2.bin'), undefined);
    assert.ok((await t.app.files.quota('small')).used <= 10_000);
  });

  test('share permissions: read-only refuses, create lands in the owner\'s tree', async () => {
    await t.app.files.mkdir('bob', 'ro');
    await t.app.files.mkdir('bob', 'rw');
    await t.app.shares.create(SYSTEM, { uid: 'bob', path: 'ro', shareType: 0, shareWith: 'carol', permissions: 1 });
    await t.app.shares.create(SYSTEM, { uid: 'bob', path: 'rw', shareType: 0, shareWith: 'carol', permissions: 1 | 4 });
    const carol = { uid: 'carol', password: 'carol-password-123' };
    const a = await bulk(t, bulkBody([{ path: '/ro/x.txt', content: 'no' }, { path: '/rw/y.txt', content: 'yes' }]), { as: carol });
    assert.equal(a.json['/ro/x.txt']!.error, true);
    assert.match(a.json['/ro/x.txt']!.message!, /does not allow/);
    assert.equal(a.json['/rw/y.txt']!.error, false, JSON.stringify(a.json));
    assert.equal(a.json['/rw/y.txt']!.permissions!.includes('W'), false, 'no update permission shown');
    assert.equal(await t.app.files.tryStat('bob', 'ro/x.txt'), undefined);
    const node = await t.app.files.stat('bob', 'rw/y.txt');
    assert.equal(node.owner, 'bob');
  });

  test('a locked file needs the lock token in the If header', async () => {
    await t.fetch(`${FILES}/locked.txt`, { method: 'PUT', body: 'orig' });
    const lock = await t.fetch(`${FILES}/locked.txt`, {
      method: 'LOCK', headers: { 'Content-Type': 'application/xml', Timeout: 'Second-600' },
      body: '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>',
    });
    assert.equal(lock.status, 200);
    const token = lock.headers.get('lock-token')!;
    const a = await bulk(t, bulkBody([{ path: '/locked.txt', content: 'new' }]));
    assert.equal(a.json['/locked.txt']!.error, true);
    assert.match(a.json['/locked.txt']!.message!, /lock/i);
    assert.equal((await get('locked.txt')).body.toString(), 'orig');
    const b = await bulk(t, bulkBody([{ path: '/locked.txt', content: 'new' }]), { headers: { If: `(${token})` } });
    assert.equal(b.json['/locked.txt']!.error, false);
    assert.equal((await get('locked.txt')).body.toString(), 'new');
  });

  test('bad bodies: clear 400s, and nothing after the bad spot is written', async () => {
    const one = bulkBody([{ path: '/nb1.txt', content: 'x' }]);
    let r = await t.fetch('/remote.php/dav/bulk', { method: 'POST', body: one as never, headers: { 'Content-Type': 'multipart/related' } });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /boundary/);
    r = await t.fetch('/remote.php/dav/bulk', { method: 'POST', body: one as never, headers: { 'Content-Type': 'multipart/form-data; boundary=x' } });
    assert.equal(r.status, 400);
    r = await t.fetch('/remote.php/dav/bulk', { method: 'GET' });
    assert.equal(r.status, 405);
    assert.equal(await t.app.files.tryStat('admin', 'nb1.txt'), undefined);

    // a Content-Length shorter than the part: that part and everything after it fail
    const short = bulkBody([{ path: '/lie0.txt', content: 'good' }, { path: '/lie1.txt', content: 'twelve bytes', length: 5 }, { path: '/lie2.txt', content: 'after' }]);
    let a = await bulk(t, short);
    assert.equal(a.status, 400);
    assert.equal(a.json['/lie0.txt']!.error, false);
    assert.equal(a.json['/lie1.txt']!.error, true);
    assert.match(a.json['']!.message!, /wrong Content-Length/);
    assert.equal(await t.app.files.tryStat('admin', 'lie1.txt'), undefined);
    assert.equal(await t.app.files.tryStat('admin', 'lie2.txt'), undefined);
    // longer than the part: it swallows the next delimiter and the body ends early
    a = await bulk(t, bulkBody([{ path: '/long.txt', content: 'abc', length: 400 }]));
    assert.equal(a.status, 400);
    assert.equal(await t.app.files.tryStat('admin', 'long.txt'), undefined);
    // missing part Content-Length, garbage instead of a delimiter
    const noLen = Buffer.from(`--${BOUNDARY}\r\nX-File-Path: /nolen.txt\r\nX-File-MD5: ${md5('a')}\r\n\r\na\r\n--${BOUNDARY}--\r\n`);
    a = await bulk(t, noLen);
    assert.equal(a.status, 400);
    assert.match(a.json['']!.message!, /Content-Length/);
    a = await bulk(t, Buffer.from('hello, no multipart here'));
    assert.equal(a.status, 400);
    assert.equal(await t.app.files.tryStat('admin', 'nolen.txt'), undefined);
  });

  test('10,000 parts: refused after the limit, with a clear message', async () => {
    const parts = Array.from({ length: 10_000 }, (_, i) => ({ path: `/many/${i}.txt`, content: 'x', md5: 'bad' }));
    const a = await bulk(t, bulkBody(parts));
    assert.equal(a.status, 400);
    assert.match(a.json['']!.message!, /Too many parts: at most 1000/);
    assert.equal(Object.keys(a.json).length, 1001);
    assert.equal(await t.app.files.tryStat('admin', 'many'), undefined);
  });

  test('CSRF: a browser session without the request token cannot bulk upload', async () => {
    const s = await webLogin(t.url, ADMIN.uid, ADMIN.password);
    const body = bulkBody([{ path: '/csrf.txt', content: 'x' }]);
    const ct = `multipart/related; boundary=${BOUNDARY}`;
    let r = await fetch(`${t.url}/remote.php/dav/bulk`, { method: 'POST', body: body as never, headers: { cookie: s.cookie, 'Content-Type': ct } });
    assert.equal(r.status, 401);
    assert.equal(await t.app.files.tryStat('admin', 'csrf.txt'), undefined);
    r = await fetch(`${t.url}/remote.php/dav/bulk`, { method: 'POST', body: body as never, headers: { cookie: s.cookie, requesttoken: s.csrfToken, 'Content-Type': ct } });
    assert.equal(r.status, 200);
    assert.ok(await t.app.files.tryStat('admin', 'csrf.txt'));
  });

  test('100 × 1 MiB stream through with flat memory', async () => {
    const n = 100;
    const size = 1 << 20;
    const seed = randomBytes(size);
    const fileFor = (i: number) => { const b = Buffer.from(seed); b.writeUInt32BE(i, 0); return b; };
    // What is still referenced, not what the collector has yet to free: a full collection before
    // each sample (Node 26 frees external buffers later than Node 20 did).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakBuffers = base.arrayBuffers;
    const sampler = setInterval(() => {
      gc();
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    }, 10);
    const u = new URL(t.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request({
        host: u.hostname, port: u.port, method: 'POST', path: '/remote.php/dav/bulk', agent: false,
        headers: { authorization: t.basic(ADMIN.uid, ADMIN.password), 'content-type': `multipart/related; boundary=${BOUNDARY}` },
      }, (res) => {
        let s = '';
        res.on('data', (c) => { s += c; });
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      // written one part at a time, waiting for drain: the test side never holds the batch either
      (async () => {
        for (let i = 0; i < n; i++) {
          const content = fileFor(i);
          if (!req.write(partBytes({ path: `/big${i}.bin`, content }))) await new Promise((r) => req.once('drain', r));
        }
        req.end(`--${BOUNDARY}--\r\n`);
      })().catch(reject);
    });
    clearInterval(sampler);
    const json = JSON.parse(answer) as BulkAnswer['json'];
    assert.equal(Object.values(json).filter((e) => e.error === false).length, n);
    for (const i of [0, 57, 99]) assert.deepEqual((await get(`big${i}.bin`)).body, fileFor(i));
    const grewBuffers = (peakBuffers - base.arrayBuffers) / 2 ** 20;
    const grewRss = (peakRss - base.rss) / 2 ** 20;
    console.log(`bulk 100 × 1 MiB: peak buffer growth ${grewBuffers.toFixed(1)} MiB, peak RSS growth ${grewRss.toFixed(1)} MiB (client and server in this process)`);
    assert.ok(grewBuffers < 40, `buffers grew by ${grewBuffers.toFixed(1)} MiB for a 100 MiB batch`);
  });
});

describe('bulk upload with encryption', async () => {
  const skip = await encryptionSkipReason();
  let t: TestInstance;
  before(async () => {
    if (skip) return;
    t = await startTestInstance();
    await enableEncryption(t);
  });
  after(async () => { await t?.stop(); });

  test('files of a bulk upload are encrypted at rest and read back', { skip }, async () => {
    const marker = `BULK-PLAINTEXT-MARKER-${randomBytes(6).toString('hex')}`;
    const a = await bulk(t, bulkBody([{ path: '/secret1.txt', content: `${marker} one` }, { path: '/secret2.txt', content: `${marker} two` }]));
    assert.equal(a.status, 200);
    assert.equal(a.json['/secret1.txt']!.error, false);
    assert.equal(await (await t.fetch(`${FILES}/secret2.txt`)).text(), `${marker} two`);
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
    for (const f of walk(t.dataDir)) assert.ok(!readFileSync(f).includes(marker), `plaintext in ${f}`);
  });
});
