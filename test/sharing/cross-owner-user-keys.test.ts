/**
 * COPY/MOVE between own files and a received share, and chunked uploads into it, in per-user-key
 * mode while the owner is not logged in: the content is read with the sharee's grant and written
 * under the share's key, so the owner reads it once back, and nobody else does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestInstance } from '../support/test-instance.ts';
import { perUserInstance, plaintextOnDisk } from '../user-keys/helpers.ts';
import { ALICE, BOB, CAROL, share, type Creds } from './helpers.ts';

const MARK = 'PER-USER-CROSS-OWNER-91c2';
const dav = (c: Creds, p: string) => `/remote.php/dav/files/${c.uid}/${p}`;

describe('per-user keys: COPY/MOVE and chunked uploads across owners', () => {
  let t: TestInstance;
  const req = (as: Creds, method: string, p: string, headers: Record<string, string> = {}, body?: string) => t.fetch(p, { as, method, headers, body });
  const cm = (as: Creds, method: 'COPY' | 'MOVE', from: string, to: string) =>
    req(as, method, dav(as, from), { Destination: `${t.url}${dav(as, to)}` });
  const read = async (as: Creds, p: string) => {
    const r = await req(as, 'GET', dav(as, p));
    return { status: r.status, text: await r.text() };
  };
  /** The owner is not logged in: her unlocked keys are dropped from this server. */
  const lockAlice = () => t.app.userKeys.session.lock(ALICE.uid);

  before(async () => {
    t = await perUserInstance();
    for (const u of [ALICE, BOB, CAROL]) {
      await t.addUser(u.uid, u.password);
      assert.equal((await req(u, 'PROPFIND', dav(u, ''), { Depth: '0' })).status, 207); // first login: key pair
    }
    assert.equal((await req(ALICE, 'MKCOL', dav(ALICE, 'Team'))).status, 201);
    assert.equal((await req(ALICE, 'PUT', dav(ALICE, 'Team/from-alice.txt'), {}, `${MARK} alice wrote`)).status, 201);
    await share(t, ALICE, { path: '/Team', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    assert.equal((await req(CAROL, 'MKCOL', dav(CAROL, 'Box'))).status, 201);
    await share(t, CAROL, { path: '/Box', shareType: 0, shareWith: BOB.uid, permissions: 31 });
    lockAlice();
  });
  after(async () => { await t?.stop(); });

  it('MOVE and COPY of own files and folders into the share; the owner reads them back', async () => {
    assert.equal((await req(BOB, 'PUT', dav(BOB, 'mine.txt'), {}, `${MARK} bob moved`)).status, 201);
    assert.equal((await req(BOB, 'MKCOL', dav(BOB, 'dir'))).status, 201);
    assert.equal((await req(BOB, 'PUT', dav(BOB, 'dir/inner.txt'), {}, `${MARK} bob folder`)).status, 201);
    assert.equal((await cm(BOB, 'MOVE', 'mine.txt', 'Team/mine.txt')).status, 201);
    assert.equal((await cm(BOB, 'COPY', 'dir', 'Team/dir')).status, 201);
    assert.equal((await cm(BOB, 'MOVE', 'dir', 'Team/dir2')).status, 201);
    lockAlice();
    assert.deepEqual(await read(BOB, 'Team/mine.txt'), { status: 200, text: `${MARK} bob moved` });
    assert.deepEqual(await read(BOB, 'Team/dir2/inner.txt'), { status: 200, text: `${MARK} bob folder` });
    assert.deepEqual(await read(ALICE, 'Team/mine.txt'), { status: 200, text: `${MARK} bob moved` });
    assert.deepEqual(await read(ALICE, 'Team/dir/inner.txt'), { status: 200, text: `${MARK} bob folder` });
    assert.deepEqual(await read(ALICE, 'Team/dir2/inner.txt'), { status: 200, text: `${MARK} bob folder` });
    assert.equal((await read(BOB, 'mine.txt')).status, 404);
    assert.equal((await read(CAROL, 'Team/mine.txt')).status, 404);
  });

  it('MOVE and COPY out of the share: re-encrypted for the mover, readable with the owner locked', async () => {
    lockAlice();
    assert.equal((await cm(BOB, 'COPY', 'Team/from-alice.txt', 'copied.txt')).status, 201);
    assert.equal((await cm(BOB, 'MOVE', 'Team/from-alice.txt', 'taken.txt')).status, 201);
    assert.deepEqual(await read(BOB, 'copied.txt'), { status: 200, text: `${MARK} alice wrote` });
    assert.deepEqual(await read(BOB, 'taken.txt'), { status: 200, text: `${MARK} alice wrote` });
    assert.equal((await read(ALICE, 'Team/from-alice.txt')).status, 404);
  });

  it('chunked upload into the share while the owner is locked; she reads it', async () => {
    lockAlice();
    const up = `/remote.php/dav/uploads/${BOB.uid}/chunked-1`;
    const destination = `${t.url}${dav(BOB, 'Team/chunked.txt')}`;
    assert.equal((await req(BOB, 'MKCOL', up, { Destination: destination })).status, 201);
    assert.equal((await req(BOB, 'PUT', `${up}/00001`, { Destination: destination }, `${MARK} part one / `)).status, 201);
    assert.equal((await req(BOB, 'PUT', `${up}/00002`, { Destination: destination }, 'part two')).status, 201);
    const r = await req(BOB, 'MOVE', `${up}/.file`, { Destination: destination });
    assert.equal(r.status, 201, await r.text());
    assert.deepEqual(await read(ALICE, 'Team/chunked.txt'), { status: 200, text: `${MARK} part one / part two` });
  });

  it('MOVE from one owner\'s share into another\'s, both owners locked', async () => {
    assert.equal((await req(BOB, 'PUT', dav(BOB, 'Team/hop.txt'), {}, `${MARK} hop`)).status, 201);
    lockAlice();
    t.app.userKeys.session.lock(CAROL.uid);
    assert.equal((await cm(BOB, 'MOVE', 'Team/hop.txt', 'Box/hop.txt')).status, 201);
    assert.deepEqual(await read(BOB, 'Box/hop.txt'), { status: 200, text: `${MARK} hop` });
    assert.deepEqual(await read(CAROL, 'Box/hop.txt'), { status: 200, text: `${MARK} hop` });
    assert.equal((await read(ALICE, 'Team/hop.txt')).status, 404);
  });

  it('no plaintext of any of it on disk', () => {
    assert.equal(plaintextOnDisk(t.dataDir, MARK), undefined);
  });
});
