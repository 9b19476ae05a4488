/**
 * A committed file whose blob is gone from the store (a deleted or unmounted blob folder, a restore
 * that missed blobs) is data loss, not a deleted file: WebDAV answers 500 with a Sabre error that
 * says so (a 404 would make sync clients delete their copy), the web API and public links answer
 * 500 too, and each refused read is one error log line and one `integrity.failure` audit entry.
 */
import { SYSTEM } from '../../src/actor.ts';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { BLOB_MISSING_MESSAGE, BlobMissingError, NotFoundError } from '../../src/errors.ts';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import type { AuditEntry } from '../../src/audit/audit-log.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { webLogin } from '../support/web-login.ts';
import { ALICE, put, seed, share } from '../sharing/helpers.ts';

describe('a committed file whose blob is missing', () => {
  let t: TestInstance;
  const logLines: { level: number; msg: string; err?: { message: string } }[] = [];

  before(async () => {
    t = await startTestInstance({ logger: pino({ level: 'info' }, { write: (s: string) => { logLines.push(JSON.parse(s)); } }) });
    await seed(t);
  });
  after(async () => { await t?.stop(); });

  /** Writes `path` into alice's tree and deletes its blob on disk; returns the file id. */
  async function loseBlob(path: string): Promise<number> {
    await put(t, ALICE.uid, path, `content of ${path}`);
    const node = await t.app.files.stat(ALICE.uid, path);
    assert.ok(hasLocalPaths(t.app.rawBlobs));
    rmSync(t.app.rawBlobs.pathOf(node.blobId!));
    return node.fileId;
  }

  /** The audit's integrity failures about `fileId`, once the asynchronous append landed. */
  async function auditedFor(fileId: number): Promise<AuditEntry[]> {
    let out: AuditEntry[] = [];
    for (let i = 0; i < 50; i++) {
      out = [];
      for await (const e of t.app.audit.read()) if (e.event === 'integrity.failure' && e.fileId === fileId) out.push(e);
      if (out.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 50));
    out = [];
    for await (const e of t.app.audit.read()) if (e.event === 'integrity.failure' && e.fileId === fileId) out.push(e);
    return out;
  }

  it('WebDAV GET: 500 with a Sabre error naming the loss, one error log line, one audit entry', async () => {
    const fileId = await loseBlob('lost-dav.txt');
    const before = logLines.length;
    const r = await t.fetch('/remote.php/dav/files/alice/lost-dav.txt', { as: ALICE });
    const body = await r.text();
    assert.equal(r.status, 500);
    assert.match(body, /<s:exception>Sabre\\DAV\\Exception<\/s:exception>/);
    assert.ok(body.includes(BLOB_MISSING_MESSAGE.replace(/'/g, '&apos;')) || body.includes(BLOB_MISSING_MESSAGE), body);
    const logged = logLines.slice(before).filter((l) => l.level === 50);
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.equal(logged[0]!.msg, 'dav request failed');
    assert.match(logged[0]!.err!.message, new RegExp(`content of file ${fileId} of alice .* is missing from storage`));
    const audit = await auditedFor(fileId);
    assert.equal(audit.length, 1, JSON.stringify(audit));
    assert.equal(audit[0]!.reason, 'blob-missing');
    assert.equal(audit[0]!.owner, 'alice');
    assert.equal(audit[0]!.method, 'GET');
    assert.match(String(audit[0]!.path), /lost-dav\.txt$/);
    // still listed: the file was not deleted
    assert.equal((await t.fetch('/remote.php/dav/files/alice/lost-dav.txt', { method: 'PROPFIND', headers: { depth: '0' }, as: ALICE })).status, 207);
  });

  it('the web API download: 500 with code blob-missing, audited once', async () => {
    const fileId = await loseBlob('lost-web.txt');
    const s = await webLogin(t.url, ALICE.uid, ALICE.password);
    const r = await fetch(`${t.url}/web/api/files/download?path=${encodeURIComponent('/lost-web.txt')}`, { headers: { cookie: s.cookie } });
    assert.equal(r.status, 500);
    assert.deepEqual(await r.json(), { error: { code: 'blob-missing', message: BLOB_MISSING_MESSAGE } });
    const audit = await auditedFor(fileId);
    assert.equal(audit.length, 1, JSON.stringify(audit));
    assert.equal(audit[0]!.reason, 'blob-missing');
  });

  it('a public link download: 500 page, audited once without the link token', async () => {
    const fileId = await loseBlob('lost-link.txt');
    const link = await share(t, ALICE, { path: '/lost-link.txt', shareType: 3 });
    const r = await fetch(`${t.url}/s/${link.token}/download`);
    assert.equal(r.status, 500);
    assert.match(await r.text(), /missing from the server/);
    const audit = await auditedFor(fileId);
    assert.equal(audit.length, 1, JSON.stringify(audit));
    assert.equal(audit[0]!.via, 'public-link');
    assert.ok(!JSON.stringify(audit).includes(link.token), 'the token stays out of the audit log');
  });

  it('the service throws BlobMissingError only while the row still names the blob: a file deleted meanwhile is NotFound', async () => {
    await loseBlob('lost-svc.txt');
    const node = await t.app.files.stat(ALICE.uid, 'lost-svc.txt');
    await assert.rejects(t.app.files.openNode(SYSTEM, node), (err: unknown) => err instanceof BlobMissingError && err.blob.blobId === node.blobId);
    await put(t, ALICE.uid, 'gone.txt', 'soon gone');
    const gone = await t.app.files.stat(ALICE.uid, 'gone.txt');
    await t.app.files.delete(ALICE.uid, 'gone.txt');
    await assert.rejects(t.app.files.openNode(SYSTEM, gone), (err: unknown) => err instanceof NotFoundError);
  });
});
