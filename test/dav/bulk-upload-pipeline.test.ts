/**
 * Bulk upload with its writes pipelined (several parts committing while the next is read): the
 * answer keeps the request's order, a path sent several times ends with its last part, and of
 * parts that together exceed the quota the earlier ones are written, as in series.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const BOUNDARY = 'boundary_5d1c0a7e9b3f4e21';

interface BulkFile { path: string; content: Buffer | string; md5?: string }

function bulkBody(files: BulkFile[]): Buffer {
  const parts = files.map((f) => {
    const body = Buffer.from(f.content);
    const head = `Content-Length: ${body.length}\r\nX-File-MD5: ${f.md5 ?? md5(body)}\r\nX-File-Mtime: 1700000000\r\nX-File-Path: ${f.path}\r\n`;
    return Buffer.concat([Buffer.from(`--${BOUNDARY}\r\n${head}\r\n`), body, Buffer.from('\r\n')]);
  });
  return Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
}

type Entry = { error: boolean; message?: string; etag?: string };

async function bulk(t: TestInstance, files: BulkFile[], as?: { uid: string; password: string }): Promise<{ status: number; text: string; json: Record<string, Entry> }> {
  const r = await t.fetch('/remote.php/dav/bulk', {
    method: 'POST', as, body: bulkBody(files) as never, headers: { 'Content-Type': `multipart/related; boundary="${BOUNDARY}"` },
  });
  const text = await r.text();
  return { status: r.status, text, json: JSON.parse(text) };
}

describe('bulk upload, pipelined writes', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t.stop(); });

  test('the answer lists the paths in the request\'s order, each committed before the answer', async () => {
    // names whose sorted order differs from the request's, and sizes that commit at different speeds
    const files = Array.from({ length: 40 }, (_, i) => ({ path: `/ord-${(i * 7919) % 97}.bin`, content: randomBytes(i % 3 === 0 ? 200_000 : 100) }));
    const a = await bulk(t, files);
    assert.equal(a.status, 200);
    assert.deepEqual(Object.keys(a.json), files.map((f) => f.path));
    for (const f of files) {
      const node = await t.app.files.stat('admin', f.path.slice(1));
      assert.equal(a.json[f.path]!.etag, node.etag);
      assert.equal(node.checksum, `MD5:${md5(f.content)}`);
    }
  });

  test('the same path several times in one request: the last part wins, answered once in its first place', async () => {
    // the earlier parts are the larger ones: written unordered, they would commit after the later ones
    const kept = randomBytes(1_000_000);
    const files = [
      { path: '/dup.txt', content: randomBytes(1_000_000) },
      { path: '/other.txt', content: 'other' },
      { path: '/dup.txt', content: randomBytes(300_000) },
      { path: 'dup.txt', content: 'third (same file, other spelling)' },
      { path: '/dup.txt', content: 'last' },
      { path: '/dup2.txt', content: kept },
      { path: '/dup2.txt', content: 'refused', md5: md5('something else') },
    ];
    const a = await bulk(t, files);
    assert.equal(a.status, 200);
    assert.deepEqual(Object.keys(a.json), ['/dup.txt', '/other.txt', 'dup.txt', '/dup2.txt']);
    const node = await t.app.files.stat('admin', 'dup.txt');
    assert.equal(node.checksum, `MD5:${md5('last')}`);
    assert.equal(a.json['/dup.txt']!.etag, node.etag, 'the answer carries the last write');
    const r = await t.fetch('/remote.php/dav/files/admin/dup.txt', { as: ADMIN });
    assert.equal(await r.text(), 'last');
    // the refused later part is the outcome shown; the earlier one stays written
    assert.equal(a.json['/dup2.txt']!.error, true);
    assert.match(a.json['/dup2.txt']!.message!, /MD5/);
    assert.deepEqual(Buffer.from(await (await t.fetch('/remote.php/dav/files/admin/dup2.txt', { as: ADMIN })).arrayBuffer()), kept);
  });

  test('quota with writes in flight: the earlier parts that fit are written, the rest refused, never over the limit', async () => {
    await t.addUser('tight', 'tight-password-123', { quota: 20_000 });
    const tight = { uid: 'tight', password: 'tight-password-123' };
    // six of 3,000 fit (18,000); the next three do not; the last 2,000 fills the quota exactly
    const files = [...Array.from({ length: 9 }, (_, i) => ({ path: `/q${i}.bin`, content: randomBytes(3000) })), { path: '/q9.bin', content: randomBytes(2000) }];
    const a = await bulk(t, files, tight);
    assert.equal(a.status, 200);
    assert.deepEqual(files.map((f) => a.json[f.path]!.error), [false, false, false, false, false, false, true, true, true, false]);
    for (const i of [6, 7, 8]) {
      assert.match(a.json[`/q${i}.bin`]!.message!, /space/);
      assert.equal(await t.app.files.tryStat('tight', `q${i}.bin`), undefined);
    }
    assert.equal((await t.app.files.quota('tight')).used, 20_000);
    // a full quota refuses every part of the next request, and nothing is written
    const b = await bulk(t, [{ path: '/more1.bin', content: 'x' }, { path: '/more2.bin', content: 'y' }], tight);
    assert.equal(b.json['/more1.bin']!.error, true);
    assert.equal(b.json['/more2.bin']!.error, true);
    assert.equal((await t.app.files.quota('tight')).used, 20_000);
  });
});
