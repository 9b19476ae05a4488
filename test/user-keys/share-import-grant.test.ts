/**
 * Per-user keys: a share row whose insert fails leaves no key grant behind. The importer's path
 * (ShareService.importShare) grants the recipient's seal before the row is written, like a share
 * made through OCS; when the row cannot be written (here: Nextcloud data whose token is already
 * another share's), the seal is taken back, and importing the share correctly afterwards works.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestInstance } from '../support/test-instance.ts';
import { perUserInstance } from './helpers.ts';
import { ALICE, BOB, share, type Creds } from '../sharing/helpers.ts';
import { userActor } from '../../src/actor.ts';

const dav = (c: Creds, p: string) => `/remote.php/dav/files/${c.uid}/${p}`;
const sealsOf = (t: TestInstance, uid: string): string[] => {
  const dir = join(t.dataDir, uid, 'files_encryption', 'OC_DEFAULT_MODULE');
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^shareKey_[0-9a-f]{32}\.seal_/.test(n)).sort() : [];
};

describe('per-user keys: a failed share import gives its key grant back', () => {
  let t: TestInstance;
  before(async () => {
    t = await perUserInstance();
    for (const u of [ALICE, BOB]) await t.addUser(u.uid, u.password);
    for (const u of [ALICE, BOB]) assert.equal((await t.fetch(dav(u, ''), { method: 'PROPFIND', as: u, headers: { Depth: '0' } })).status, 207);
    for (const d of ['A', 'B']) assert.equal((await t.fetch(dav(ALICE, d), { method: 'MKCOL', as: ALICE })).status, 201);
    assert.equal((await t.fetch(dav(ALICE, 'B/b.txt'), { method: 'PUT', body: 'bravo', as: ALICE })).status, 201);
  });
  after(async () => { await t?.stop(); });

  it('the insert fails: no seal to the recipient stays; the same share imported right then works', async () => {
    const link = await share(t, ALICE, { path: 'A', shareType: 3 });
    const before = sealsOf(t, ALICE.uid);
    const b = await t.app.files.stat(ALICE.uid, 'B');
    const row = {
      shareType: 0, shareWith: BOB.uid, owner: ALICE.uid, initiator: ALICE.uid, itemType: 'folder' as const, fileId: b.fileId,
      fileTarget: '/B', permissions: 1, stime: 1_700_000_000, expiration: null, passwordHash: null, note: '', label: '',
    };
    const actor = userActor(ALICE.uid, 'password');
    await assert.rejects(t.app.shares.importShare(actor, { ...row, token: link.token as string }), 'the token is the link\'s already');
    assert.deepEqual(sealsOf(t, ALICE.uid), before, 'the seal made for bob was taken back');
    assert.deepEqual((await t.app.shares.list(ALICE.uid)).map((s) => s.node.name), ['A']);

    await t.app.shares.importShare(actor, { ...row, token: null });
    assert.equal(sealsOf(t, ALICE.uid).length, before.length + 1, 'one seal: bob\'s');
    t.app.userKeys.session.lock(ALICE.uid);
    const r = await t.fetch(dav(BOB, 'B/b.txt'), { as: BOB });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'bravo');
  });
});
