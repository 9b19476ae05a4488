/**
 * Isolation matrix: user B never reads, lists, writes, copies or moves into or out of user A's
 * tree, whatever the method or the spelling of the path (raw, encoded, double-encoded, case,
 * dot segments, /remote.php/webdav, /remote.php/dav/files/<other>), chunked uploads included, nor
 * edits A through OCS. Every attempt answers 4xx (never 2xx/3xx/5xx) and A's tree (names and
 * content hashes), locks and uploads are unchanged.
 * Shares: the matrix "B reaches A's files only through a share, within its permissions" (folder
 * shares 1/3/5/31, file shares, escapes above a mount, stranger, unshare, public link) lives in
 * isolation-shares.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { request, snapshotTree, type Resp } from './support.ts';
import { userActor } from '../../src/actor.ts';

const A = { uid: 'alice', password: 'alice-password-1' };
const B = { uid: 'bob', password: 'bob-password-12' };
const SECRET = 'ALICE-SECRET-CONTENT-7f3a';

/** Spellings of a path in A's tree, as B might send it. `p` is A-relative (may be ''). */
function aliceForms(p: string): string[] {
  const e = p.split('/').map(encodeURIComponent).join('/');
  return [
    `/remote.php/dav/files/alice/${e}`,
    `/remote.php/dav/files/%61lice/${e}`,
    `/remote.php/dav/files/%2561lice/${e}`,
    `/remote.php/dav/files/ALICE/${e}`,
    `/remote.php/dav/files/alice%2F${e}`,
    `/remote.php/dav/files/bob/../alice/${e}`,
    `/remote.php/dav/files/bob/%2e%2e/alice/${e}`,
    `/remote.php/dav/files/bob/%2E%2E%2Falice%2F${e}`,
    `/remote.php/dav/files/bob/..%2falice/${e}`,
    `/remote.php/webdav/../dav/files/alice/${e}`,
    `/remote.php/webdav/%2e%2e/%2e%2e/dav/files/alice/${e}`,
    `//remote.php/dav/files/alice/${e}`,
    `/remote.php/dav/files//alice/${e}`,
    `/remote.php/dav/files/alice\\${e}`,
    `/remote.php/dav/files/alice%00/${e}`,
  ];
}

