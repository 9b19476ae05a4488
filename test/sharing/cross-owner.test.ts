/**
 * COPY and MOVE between a user's own files and received shares (and between shares of two
 * owners), and chunked uploads assembled into a received share, over real HTTP — on SQLite and
 * PostgreSQL, without and with server-side encryption (master key). As in Nextcloud: what lands in
 * a share belongs to the sharer, what is moved out of one belongs to the mover; the destination
 * needs create (new) or update (overwrite), a MOVE source in a share needs delete, a COPY source
 * read; the receiving owner's quota applies; refusals change nothing anywhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { pattern, sha256, snapshotTree, unreferencedBlobs } from '../reliability/support.ts';
import { share } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const A = { uid: 'alice', password: 'alice-password-1' };
const B = { uid: 'bob', password: 'bob-password-12' };
const C = { uid: 'carol', password: 'carol-password-1' };
const D = { uid: 'dave', password: 'dave-password-1' };
const MARK = 'CROSS-OWNER-PLAINTEXT-5d1e';
const LOCK_BODY = '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>';

type Creds = typeof A;
type Snap = Map<string, string>;

function diff(a: Snap, b: Snap): string[] {
  const out: string[] = [];
  for (const [k, v] of b) if (!a.has(k)) out.push(`+${k}`); else if (a.get(k) !== v) out.push(`~${k}`);
  for (const k of a.keys()) if (!b.has(k)) out.push(`-${k}`);
  return out.sort();
}

for (const db of ['sqlite', 'pgsql'] as const) {
  for (const encrypted of [false, true]) {
    describe(`COPY/MOVE across owners and chunked uploads into shares (${db}, ${encrypted ? 'encrypted' : 'plain'})`, () => {
      let t: TestInstance;
      const dav = (u: Creds, p: string) => `/remote.php/dav/files/${u.uid}/${p.split('/').map(encodeURIComponent).join('/')}`;
      const req = (as: Creds, method: string, p: string, headers: Record<string, string> = {}, body?: string | Buffer) =>
        t.fetch(p, { as, method, headers, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) });
      const cm = (as: Creds, method: 'COPY' | 'MOVE', from: string, to: string, headers: Record<string, string> = {}) =>
        req(as, method, dav(as, from), { Destination: `${t.url}${dav(as, to)}`, ...headers });
      const content = async (uid: string, p: string) => {
        const chunks: Buffer[] = [];
        for await (const c of (await t.app.files.openRead(userActor(uid, 'password'), uid, p)).stream) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      };
      const write = (uid: string, p: string, c: string | Buffer) => t.app.files.writeFile(userActor(uid, 'password'), uid, p, Readable.from([Buffer.from(c)]));
      const snaps = async () => {
        const out: Record<string, Snap> = {};
        for (const u of [A, B, C]) out[u.uid] = await snapshotTree(t.app, u.uid);
        return out;
      };
      /** Every user's tree is unchanged by `fn` (a refusal). */
      const unchanged = async (what: string, fn: () => Promise<Response>, status: number) => {
        const before = await snaps();
        const r = await fn();
        assert.equal(r.status, status, `${what}: ${r.status} ${await r.text()}`);
        const after = await snaps();
        for (const u of [A, B, C]) assert.deepEqual(diff(before[u.uid]!, after[u.uid]!), [], `${what} changed ${u.uid}'s tree`);
      };
      /** The stored bytes of a file's blob contain no plaintext marker (encrypted instance only). */
      const assertSealed = async (uid: string, p: string) => {
        if (!encrypted) return;
        const node = await t.app.files.stat(uid, p);
        assert.ok(hasLocalPaths(t.app.rawBlobs));
        assert.ok(!readFileSync(t.app.rawBlobs.pathOf(node.blobId!)).includes(MARK), `${uid}:${p} is stored in plaintext`);
        assert.notEqual(node.blobCodec, 'plain');
      };

      before(async () => {
        t = await startTestInstance({ db });
        for (const u of [A, B, C, D]) await t.addUser(u.uid, u.password);
        if (encrypted) await enableEncryption(t);
        for (const [dir, perms] of [['Team', 31], ['Ro', 1], ['NoDel', 5], ['NoUp', 13]] as const) {
          await t.app.files.mkdir(A.uid, dir);
          await write(A.uid, `${dir}/existing.txt`, `${MARK} existing in ${dir}`);
          await share(t, A, { path: `/${dir}`, shareType: 0, shareWith: B.uid, permissions: perms });
        }
        await t.app.files.mkdir(C.uid, 'CarolBox');
        await share(t, C, { path: '/CarolBox', shareType: 0, shareWith: B.uid, permissions: 31 });
        await write(A.uid, 'private.txt', `${MARK} alice private`);
      });
      after(async () => { await t.stop(); });

      it('MOVE own file → share: lands in the sharer\'s tree (her quota, her key), leaves mine', async () => {
        const body = Buffer.from(`${MARK} bob's file for the team`);
        assert.equal((await req(B, 'PUT', dav(B, 'mine.txt'), {}, body)).status, 201);
        const [a0, b0] = [(await t.app.files.quota(A.uid)).used, (await t.app.files.quota(B.uid)).used];
        const r = await cm(B, 'MOVE', 'mine.txt', 'Team/mine.txt');
        assert.equal(r.status, 201);
        const node = await t.app.files.stat(A.uid, 'Team/mine.txt');
        assert.equal(node.owner, A.uid);
        assert.match(r.headers.get('oc-fileid') ?? '', new RegExp(`^0*${node.fileId}`));
        assert.deepEqual(await content(A.uid, 'Team/mine.txt'), body);
        assert.equal(await t.app.files.tryStat(B.uid, 'mine.txt'), undefined);
        assert.equal((await t.app.files.quota(A.uid)).used, a0 + body.length);
        assert.equal((await t.app.files.quota(B.uid)).used, b0 - body.length);
        const viaShare = await req(B, 'GET', dav(B, 'Team/mine.txt'));
        assert.deepEqual(Buffer.from(await viaShare.arrayBuffer()), body);
        const viaOwner = await req(A, 'GET', dav(A, 'Team/mine.txt'));
        assert.deepEqual(Buffer.from(await viaOwner.arrayBuffer()), body);
        await assertSealed(A.uid, 'Team/mine.txt');
      });

      it('MOVE share file → own tree (share grants delete): it is mine now, gone from the sharer', async () => {
        await write(A.uid, 'Team/give.txt', `${MARK} given away`);
        const r = await cm(B, 'MOVE', 'Team/give.txt', 'given.txt');
        assert.equal(r.status, 201);
        assert.equal(await t.app.files.tryStat(A.uid, 'Team/give.txt'), undefined);
        assert.equal((await t.app.files.stat(B.uid, 'given.txt')).owner, B.uid);
        assert.equal((await content(B.uid, 'given.txt')).toString(), `${MARK} given away`);
        await assertSealed(B.uid, 'given.txt');
        // the sharer does not reach it any more; a stranger never did
        assert.equal((await req(A, 'GET', dav(A, 'Team/give.txt'))).status, 404);
        assert.equal((await req(D, 'GET', `/remote.php/dav/files/${B.uid}/given.txt`)).status, 403);
      });

      it('MOVE between shares of two owners; folders recursively, with a multi-MiB file', async () => {
        await t.app.files.mkdir(A.uid, 'Team/tree');
        await t.app.files.mkdir(A.uid, 'Team/tree/sub');
        const big = pattern(7, 3 * 1024 * 1024 + 17);
        await write(A.uid, 'Team/tree/big.bin', big);
        await write(A.uid, 'Team/tree/sub/small.txt', `${MARK} small`);
        await write(A.uid, 'Team/tree/sub/empty.txt', '');
        const pp = await req(B, 'PROPPATCH', dav(B, 'Team/tree/sub/small.txt'), { 'Content-Type': 'application/xml' },
          '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:color>blue</x:color></d:prop></d:set></d:propertyupdate>');
        assert.equal(pp.status, 207);
        const r = await cm(B, 'MOVE', 'Team/tree', 'CarolBox/tree');
        assert.equal(r.status, 201, await r.text());
        assert.equal(await t.app.files.tryStat(A.uid, 'Team/tree'), undefined);
        const moved = await snapshotTree(t.app, C.uid);
        assert.deepEqual([...moved.keys()].filter((k) => k.startsWith('CarolBox/tree')).sort(),
          ['CarolBox/tree/', 'CarolBox/tree/big.bin', 'CarolBox/tree/sub/', 'CarolBox/tree/sub/empty.txt', 'CarolBox/tree/sub/small.txt']);
        assert.equal(moved.get('CarolBox/tree/big.bin'), sha256(big));
        assert.equal((await t.app.files.stat(C.uid, 'CarolBox/tree')).size, big.length + `${MARK} small`.length);
        const small = await t.app.files.stat(C.uid, 'CarolBox/tree/sub/small.txt');
        assert.deepEqual((await t.app.files.properties.get(small.fileId)).map((p) => p.value), ['blue']);
        await assertSealed(C.uid, 'CarolBox/tree/sub/small.txt');
        const got = await req(B, 'GET', dav(B, 'CarolBox/tree/big.bin'));
        assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(big));
      });

      it('COPY own folder → share and share → own: source unchanged, copy owned by the receiver', async () => {
        await t.app.files.mkdir(B.uid, 'proj');
        await write(B.uid, 'proj/p.txt', `${MARK} project`);
        assert.equal((await cm(B, 'COPY', 'proj', 'Team/proj')).status, 201);
        assert.equal((await content(A.uid, 'Team/proj/p.txt')).toString(), `${MARK} project`);
        assert.equal((await content(B.uid, 'proj/p.txt')).toString(), `${MARK} project`);
        await assertSealed(A.uid, 'Team/proj/p.txt');
        // read-only share: COPY out is allowed (read), Depth 0 copies the folder alone
        assert.equal((await cm(B, 'COPY', 'Ro/existing.txt', 'ro-copy.txt')).status, 201);
        assert.equal((await content(B.uid, 'ro-copy.txt')).toString(), `${MARK} existing in Ro`);
        assert.equal((await cm(B, 'COPY', 'Team/proj', 'proj-shallow', { Depth: '0' })).status, 201);
        assert.deepEqual(await t.app.files.children(B.uid, 'proj-shallow'), []);
      });

      it('overwrite: Overwrite T replaces (update needed), F gives 412 and changes nothing', async () => {
        await write(B.uid, 'ow.txt', `${MARK} new version`);
        await unchanged('Overwrite F', () => cm(B, 'MOVE', 'ow.txt', 'Team/existing.txt', { Overwrite: 'F' }), 412);
        await unchanged('overwrite without update', () => cm(B, 'MOVE', 'ow.txt', 'NoUp/existing.txt'), 403);
        const r = await cm(B, 'MOVE', 'ow.txt', 'Team/existing.txt', { Overwrite: 'T' });
        assert.equal(r.status, 204);
        assert.equal((await content(A.uid, 'Team/existing.txt')).toString(), `${MARK} new version`);
        assert.equal(await t.app.files.tryStat(B.uid, 'ow.txt'), undefined);
      });

      it('refusals change nothing: read-only share, no delete, no create, the mount itself, unshared places', async () => {
        await write(B.uid, 'keep.txt', `${MARK} stays mine`);
        await t.app.files.mkdir(B.uid, 'keepdir');
        await write(B.uid, 'keepdir/k.txt', 'k');
        for (const m of ['MOVE', 'COPY'] as const) {
          await unchanged(`${m} own→read-only share`, () => cm(B, m, 'keep.txt', 'Ro/keep.txt'), 403);
          await unchanged(`${m} own folder→read-only share`, () => cm(B, m, 'keepdir', 'Ro/keepdir'), 403);
          await unchanged(`${m} onto the mount`, () => cm(B, m, 'keep.txt', 'Team', { Overwrite: 'T' }), 403);
          await unchanged(`${m} into A's unshared tree`, () => req(B, m, dav(B, 'keep.txt'), { Destination: `${t.url}${dav(A, 'stolen.txt')}` }), 403);
        }
        await unchanged('MOVE out of a read-only share', () => cm(B, 'MOVE', 'Ro/existing.txt', 'taken.txt'), 403);
        await unchanged('MOVE out of a share without delete', () => cm(B, 'MOVE', 'NoDel/existing.txt', 'taken.txt'), 403);
        await unchanged('MOVE read-only → writable share', () => cm(B, 'MOVE', 'Ro/existing.txt', 'Team/taken.txt'), 403);
        await unchanged('MOVE of a mount into a folder', () => cm(B, 'MOVE', 'Team', 'keepdir/Team'), 403);
        await unchanged('COPY share → read-only share', () => cm(B, 'COPY', 'Team/existing.txt', 'Ro/new.txt'), 403);
        await unchanged('COPY share → share without update, onto a file', () => cm(B, 'COPY', 'Team/existing.txt', 'NoUp/existing.txt'), 403);
        // create without delete: MOVE in works, MOVE out does not
        assert.equal((await cm(B, 'MOVE', 'keep.txt', 'NoDel/keep.txt')).status, 201);
        assert.equal((await t.app.files.stat(A.uid, 'NoDel/keep.txt')).owner, A.uid);
        // a stranger reaches nothing of it
        assert.equal((await req(D, 'MOVE', `/remote.php/dav/files/${B.uid}/keepdir`, { Destination: `${t.url}${dav(D, 'x')}` })).status, 403);
      });

      it('the receiving owner\'s quota applies: 507 and nothing changed', async () => {
        await t.app.users.setQuota(A.uid, (await t.app.files.quota(A.uid)).used + 1000);
        await write(B.uid, 'huge.bin', pattern(3, 64 * 1024));
        await unchanged('MOVE beyond the sharer\'s quota', () => cm(B, 'MOVE', 'huge.bin', 'Team/huge.bin'), 507);
        await unchanged('COPY beyond the sharer\'s quota', () => cm(B, 'COPY', 'huge.bin', 'Team/huge.bin'), 507);
        const up = `/remote.php/dav/uploads/${B.uid}/up-quota`;
        await unchanged('chunked upload announced beyond the sharer\'s quota', () => req(B, 'MKCOL', up,
          { Destination: `${t.url}${dav(B, 'Team/q.bin')}`, 'OC-Total-Length': String(64 * 1024) }), 507);
        assert.deepEqual(await t.app.uploads.list(B.uid), []);
        // bob's own quota does not matter for what lands in alice's tree
        assert.equal((await cm(B, 'MOVE', 'huge.bin', 'huge2.bin')).status, 201);
        await t.app.users.setQuota(A.uid, null);
      });

      it('locks on both sides: 423 without the token, accepted with it', async () => {
        await write(B.uid, 'locked-src.txt', `${MARK} locked source`);
        const lk = await req(B, 'LOCK', dav(B, 'Team/existing.txt'), { Depth: '0' }, LOCK_BODY);
        assert.equal(lk.status, 200);
        const token = lk.headers.get('lock-token')!;
        await unchanged('MOVE onto a locked file in a share', () => cm(B, 'MOVE', 'locked-src.txt', 'Team/existing.txt'), 423);
        // untagged lists are about the request URI (the source); the destination's token is tagged with its URL
        await unchanged('untagged token of the destination', () => cm(B, 'MOVE', 'locked-src.txt', 'Team/existing.txt', { If: `(${token})` }), 412);
        const ok = await cm(B, 'MOVE', 'locked-src.txt', 'Team/existing.txt', { If: `<${t.url}${dav(B, 'Team/existing.txt')}> (${token})` });
        assert.equal(ok.status, 204, await ok.text());
        assert.equal((await content(A.uid, 'Team/existing.txt')).toString(), `${MARK} locked source`);
        // a locked source in my tree
        await write(B.uid, 'src2.txt', 'x');
        const lk2 = await req(B, 'LOCK', dav(B, 'src2.txt'), { Depth: '0' }, LOCK_BODY);
        const token2 = lk2.headers.get('lock-token')!;
        await unchanged('MOVE of a locked source into a share', () => cm(B, 'MOVE', 'src2.txt', 'Team/src2.txt'), 423);
        assert.equal((await cm(B, 'MOVE', 'src2.txt', 'Team/src2.txt', { If: `(${token2})` })).status, 201);
        assert.equal((await t.app.locks.active(B.uid)).filter((l) => l.path === 'src2.txt').length, 0, 'the moved source\'s lock is gone');
      });

      const chunked = async (id: string, dest: string, parts: Buffer[], headers: Record<string, string> = {}) => {
        const up = `/remote.php/dav/uploads/${B.uid}/${id}`;
        const destination = `${t.url}${dav(B, dest)}`;
        const total = parts.reduce((n, p) => n + p.length, 0);
        assert.equal((await req(B, 'MKCOL', up, { Destination: destination, 'OC-Total-Length': String(total) })).status, 201);
        for (let i = 0; i < parts.length; i++) {
          const r = await req(B, 'PUT', `${up}/${String(i + 1).padStart(5, '0')}`, { Destination: destination, 'OC-Total-Length': String(total) }, parts[i]);
          assert.equal(r.status, 201);
        }
        return () => req(B, 'MOVE', `${up}/.file`, { Destination: destination, 'OC-Total-Length': String(total), ...headers });
      };

      it('chunked upload (v2) into a share lands in the sharer\'s tree; read-only and no-update shares: 403, nothing changed', async () => {
        const parts = [pattern(11, 1024 * 1024), Buffer.from(`${MARK} tail`)];
        const move = await chunked('up-team', 'Team/chunked.bin', parts, { 'X-OC-Mtime': '1700000000' });
        const r = await move();
        assert.equal(r.status, 201, await r.text());
        const node = await t.app.files.stat(A.uid, 'Team/chunked.bin');
        assert.equal(node.mtime, 1700000000);
        assert.deepEqual(await content(A.uid, 'Team/chunked.bin'), Buffer.concat(parts));
        assert.equal(await t.app.files.tryStat(B.uid, 'Team/chunked.bin'), undefined);
        assert.deepEqual(await t.app.uploads.list(B.uid), []);
        await assertSealed(A.uid, 'Team/chunked.bin');

        const ro = await chunked('up-ro', 'Ro/chunked.bin', parts);
        await unchanged('chunked into a read-only share', ro, 403);
        const noUp = await chunked('up-noup', 'NoUp/existing.txt', [Buffer.from('overwrite')]);
        await unchanged('chunked overwrite without update', noUp, 403);
        assert.equal((await req(B, 'DELETE', `/remote.php/dav/uploads/${B.uid}/up-ro`)).status, 204);
        assert.equal((await req(B, 'DELETE', `/remote.php/dav/uploads/${B.uid}/up-noup`)).status, 204);
        // overwrite with update permission
        const again = await chunked('up-team-2', 'Team/chunked.bin', [Buffer.from('second version')]);
        assert.equal((await again()).status, 204);
        assert.equal((await content(A.uid, 'Team/chunked.bin')).toString(), 'second version');
        assert.equal((await t.app.files.stat(A.uid, 'Team/chunked.bin')).fileId, node.fileId);
      });

      it('a MOVE failing half-way (a source blob unreadable) changes nothing and leaves no blob behind', async () => {
        await t.app.files.mkdir(B.uid, 'half');
        await write(B.uid, 'half/1.txt', `${MARK} one`);
        await write(B.uid, 'half/2.txt', `${MARK} two`);
        await write(B.uid, 'half/3.txt', `${MARK} three`);
        const broken = await t.app.files.stat(B.uid, 'half/2.txt');
        await t.app.rawBlobs.delete(broken.blobId!);
        const r = await cm(B, 'MOVE', 'half', 'Team/half');
        assert.ok(r.status >= 400 && r.status < 600 && r.status !== 501, `${r.status}`);
        assert.equal(await t.app.files.tryStat(A.uid, 'Team/half'), undefined);
        for (const f of ['1', '2', '3']) assert.ok(await t.app.files.tryStat(B.uid, `half/${f}.txt`), `half/${f}.txt is still bob's`);
        assert.deepEqual(await unreferencedBlobs(t.app), [], 'the copies written before the failure were removed');
        await t.app.files.delete(B.uid, 'half');
      });

      it('no blob is left behind, and A\'s unshared file was never touched', async () => {
        assert.deepEqual(await unreferencedBlobs(t.app), []);
        assert.equal((await content(A.uid, 'private.txt')).toString(), `${MARK} alice private`);
      });
    });
  }
}
