import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, ocs, put, SHARES } from './helpers.ts';

const FILES = 2000;

describe('sharing a 2,000-file folder', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    for (const u of [ALICE, BOB]) await t.addUser(u.uid, u.password);
    await t.app.files.mkdir(ALICE.uid, 'Big');
    for (let d = 0; d < 20; d++) {
      await t.app.files.mkdir(ALICE.uid, `Big/d${d}`);
      const writes = [];
      for (let i = 0; i < FILES / 20; i++) writes.push(put(t, ALICE.uid, `Big/d${d}/f${i}.txt`, `file ${d}/${i}`));
      await Promise.all(writes);
    }
    // warm the credential cache so the timing is the share, not argon2id
    await ocs(t, ALICE, 'GET', SHARES);
    await ocs(t, BOB, 'GET', SHARES);
  });
  after(async () => { await t.stop(); });

  it('shares it with a user and a link well under 1 s each (O(1): no per-file work)', async () => {
    let files = 0;
    for await (const n of t.app.files.walk(ALICE.uid, 'Big', Infinity)) if (n.kind === 'file') files++;
    assert.equal(files, FILES);

    let t0 = performance.now();
    const r = await ocs(t, ALICE, 'POST', SHARES, { form: { path: '/Big', shareType: 0, shareWith: BOB.uid, permissions: 31 } });
    const userMs = performance.now() - t0;
    assert.equal(r.http, 200);
    t0 = performance.now();
    const l = await ocs(t, ALICE, 'POST', SHARES, { form: { path: '/Big', shareType: 3 } });
    const linkMs = performance.now() - t0;
    assert.equal(l.http, 200);
    t0 = performance.now();
    const res = await t.app.shareResolver.resolve(BOB.uid, 'Big/d19/f99.txt');
    const resolveMs = performance.now() - t0;
    assert.equal(res.owner, ALICE.uid);
    t0 = performance.now();
    const del = await ocs(t, ALICE, 'DELETE', `${SHARES}/${r.data.id}`);
    const unshareMs = performance.now() - t0;
    assert.equal(del.http, 200);
    console.log(`# share 2,000-file folder: user share ${userMs.toFixed(1)} ms, link ${linkMs.toFixed(1)} ms, resolve ${resolveMs.toFixed(1)} ms, unshare ${unshareMs.toFixed(1)} ms (HTTP round trips, SQLite)`);
  });

});
