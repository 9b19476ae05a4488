/**
 * A delete inside a received share (issue #15): the node goes to the owner's trash, and the
 * deleter sees that same item in theirs (Nextcloud copies it into the deleter's trash; Coffer
 * shows the one item to both, no copy). Over HTTP, plain, master-key and per-user keys: the
 * deleter sees it at its place in their own tree and downloads it; it counts once (the owner's);
 * a restore, an empty or an expiry by the owner, or a restore by the deleter, settles it for both;
 * the deleter's delete or empty takes it out of their view only;
 * the deleter loses sight of it with the share, and restores only where the share lets them create.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, ocs, share, SHARES, type Creds } from '../sharing/helpers.ts';
import { NodeRepository } from '../../src/files/node-repository.ts';
import { TrashExpiry } from '../../src/trash/trash-expiry.ts';
import { parseRetention } from '../../src/versions/retention-policy.ts';
import { silentLogger } from '../../src/logger.ts';
import { blobFile, call, FILES, historyInstance, prop, propfind, put, responses, TRASH } from './helpers.ts';

const PROPS = ['oc:fileid', 'nc:trashbin-filename', 'nc:trashbin-original-location', 'nc:trashbin-deleted-by-id', 'oc:size'];

/** The trash listing of `as`, by file name. */
async function trashOf(t: TestInstance, as: Creds): Promise<Map<string, { href: string; location: string; deletedBy: string; size: number; fileId: number }>> {
  const r = await propfind(t, as, `${TRASH(as)}/trash`, PROPS);
  assert.equal(r.status, 207, r.text);
  const out = new Map();
  for (const x of responses(r.text).slice(1)) {
    out.set(prop(x.xml, 'nc:trashbin-filename'), {
      href: x.href, location: prop(x.xml, 'nc:trashbin-original-location'), deletedBy: prop(x.xml, 'nc:trashbin-deleted-by-id'),
      size: Number(prop(x.xml, 'oc:size')), fileId: Number(prop(x.xml, 'oc:fileid')),
    });
  }
  return out;
}

