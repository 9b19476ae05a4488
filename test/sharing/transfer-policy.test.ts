/**
 * The transfer policy over HTTP: COPY/MOVE with `Overwrite: T` and the web API's move with
 * `overwrite:true` replace what exists, so they need delete permission on it; a received share's
 * mount root can only be renamed within the recipient's root, through WebDAV and the web API alike
 * (both go through the sharing layer's TransferPolicy). Refusals change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, put, share, type Creds } from './helpers.ts';

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`copy and move permissions in a user's view (${db})`, () => {
    let t: TestInstance;
    let webHeaders: Record<string, string>;
    const web = (method: string, route: string, body?: unknown) => fetch(`${t.url}/web/api/${route}`, {
      method, headers: { ...webHeaders, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const davUrl = (as: Creds, path: string) => `/remote.php/dav/files/${as.uid}/${path}`;
    const transfer = (as: Creds, method: 'COPY' | 'MOVE', from: string, to: string, overwrite: 'T' | 'F') => t.fetch(davUrl(as, from), {
      method, as, headers: { Destination: `${t.url}${davUrl(as, to)}`, Overwrite: overwrite },
    });
    const names = async (uid: string, path: string) => (await t.app.files.children(uid, path)).map((n) => n.name).sort();

    before(async () => {
      t = await startTestInstance({ db });
      await t.addUser(ALICE.uid, ALICE.password);
      await t.addUser(BOB.uid, BOB.password);
      // alice's Up: bob may read, change and add (7), not delete
      await t.app.files.mkdir(ALICE.uid, 'Up');
      await t.app.files.mkdir(ALICE.uid, 'Up/work');
      await put(t, ALICE.uid, 'Up/work/one.txt', 'one');
      await put(t, ALICE.uid, 'Up/work/two.txt', 'two');
      await put(t, ALICE.uid, 'Up/memo.txt', 'memo');
      await share(t, ALICE, { path: '/Up', shareType: 0, shareWith: BOB.uid, permissions: 7 });
      // alice's rw: everything (31)
      await t.app.files.mkdir(ALICE.uid, 'rw');
      await put(t, ALICE.uid, 'rw/data.txt', 'data');
      await share(t, ALICE, { path: '/rw', shareType: 0, shareWith: BOB.uid, permissions: 31 });
      await t.app.files.ensureHome(BOB.uid);
      await t.app.files.mkdir(BOB.uid, 'empty');
      await t.app.files.mkdir(BOB.uid, 'sub');
      await put(t, BOB.uid, 'blank.txt', '');
      const s = await t.app.sessions.create(BOB.uid, {});
      webHeaders = { cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken };
    });
    after(async () => { await t?.stop(); });

    test('item 5: overwriting a folder or file in a share without delete permission is refused (WebDAV COPY/MOVE, web API move)', async () => {
      for (const method of ['COPY', 'MOVE'] as const) {
        const r = await transfer(BOB, method, 'empty', 'Up/work', 'T');
        assert.equal(r.status, 403, `${method} onto a folder: ${await r.text()}`);
        const f = await transfer(BOB, method, 'blank.txt', 'Up/memo.txt', 'T');
        assert.equal(f.status, 403, `${method} onto a file: ${await f.text()}`);
      }
      const w = await web('POST', 'files/move', { from: 'empty', to: 'Up/work', overwrite: true });
      assert.equal(w.status, 403, await w.text());
      const wf = await web('POST', 'files/move', { from: 'blank.txt', to: 'Up/memo.txt', overwrite: true });
      assert.equal(wf.status, 403, await wf.text());
      // nothing changed on either side
      assert.deepEqual(await names(ALICE.uid, 'Up/work'), ['one.txt', 'two.txt']);
      assert.equal((await t.app.files.stat(ALICE.uid, 'Up/memo.txt')).size, 4);
      assert.deepEqual(await names(BOB.uid, ''), ['blank.txt', 'empty', 'sub']);
      // what the share does allow still works: a new name (create), an update in place (PUT)
      assert.equal((await transfer(BOB, 'COPY', 'blank.txt', 'Up/new.txt', 'T')).status, 201);
      assert.equal((await t.fetch(davUrl(BOB, 'Up/memo.txt'), { method: 'PUT', as: BOB, body: 'memo 2' })).status, 204);
      // Overwrite: F onto an existing resource stays a plain 412
      assert.equal((await transfer(BOB, 'COPY', 'blank.txt', 'Up/memo.txt', 'F')).status, 412);
    });

    test('item 5: with delete permission the overwrite goes through', async () => {
      await t.app.files.mkdir(BOB.uid, 'repl');
      await put(t, BOB.uid, 'repl/r.txt', 'replacement');
      await t.app.files.mkdir(ALICE.uid, 'rw/old');
      await put(t, ALICE.uid, 'rw/old/o.txt', 'old');
      const r = await transfer(BOB, 'MOVE', 'repl', 'rw/old', 'T');
      assert.equal(r.status, 204, await r.text());
      assert.deepEqual(await names(ALICE.uid, 'rw/old'), ['r.txt']);
    });

    test('item 6: the web API cannot move a share\'s root out of the recipient\'s root (WebDAV cannot either); a rename works', async () => {
      const w = await web('POST', 'files/move', { from: 'rw', to: 'sub/rw' });
      assert.equal(w.status, 403, await w.text());
      const d = await transfer(BOB, 'MOVE', 'rw', 'sub/rw', 'T');
      assert.equal(d.status, 403, await d.text());
      assert.ok(await t.app.files.tryStat(ALICE.uid, 'rw/data.txt'), 'the owner keeps the folder');
      assert.equal((await t.app.shares.list(ALICE.uid, { path: 'rw' })).length, 1, 'and the share');
      assert.deepEqual(await names(BOB.uid, 'sub'), []);
      // renaming the mount within the root is what both allow
      const ren = await web('POST', 'files/move', { from: 'rw', to: 'renamed' });
      assert.equal(ren.status, 200, await ren.text());
      assert.equal((await t.fetch(davUrl(BOB, 'renamed/data.txt'), { as: BOB })).status, 200);
      assert.equal((await transfer(BOB, 'MOVE', 'renamed', 'rw', 'F')).status, 201);
      assert.ok(await t.app.files.tryStat(ALICE.uid, 'rw/data.txt'));
      // and neither lets anything replace the mount itself
      const onto = await web('POST', 'files/move', { from: 'blank.txt', to: 'rw', overwrite: true });
      assert.equal(onto.status, 403, await onto.text());
      assert.equal((await transfer(BOB, 'COPY', 'blank.txt', 'rw', 'T')).status, 403);
    });
  });
}
