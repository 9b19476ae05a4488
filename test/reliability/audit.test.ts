/**
 * The audit log records what the threat model promises: integrity failures (a tampered blob read
 * through HTTP), failed logins, throttling; and `log:audit`'s filters see them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption, encryptionSkipReason } from '../support/encryption-enabler.ts';
import { request } from './support.ts';
import type { AuditEntry } from '../../src/audit/audit-log.ts';

const skip = await encryptionSkipReason();

describe('audit log entries', { skip }, () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await enableEncryption(t);
    await t.addUser('eve', 'eve-password-123');
    await t.app.files.ensureHome('eve');
  });
  after(async () => { await t.stop(); });

  async function entries(filter: { user?: string } = {}): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const e of t.app.audit.read(filter)) out.push(e);
    return out;
  }

  test('a tampered blob is refused over HTTP and recorded as an integrity failure (no content leaks)', async () => {
    const body = Buffer.alloc(100_000, 'confidential ');
    await t.app.files.writeFile('eve', 'tampered.txt', Readable.from([body]), {});
    const node = await t.app.files.stat('eve', 'tampered.txt');
    const p = join(t.dataDir, 'blobs', node.blobId!.slice(0, 2), node.blobId!.slice(2, 4), node.blobId!);
    const fd = openSync(p, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 5000);
    b[0] ^= 0x40;
    writeSync(fd, b, 0, 1, 5000);
    closeSync(fd);
    const r = await request(t.url, 'GET', '/remote.php/dav/files/eve/tampered.txt', { as: { uid: 'eve', password: 'eve-password-123' } }).catch((e: Error) => e);
    if (!(r instanceof Error)) {
      assert.notEqual(r.status, 200, 'tampered content must not be served as a success');
      assert.ok(!r.body.equals(body));
    }
    await sleep(100);
    const integ = (await entries()).filter((e) => /integrity/.test(e.event));
    assert.ok(integ.length >= 1, 'integrity failure audited');
    assert.equal(integ[0]!.fileId, node.fileId);
    assert.doesNotMatch(JSON.stringify(integ), /confidential/);
  });

  test('failed logins and throttling are recorded with the user and address, never the password', async () => {
    for (let i = 0; i < 3; i++) await request(t.url, 'PROPFIND', '/remote.php/dav/files/eve/', { as: { uid: 'eve', password: `guess-${i}-secretish` }, headers: { depth: '0' } });
    const es = await entries({ user: 'eve' });
    assert.ok(es.filter((e) => e.event === 'login.failure').length >= 3);
    assert.ok(es.every((e) => typeof e.ts === 'string' && !Number.isNaN(Date.parse(e.ts))));
    assert.doesNotMatch(JSON.stringify(es), /guess-\d-secretish/);
    assert.ok(es.some((e) => typeof e.ip === 'string' && e.ip.length > 0));
  });
});
