/**
 * The audit log records what the threat model promises: integrity failures (a tampered blob read
 * through HTTP), failed logins, shares created / changed / deleted over OCS; never a password.
 * Throttling entries: abuse.test.ts; admin commands and `log:audit`'s filters: cleanup.test.ts,
 * crash-keys.test.ts.
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
import { ocs, SHARES } from '../sharing/helpers.ts';
import type { AuditEntry } from '../../src/audit/audit-log.ts';
import { userActor } from '../../src/actor.ts';

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
    await t.app.files.writeFile(userActor('eve', 'password'), 'eve', 'tampered.txt', Readable.from([body]), {});
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

  test('logins and failed logins are recorded with the user, address and method, never the password', async () => {
    const ok = await request(t.url, 'PROPFIND', '/remote.php/dav/files/eve/', { as: { uid: 'eve', password: 'eve-password-123' }, headers: { depth: '0' } });
    assert.equal(ok.status, 207);
    assert.ok((await entries({ user: 'eve' })).some((e) => e.event === 'login.success' && typeof e.method === 'string' && typeof e.ip === 'string'), 'login.success audited');
    for (let i = 0; i < 3; i++) await request(t.url, 'PROPFIND', '/remote.php/dav/files/eve/', { as: { uid: 'eve', password: `guess-${i}-secretish` }, headers: { depth: '0' } });
    const es = await entries({ user: 'eve' });
    assert.ok(es.filter((e) => e.event === 'login.failure').length >= 3);
    assert.ok(es.every((e) => typeof e.ts === 'string' && !Number.isNaN(Date.parse(e.ts))));
    assert.doesNotMatch(JSON.stringify(es), /guess-\d-secretish|eve-password-123/);
    assert.ok(es.some((e) => typeof e.ip === 'string' && e.ip.length > 0));
  });

  test('shares: created, updated, deleted over OCS are recorded with who, what and how; never the link password', async () => {
    const EVE = { uid: 'eve', password: 'eve-password-123' };
    await t.addUser('frank', 'frank-password-1');
    await t.app.files.writeFile(userActor('eve', 'password'), 'eve', 'report.txt', Readable.from([Buffer.from('numbers')]), {});
    const user = await ocs(t, EVE, 'POST', SHARES, { form: { path: '/report.txt', shareType: 0, shareWith: 'frank', permissions: 1 } });
    assert.equal(user.http, 200, user.message);
    const link = await ocs(t, EVE, 'POST', SHARES, { form: { path: '/report.txt', shareType: 3, password: 'Link-Secret-Pass-42' } });
    assert.equal(link.http, 200, link.message);
    const upd = await ocs(t, EVE, 'PUT', `${SHARES}/${link.data.id}`, { form: { password: 'Other-Link-Secret-43' } });
    assert.equal(upd.http, 200, upd.message);
    const del = await ocs(t, EVE, 'DELETE', `${SHARES}/${user.data.id}`);
    assert.equal(del.http, 200, del.message);
    const es = (await entries({ user: 'eve' })).filter((e) => e.event.startsWith('share.'));
    const created = es.filter((e) => e.event === 'share.created');
    assert.equal(created.length, 2, JSON.stringify(es));
    assert.ok(created.some((e) => e.shareWith === 'frank' || JSON.stringify(e).includes('frank')), JSON.stringify(created));
    assert.ok(es.some((e) => e.event === 'share.updated' && String(e.shareId) === String(link.data.id)), JSON.stringify(es));
    assert.ok(es.some((e) => e.event === 'share.deleted' && String(e.shareId) === String(user.data.id)), JSON.stringify(es));
    const raw = JSON.stringify(await entries());
    assert.doesNotMatch(raw, /Link-Secret-Pass-42|Other-Link-Secret-43|eve-password-123/);
    assert.doesNotMatch(raw, new RegExp(String(link.data.token)), 'the link token is a credential too');
  });
});