for (const mode of ['plain', 'master', 'per-user'] as const) {
  describe(`deleting inside a received share (${mode})`, () => {
    let t: TestInstance;
    let shareId = 0;
    before(async () => {
      t = await historyInstance(mode);
      // bob has a Team folder of his own: alice's share mounts as "Team (2)"
      assert.equal((await call(t, BOB, 'MKCOL', `${FILES(BOB)}/Team`)).status, 201);
      assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/Team`)).status, 201);
      assert.equal((await call(t, ALICE, 'MKCOL', `${FILES(ALICE)}/Team/sub`)).status, 201);
      for (const n of ['a', 'b', 'c', 'd']) await put(t, ALICE, `Team/${n}.txt`, `content of ${n} `.repeat(10));
      await put(t, ALICE, 'Team/sub/e.txt', 'content of e');
      shareId = Number((await share(t, ALICE, { path: '/Team', shareType: 0, shareWith: BOB.uid, permissions: 31 })).id);
    });
    after(async () => { await t?.stop(); });

    it('lands in both trash bins, at the place each sees it; the deleter downloads it; it counts once', async () => {
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team (2)/a.txt`)).status, 204);
      const a = (await trashOf(t, ALICE)).get('a.txt')!;
      const b = (await trashOf(t, BOB)).get('a.txt')!;
      assert.deepEqual([a.location, a.deletedBy], ['Team/a.txt', BOB.uid]);
      assert.deepEqual([b.location, b.deletedBy], ['Team (2)/a.txt', BOB.uid], 'the deleter sees where it was in their own tree');
      assert.equal(a.fileId, b.fileId, 'one item, no copy');
      assert.equal(a.size, b.size);
      assert.equal((await call(t, BOB, 'GET', b.href)).text, 'content of a '.repeat(10));
      assert.equal((await call(t, ALICE, 'GET', a.href)).text, 'content of a '.repeat(10));
      // counted in the owner's trash only (size and retention are the owner's)
      assert.deepEqual(await t.app.trash.usage(ALICE.uid), { count: 1, bytes: a.size });
      assert.deepEqual(await t.app.trash.usage(BOB.uid), { count: 0, bytes: 0 });
      // the owner restores: gone from both
      assert.equal((await call(t, ALICE, 'MOVE', a.href, { headers: { Destination: `${TRASH(ALICE)}/restore/a.txt` } })).status, 201);
      assert.equal((await trashOf(t, BOB)).has('a.txt'), false);
      assert.equal((await call(t, BOB, 'MOVE', b.href, { headers: { Destination: `${TRASH(BOB)}/restore/a.txt` } })).status, 404);
      assert.equal((await call(t, BOB, 'GET', `${FILES(BOB)}/Team (2)/a.txt`)).text, 'content of a '.repeat(10));
    });

    it('the deleter restores it into the share: gone from both trash bins, the owner has it back with its id', async () => {
      const before = await t.app.files.stat(ALICE.uid, 'Team/b.txt');
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team (2)/b.txt`)).status, 204);
      const b = (await trashOf(t, BOB)).get('b.txt')!;
      assert.equal((await call(t, BOB, 'MOVE', b.href, { headers: { Destination: `${TRASH(BOB)}/restore/b.txt` } })).status, 201);
      assert.equal((await trashOf(t, ALICE)).has('b.txt'), false);
      assert.equal((await trashOf(t, BOB)).has('b.txt'), false);
      assert.equal((await t.app.files.stat(ALICE.uid, 'Team/b.txt')).fileId, before.fileId);
    });

    it('the owner empties the trash or it expires: gone for the deleter too, content deleted, nothing dangling', async () => {
      const c = await t.app.files.stat(ALICE.uid, 'Team/c.txt');
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team (2)/c.txt`)).status, 204);
      const seen = (await trashOf(t, BOB)).get('c.txt')!;
      // only the owner deletes for good: the deleter's DELETE (or empty) takes it out of their view only
      assert.equal((await call(t, BOB, 'DELETE', seen.href)).status, 204);
      assert.equal((await trashOf(t, BOB)).has('c.txt'), false);
      assert.equal((await trashOf(t, ALICE)).has('c.txt'), true, 'the owner keeps it');
      assert.ok(existsSync(blobFile(t, c.blobId!)), 'and its content');
      assert.equal((await call(t, BOB, 'DELETE', `${TRASH(BOB)}/trash`)).status, 204, 'emptying their trash leaves the owner\'s items');
      assert.equal((await trashOf(t, ALICE)).has('c.txt'), true);
      assert.equal((await call(t, ALICE, 'DELETE', `${TRASH(ALICE)}/trash`)).status, 204);
      assert.equal((await trashOf(t, ALICE)).has('c.txt'), false);
      assert.equal((await call(t, BOB, 'GET', seen.href)).status, 404);
      assert.ok(!existsSync(blobFile(t, c.blobId!)), 'the content went with the owner\'s item');

      // expiry by the owner's retention (here: a one-day maximum, two days later)
      await put(t, ALICE, 'Team/c.txt', 'c again');
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team (2)/c.txt`)).status, 204);
      const item = (await t.app.trash.repo.ofOwner(t.app.db, ALICE.uid)).find((i) => i.name === 'c.txt')!;
      const expiry = new TrashExpiry({ db: t.app.db, nodes: new NodeRepository(t.app.db), trash: t.app.trash, log: silentLogger(), policy: parseRetention('auto, 1', 'trashbin'), configuredSize: async () => undefined });
      assert.deepEqual(await expiry.expireUser(BOB.uid, item.deletedAt + 2 * 86_400), { expired: 0, bytes: 0 }, 'the deleter\'s retention does not touch it');
      assert.equal((await expiry.expireUser(ALICE.uid, item.deletedAt + 2 * 86_400)).expired, 1);
      assert.equal((await trashOf(t, BOB)).has('c.txt'), false);
    });

    it('restoring needs create permission where it was; a gone folder is the owner\'s to handle', async () => {
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team (2)/sub/e.txt`)).status, 204);
      assert.equal((await call(t, ALICE, 'DELETE', `${FILES(ALICE)}/Team/sub`)).status, 204);
      const e = (await trashOf(t, BOB)).get('e.txt')!;
      const r = await call(t, BOB, 'MOVE', e.href, { headers: { Destination: `${TRASH(BOB)}/restore/e.txt` } });
      assert.equal(r.status, 403, r.text);
      assert.equal((await trashOf(t, BOB)).has('e.txt'), true, 'a refused restore changes nothing');
      // read, update and delete, but no create
      await ocs(t, ALICE, 'PUT', `${SHARES}/${shareId}`, { form: { permissions: 1 | 2 | 8 } });
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team (2)/d.txt`)).status, 204);
      const d = (await trashOf(t, BOB)).get('d.txt')!;
      assert.equal(d.location, 'Team (2)/d.txt');
      assert.equal((await call(t, BOB, 'MOVE', d.href, { headers: { Destination: `${TRASH(BOB)}/restore/d.txt` } })).status, 403);
      await ocs(t, ALICE, 'PUT', `${SHARES}/${shareId}`, { form: { permissions: 31 } });
      assert.equal((await call(t, BOB, 'MOVE', d.href, { headers: { Destination: `${TRASH(BOB)}/restore/d.txt` } })).status, 201);
      assert.equal((await call(t, ALICE, 'GET', `${FILES(ALICE)}/Team/d.txt`)).text, 'content of d '.repeat(10));
    });

    it('when the share goes, the deleter no longer sees the item; the owner keeps it', async () => {
      assert.equal((await call(t, BOB, 'DELETE', `${FILES(BOB)}/Team (2)/d.txt`)).status, 204);
      const d = (await trashOf(t, BOB)).get('d.txt')!;
      assert.equal((await ocs(t, ALICE, 'DELETE', `${SHARES}/${shareId}`)).http, 200);
      assert.equal((await trashOf(t, BOB)).has('d.txt'), false);
      assert.equal((await call(t, BOB, 'GET', d.href)).status, 404);
      assert.equal((await call(t, BOB, 'MOVE', d.href, { headers: { Destination: `${TRASH(BOB)}/restore/d.txt` } })).status, 404);
      const a = (await trashOf(t, ALICE)).get('d.txt')!;
      assert.equal(a.deletedBy, BOB.uid);
      assert.equal((await call(t, ALICE, 'GET', a.href)).text, 'content of d '.repeat(10));
    });
  });
}
