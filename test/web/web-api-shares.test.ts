/**
 * The web UI's JSON API between a user's own files and a received share: a move into and out of the
 * share and a chunked upload into it land where Nextcloud puts them (the sharer's tree); a read-only
 * share refuses both and nothing changes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, put, seed, share } from '../sharing/helpers.ts';
import { userActor } from '../../src/actor.ts';

async function readAll(t: TestInstance, uid: string, path: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of (await t.app.files.openRead(userActor(uid, 'password'), uid, path)).stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`web API across a received share (${db})`, () => {
    let t: TestInstance;
    let headers: Record<string, string>;
    const api = (method: string, route: string, body?: unknown, extra: Record<string, string> = {}) =>
      fetch(`${t.url}/web/api/${route}`, {
        method, headers: { ...headers, ...extra, ...(body !== undefined && !(body instanceof Buffer) ? { 'Content-Type': 'application/json' } : {}) },
        body: body instanceof Buffer ? body : body === undefined ? undefined : JSON.stringify(body),
      });

    before(async () => {
      t = await startTestInstance({ db });
      await seed(t);
      await t.app.files.mkdir(ALICE.uid, 'ReadOnly');
      await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: BOB.uid, permissions: 31 });
      await share(t, ALICE, { path: '/ReadOnly', shareType: 0, shareWith: BOB.uid, permissions: 1 });
      const s = await t.app.sessions.create(BOB.uid, {});
      headers = { cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken };
    });
    after(async () => { await t?.stop(); });

    test('moving an own file into the share gives it to the sharer; moving it back gives it back', async () => {
      await t.app.files.ensureHome(BOB.uid);
      await put(t, BOB.uid, 'mine.txt', 'bob wrote this');
      let r = await api('POST', 'files/move', { from: 'mine.txt', to: 'Project/mine.txt' });
      assert.equal(r.status, 200, await r.text());
      assert.equal((await readAll(t, ALICE.uid, 'Project/mine.txt')).toString(), 'bob wrote this');
      assert.equal(await t.app.files.tryStat(BOB.uid, 'mine.txt'), undefined);
      r = await api('POST', 'files/move', { from: 'Project/mine.txt', to: 'back.txt' });
      assert.equal(r.status, 200, await r.text());
      assert.equal((await readAll(t, BOB.uid, 'back.txt')).toString(), 'bob wrote this');
      assert.equal(await t.app.files.tryStat(ALICE.uid, 'Project/mine.txt'), undefined);
    });

    test('a chunked upload finishes inside the share, in the sharer\'s tree', async () => {
      const content = randomBytes(3 * 1024 * 1024 + 17);
      let r = await api('POST', 'files/chunked', { path: 'Project/big.bin', size: content.length });
      const created = await r.text();
      assert.equal(r.status, 201, created);
      const { id } = JSON.parse(created) as { id: string };
      const half = 2 * 1024 * 1024;
      assert.equal((await api('PUT', `files/chunked/${id}/1?offset=0`, content.subarray(0, half))).status, 201);
      assert.equal((await api('PUT', `files/chunked/${id}/2?offset=${half}`, content.subarray(half))).status, 201);
      r = await api('POST', `files/chunked/${id}/finish`, { path: 'Project/big.bin' });
      assert.equal(r.status, 201, await r.text());
      assert.ok((await readAll(t, ALICE.uid, 'Project/big.bin')).equals(content));
      assert.equal(await t.app.files.tryStat(BOB.uid, 'Project/big.bin'), undefined);
    });

    test('a read-only share refuses a move in and a chunked upload, and nothing changes', async () => {
      await put(t, BOB.uid, 'keep.txt', 'stays with bob');
      let r = await api('POST', 'files/move', { from: 'keep.txt', to: 'ReadOnly/keep.txt' });
      assert.equal(r.status, 403, await r.text());
      assert.equal((await readAll(t, BOB.uid, 'keep.txt')).toString(), 'stays with bob');
      r = await api('POST', 'files/chunked', { path: 'ReadOnly/x.bin', size: 10 });
      assert.equal(r.status, 403, await r.text());
      assert.deepEqual((await t.app.files.children(ALICE.uid, 'ReadOnly')).map((n) => n.name), []);
    });
  });
}
