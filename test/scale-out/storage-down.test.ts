/**
 * The content store goes away (S3 endpoint unreachable): WebDAV answers 503 with Retry-After and
 * Nextcloud's words, as Nextcloud does for StorageNotAvailableException (sync clients retry later),
 * never the bucket or endpoint; the server log names the failure, also when the store gave up in
 * the middle of a body; nothing lands in the tree. Needs no Ceph: the endpoint is a closed port.
 */
import { SYSTEM } from '../../src/actor.ts';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { STORAGE_UNAVAILABLE_MESSAGE, StorageUnavailableError } from '../../src/errors.ts';
import { webLogin } from '../support/web-login.ts';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';

describe('content store unreachable', () => {
  let t: TestInstance;
  const logLines: string[] = [];
  const failures = () => logLines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } })
    .filter((l) => l.level === 50 && l.msg === 'dav request failed');

  before(async () => {
    t = await startTestInstance({
      storage: { type: 's3', endpoint: 'http://127.0.0.1:1', bucket: 'coffer-hidden-bucket', region: 'us-east-1', accessKey: 'k', secretKey: 'never-shown-secret', pathStyle: true },
      logger: pino({ level: 'info' }, { write: (s: string) => { logLines.push(s); } }),
    });
  });
  after(async () => { await t?.stop(); });

  test('a PUT gets 503 + Retry-After with Nextcloud\'s message; the log has the real cause; nothing is created', async () => {
    const before = failures().length;
    const res = await t.fetch('/remote.php/dav/files/admin/small.txt', { method: 'PUT', body: 'hello' });
    const body = await res.text();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '120');
    assert.match(body, /Sabre\\DAV\\Exception\\ServiceUnavailable/);
    assert.match(body, new RegExp(STORAGE_UNAVAILABLE_MESSAGE));
    assert.doesNotMatch(body, /coffer-hidden-bucket|127\.0\.0\.1:1|never-shown-secret/);
    const logged = failures().slice(before);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!.err!.message, /S3 PUT failed: cannot reach/);
    assert.doesNotMatch(logLines.join('\n'), /never-shown-secret/);
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'small.txt'), undefined);
  });

  test('a big PUT the store gives up on mid-body is logged as a failure too, and leaves no file', async () => {
    const before = failures().length;
    const MiB = 1024 * 1024;
    const block = Buffer.alloc(MiB, 1);
    // past one 8 MiB part, so that the store fails (its existence check) while the body still streams
    const body = Readable.toWeb(Readable.from((function* () { for (let i = 0; i < 24; i++) yield block; })())) as ReadableStream;
    let status: number | string;
    try {
      const res = await t.fetch('/remote.php/dav/files/admin/big.bin', { method: 'PUT', headers: { 'content-length': String(24 * MiB) }, body, duplex: 'half' } as RequestInit);
      status = res.status;
      await res.arrayBuffer();
    } catch (err) {
      status = (err as Error).message; // the server may close the connection before the body is sent
    }
    assert.ok(status === 503 || typeof status === 'string', `503 or a closed connection, got ${status}`);
    for (let i = 0; i < 50 && failures().length === before; i++) await new Promise((r) => setTimeout(r, 20));
    const logged = failures().slice(before);
    assert.equal(logged.length, 1, 'the failure is in the log even though the request stream was destroyed');
    assert.match(logged[0]!.err!.message, /S3 PUT failed: cannot reach/);
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'big.bin'), undefined);
  });

  test('the service throws a typed StorageUnavailableError, not a string code', async () => {
    await assert.rejects(t.app.files.writeFile(SYSTEM, ADMIN.uid, 'typed.txt', Readable.from([Buffer.from('x')])),
      (err: unknown) => err instanceof StorageUnavailableError && /S3 PUT failed: cannot reach/.test(err.message));
  });

  test('the web API maps the same failure to 503 with Nextcloud\'s words (the cause only in the log)', async () => {
    const s = await webLogin(t.url, ADMIN.uid, ADMIN.password);
    const r = await fetch(`${t.url}/web/api/files/upload?path=${encodeURIComponent('/web.txt')}`,
      { method: 'PUT', headers: { cookie: s.cookie, requesttoken: s.csrfToken }, body: 'hello' });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '120');
    assert.deepEqual(await r.json(), { error: { code: 'storage-unavailable', message: STORAGE_UNAVAILABLE_MESSAGE } });
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'web.txt'), undefined);
  });
});