describe('isolation between users', () => {
  let t: TestInstance;
  let snapA: Map<string, string>;
  let snapB: Map<string, string>;
  let attempts = 0;
  let aliceUpload = '';

  before(async () => {
    t = await startTestInstance();
    await t.addUser(A.uid, A.password);
    await t.addUser(B.uid, B.password);
    const f = t.app.files;
    await f.ensureHome('alice');
    await f.ensureHome('bob');
    await f.writeFile(userActor('alice', 'password'), 'alice', 'secret.txt', Readable.from([Buffer.from(SECRET)]), {});
    await f.mkdir('alice', 'dir');
    await f.writeFile(userActor('alice', 'password'), 'alice', 'dir/inner.txt', Readable.from([Buffer.from(SECRET + '-inner')]), {});
    await f.writeFile(userActor('bob', 'password'), 'bob', 'mine.txt', Readable.from([Buffer.from('bob content')]), {});
    await f.mkdir('bob', 'bdir');
    aliceUpload = 'alice-upload-1';
    await t.app.uploads.create('alice', aliceUpload, {});
    await t.app.uploads.putChunk(userActor('alice', 'password'), 'alice', aliceUpload, '00001', Readable.from([Buffer.from(SECRET + '-chunk')]));
    snapA = await snapshotTree(t.app, 'alice');
    snapB = await snapshotTree(t.app, 'bob');
  });
  after(async () => {
    console.log(`# isolation attempts: ${attempts}`);
    await t.stop();
  });

  const refused = (r: Resp, what: string) => {
    attempts++;
    assert.ok(r.status >= 400 && r.status < 500, `${what} → ${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(!r.text.includes(SECRET), `${what} leaked A's content`);
    assert.ok(!/secret\.txt|inner\.txt/.test(r.text), `${what} leaked A's names`);
  };
  const aliceUnchanged = async () => {
    assert.deepEqual(await snapshotTree(t.app, 'alice'), snapA);
    assert.deepEqual(await t.app.locks.active('alice'), []);
    assert.deepEqual((await t.app.uploads.list('alice')).map((u) => u.uploadId), [aliceUpload]);
    assert.equal((await t.app.uploads.chunks('alice', aliceUpload)).length, 1);
  };

  const lockBody = '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>';
  const propfind = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>';
  const proppatch = '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:evil>1</x:evil></d:prop></d:set></d:propertyupdate>';

  test('every method on every spelling of A\'s paths is refused', async () => {
    for (const p of ['secret.txt', 'dir', 'dir/inner.txt', '', 'newfile.txt']) {
      for (const path of aliceForms(p)) {
        const cases: [string, Record<string, string>, string | undefined][] = [
          ['GET', {}, undefined], ['HEAD', {}, undefined], ['PUT', {}, 'overwritten by bob'],
          ['PROPFIND', { depth: '1' }, propfind], ['PROPFIND', { depth: 'infinity' }, ''], ['PROPPATCH', {}, proppatch],
          ['MKCOL', {}, undefined], ['DELETE', {}, undefined], ['LOCK', { depth: '0' }, lockBody],
          ['UNLOCK', { 'lock-token': '<urn:uuid:00000000-0000-0000-0000-000000000000>' }, undefined],
          ['COPY', { destination: `${t.url}/remote.php/dav/files/bob/stolen-${attempts}` }, undefined],
          ['MOVE', { destination: `${t.url}/remote.php/dav/files/bob/stolen-${attempts}` }, undefined],
          ['PATCH', {}, 'x'], ['POST', {}, 'x'],
        ];
        for (const [method, headers, body] of cases) {
          const r = await request(t.url, method, path, { as: B, headers, body }).catch((e: Error) => ({ status: 499, text: e.message, body: Buffer.alloc(0), headers: {} }) as Resp);
          if (method === 'HEAD' && r.status === 499) { attempts++; continue; } // connection closed: refused too
          refused(r, `${method} ${path}`);
        }
      }
    }
    await aliceUnchanged();
    assert.deepEqual(await snapshotTree(t.app, 'bob'), snapB);
  });

  test('COPY/MOVE from B\'s tree with a Destination in A\'s tree (every spelling) is refused', async () => {
    for (const p of ['secret.txt', 'dir/new.txt', 'newfile.txt', 'dir']) {
      for (const form of aliceForms(p)) {
        for (const dest of [`${t.url}${form}`, form, `http://127.0.0.1:1${form}`]) {
          for (const method of ['COPY', 'MOVE']) {
            for (const src of ['/remote.php/dav/files/bob/mine.txt', '/remote.php/webdav/bdir']) {
              const r = await request(t.url, method, src, { as: B, headers: { destination: dest, overwrite: 'T' } });
              if (r.status < 300) assert.fail(`${method} ${src} → ${dest}: ${r.status}`);
              attempts++;
              assert.ok(r.status < 500 || r.status === 502, `${method} → ${dest}: ${r.status}`);
            }
          }
        }
      }
    }
    await aliceUnchanged();
    assert.deepEqual(await snapshotTree(t.app, 'bob'), snapB);
  });

  test('chunked uploads: B cannot use A\'s upload area nor assemble into A\'s tree', async () => {
    const up = '/remote.php/dav/uploads';
    for (const form of [`${up}/alice/${aliceUpload}`, `${up}/%61lice/${aliceUpload}`, `${up}/bob/../alice/${aliceUpload}`, `${up}/alice/new-one`, `${up}/alice`]) {
      for (const [method, body, headers] of [['PROPFIND', '', { depth: '1' }], ['MKCOL', undefined, {}], ['PUT', 'x', {}], ['DELETE', undefined, {}],
        ['MOVE', undefined, { destination: `${t.url}/remote.php/dav/files/bob/x.bin` }]] as [string, string | undefined, Record<string, string>][]) {
        for (const p of [form, `${form}/00001`, `${form}/.file`]) {
          refused(await request(t.url, method, p, { as: B, body, headers }), `${method} ${p}`);
        }
      }
    }
    // B's own upload, assembled into A's tree
    assert.equal((await request(t.url, 'MKCOL', `${up}/bob/b-up`, { as: B })).status, 201);
    assert.ok((await request(t.url, 'PUT', `${up}/bob/b-up/00001`, { as: B, body: 'bob chunk' })).status < 300);
    for (const form of aliceForms('secret.txt').concat(aliceForms('assembled.bin'))) {
      const r = await request(t.url, 'MOVE', `${up}/bob/b-up/.file`, { as: B, headers: { destination: `${t.url}${form}` } });
      assert.ok(r.status >= 400 && r.status < 500 || r.status === 502, `assemble into ${form}: ${r.status}`);
      attempts++;
    }
    await aliceUnchanged();
  });

  test('OCS: B cannot edit, disable, delete or read A\'s account details', async () => {
    const ocs = { 'ocs-apirequest': 'true', 'content-type': 'application/x-www-form-urlencoded' };
    for (const uidForm of ['alice', '%61lice', 'ALICE']) {
      for (const [method, suffix, body] of [
        ['PUT', '', 'key=password&value=hijacked-password-1'], ['PUT', '', 'key=email&value=evil@example.com'],
        ['PUT', '', 'key=displayname&value=pwned'], ['PUT', '', 'key=quota&value=1'], ['PUT', '/disable', ''], ['DELETE', '', ''],
      ] as [string, string, string][]) {
        const r = await request(t.url, method, `/ocs/v2.php/cloud/users/${uidForm}${suffix}?format=json`, { as: B, headers: ocs, body });
        attempts++;
        assert.ok(r.status >= 400 && r.status < 500, `${method} cloud/users/${uidForm}${suffix} → ${r.status} ${r.text}`);
      }
    }
    const u = await t.app.users.get('alice');
    assert.equal(u.enabled, true);
    assert.notEqual(u.displayName, 'pwned');
    assert.notEqual(u.quota, 1);
    // A's password still works
    assert.equal((await request(t.url, 'PROPFIND', '/remote.php/dav/files/alice/', { as: A, headers: { depth: '0' } })).status, 207);
    await aliceUnchanged();
  });

  test('web API (browser session): B cannot list, download, upload, rename or delete in A\'s tree', async () => {
    const { token, csrfToken } = await t.app.sessions.create('bob', {});
    const headers = { cookie: `coffer_session=${token}`, requesttoken: csrfToken };
    const paths = ['../alice', '../alice/secret.txt', '..%2Falice%2Fsecret.txt', '/../alice/secret.txt', 'alice/secret.txt', '%2e%2e/alice/secret.txt', '../../alice/dir'];
    for (const p of paths) {
      const q = `path=${p.includes('%') ? p : encodeURIComponent(p)}`;
      for (const [m, route, body] of [['GET', 'files', undefined], ['GET', 'files/download', undefined], ['PUT', 'files/upload', 'owned'],
        ['DELETE', 'files', undefined], ['POST', 'files/mkdir', undefined]] as [string, string, string | undefined][]) {
        const r = await request(t.url, m, `/web/api/${route}?${q}`, { headers, body });
        attempts++;
        assert.ok(!r.text.includes(SECRET), `${m} ${route}?${q} leaked content`);
        assert.ok(r.status >= 400 || (m === 'GET' && route === 'files' && !/secret\.txt|inner\.txt/.test(r.text)), `${m} ${route}?${q} → ${r.status} ${r.text.slice(0, 200)}`);
        assert.ok(r.status < 500, `${m} ${route}?${q} → ${r.status}`);
      }
    }
    await aliceUnchanged();
  });
});
