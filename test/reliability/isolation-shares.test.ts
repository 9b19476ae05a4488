/**
 * Isolation through shares: A (alice) shares folders with B (bob) at permissions
 * 1, 3, 5 and 31 and files at 1 and 3; C (carol) is a stranger. Every WebDAV method B may send
 * through a mount is permitted exactly when the share's permissions say so. A's whole tree (paths +
 * content hashes) is snapshotted around every attempt: a refused attempt (4xx) changes nothing in
 * A's or B's tree, a permitted one changes exactly the expected paths. Escapes (dot segments,
 * encodings, Destination and tagged If headers pointing at A's unshared files), the stranger, the
 * unshare and a read-only public link are covered the same way. COPY/MOVE between a share and B's
 * own files (and chunked uploads into a share) follow Nextcloud: permitted exactly when the share
 * grants it, and then the only change in B's tree is the expected one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ocs, share, SHARES } from '../sharing/helpers.ts';
import { request, sha256 } from './support.ts';
import {
  A, B, C, CREATE, DELETE, FILES, FOLDERS, LOCK_BODY, PROPPATCH, PROPS, READ, SECRET, SHARE, UPDATE,
  ShareIsolation, dav, diff, has, permsOf,
} from './share-isolation-fixture.ts';

describe('isolation through shares', () => {
  const fx = new ShareIsolation();
  before(() => fx.setup());
  after(() => fx.teardown());

  test('PROPFIND: each mount appears in B\'s root with S and only the letters granted', async () => {
    const r = await fx.attempt('propfind', 'PROPFIND', dav(''), { headers: { depth: '1' }, body: PROPS }, []);
    assert.equal(r.status, 207);
    assert.doesNotMatch(r.text, /private|top\.txt|pub\//);
    for (const p of FOLDERS) {
      const root = permsOf(r.text, dav(`S${p}/`));
      assert.ok(root, `mount S${p} missing`);
      assert.match(root, /^S/, root);
      assert.ok(root.includes('M') && root.includes('G'), root);
      assert.equal(/[CK]/.test(root), has(p, CREATE), `S${p} root ${root}`);
      assert.equal(root.includes('R'), has(p, SHARE), `S${p} root ${root}`);
      assert.ok(!root.includes('W'), root);
      const inside = await fx.attempt('propfind', 'PROPFIND', dav(`S${p}/`), { headers: { depth: '1' }, body: PROPS }, []);
      const f = permsOf(inside.text, dav(`S${p}/f.txt`));
      assert.ok(f, `S${p}/f.txt missing`);
      assert.match(f, /^S/);
      assert.equal(f.includes('W'), has(p, UPDATE), `S${p}/f.txt ${f}`);
      assert.equal(f.includes('D'), has(p, DELETE), `S${p}/f.txt ${f}`);
      assert.equal(f.includes('R'), has(p, SHARE), `S${p}/f.txt ${f}`);
      const sub = permsOf(inside.text, dav(`S${p}/sub/`));
      assert.equal(/[CK]/.test(sub ?? ''), has(p, CREATE), `S${p}/sub ${sub}`);
      assert.doesNotMatch(inside.text, /files\/alice/);
    }
    for (const p of FILES) {
      const f = permsOf(r.text, dav(`file${p}.txt`));
      assert.ok(f, `file mount ${p} missing`);
      assert.ok(f.startsWith('S') && f.includes('M') && f.includes('G'), f);
      assert.equal(f.includes('W'), has(p, UPDATE), `file${p} ${f}`);
      assert.ok(!/[CK]/.test(f), f);
    }
  });

  test('folder shares: every method is permitted exactly as the permissions say', async () => {
    for (const p of FOLDERS) {
      const S = `S${p}`;
      const cat = (op: string) => `${op}`;
      const get = await fx.attempt(cat('GET'), 'GET', dav(`${S}/sub/g.txt`), {}, []);
      assert.equal(get.text, `g of ${S}`);
      // create
      await fx.attempt(cat('PUT new'), 'PUT', dav(`${S}/new.txt`), { body: 'new by bob' }, has(p, CREATE) ? [`+${S}/new.txt`] : false);
      if (has(p, CREATE)) assert.equal((await fx.snapA()).get(`${S}/new.txt`), sha256('new by bob'));
      // update
      await fx.attempt(cat('PUT overwrite'), 'PUT', dav(`${S}/f.txt`), { body: 'overwritten by bob' }, has(p, UPDATE) ? [`~${S}/f.txt`] : false);
      await fx.attempt(cat('MKCOL'), 'MKCOL', dav(`${S}/newdir`), {}, has(p, CREATE) ? [`+${S}/newdir/`] : false);
      await fx.attempt(cat('PROPPATCH'), 'PROPPATCH', dav(`${S}/sub/g.txt`), { body: PROPPATCH },
        has(p, UPDATE) ? [] : false);
      await fx.attempt(cat('DELETE inside'), 'DELETE', dav(`${S}/del-me.txt`), {}, has(p, DELETE) ? [`-${S}/del-me.txt`] : false);
      // within the share
      await fx.attempt(cat('COPY within share'), 'COPY', dav(`${S}/sub/g.txt`), { headers: { destination: `${fx.t.url}${dav(`${S}/g-copy.txt`)}` } },
        has(p, CREATE) ? [`+${S}/g-copy.txt`] : false);
      await fx.attempt(cat('MOVE within share'), 'MOVE', dav(`${S}/mv-src.txt`), { headers: { destination: `${fx.t.url}${dav(`${S}/sub/moved.txt`)}` } },
        has(p, CREATE | DELETE) ? [`-${S}/mv-src.txt`, `+${S}/sub/moved.txt`] : false);
      // between the share and B's own tree (as Nextcloud): out of the share COPY needs read, MOVE
      // delete (the content then is B's); into the share create (the content then is A's)
      for (const m of ['COPY', 'MOVE'] as const) {
        const out = m === 'COPY' || has(p, DELETE);
        await fx.attempt(`${m} share→own`, m, dav(`${S}/out.txt`), { headers: { destination: `${fx.t.url}${dav(`bdir/out-${m}-${S}.txt`)}` },
          expectB: [`+bdir/out-${m}-${S}.txt`] }, out ? (m === 'MOVE' ? [`-${S}/out.txt`] : []) : false);
        await fx.attempt(`${m} share→own`, m, dav(`${S}/outdir`), { headers: { destination: `${fx.t.url}${dav(`out-${m}-${S}`)}` },
          expectB: [`+out-${m}-${S}/`, `+out-${m}-${S}/h.txt`] }, out ? (m === 'MOVE' ? [`-${S}/outdir/`, `-${S}/outdir/h.txt`] : []) : false);
        const into = has(p, CREATE);
        const own = m === 'COPY' ? 'mine.txt' : `in-${p}.txt`;
        await fx.attempt(`${m} own→share`, m, dav(own), { headers: { destination: `${fx.t.url}${dav(`${S}/in-${m}.txt`)}` },
          expectB: m === 'MOVE' ? [`-${own}`] : [] }, into ? [`+${S}/in-${m}.txt`] : false);
        await fx.attempt(`${m} own→share`, m, dav(`bfold-${p}`), { headers: { destination: `${fx.t.url}${dav(`${S}/bfold-in-${m}`)}` },
          expectB: m === 'MOVE' ? [`-bfold-${p}/`, `-bfold-${p}/k.txt`] : [] }, into ? [`+${S}/bfold-in-${m}/`, `+${S}/bfold-in-${m}/k.txt`] : false);
        if (into && m === 'MOVE') assert.equal((await fx.snapA()).get(`${S}/in-MOVE.txt`), sha256(`bob into ${S}`));
      }
      // between two shares (both of A here: other owners are covered by test/sharing/cross-owner)
      const other = p === 31 ? 'S5' : 'S31';
      await fx.attempt('COPY share→other share', 'COPY', dav(`${S}/sub/g.txt`), { headers: { destination: `${fx.t.url}${dav(`${other}/xc-${S}.txt`)}` } },
        [`+${other}/xc-${S}.txt`]);
      await fx.attempt('MOVE share→other share', 'MOVE', dav(`${S}/xs-src.txt`), { headers: { destination: `${fx.t.url}${dav(`${other}/xm-${S}.txt`)}` } },
        has(p, DELETE) ? [`-${S}/xs-src.txt`, `+${other}/xm-${S}.txt`] : false);
      // LOCK (update)
      const lock = await fx.attempt(cat('LOCK'), 'LOCK', dav(`${S}/f.txt`), { headers: { depth: '0', timeout: 'Second-60' }, body: LOCK_BODY },
        has(p, UPDATE) ? [] : false);
      if (has(p, UPDATE)) {
        const token = String(lock.headers['lock-token'] ?? '');
        assert.match(token, /^<.+>$/);
        await fx.attempt(cat('UNLOCK'), 'UNLOCK', dav(`${S}/f.txt`), { headers: { 'lock-token': token } }, []);
      }
      // onto an existing file: replacing it (overwrite = delete, then write) needs update and
      // delete on it, for COPY and MOVE alike; MOVE also needs delete on its source
      await fx.attempt(cat('COPY over existing'), 'COPY', dav(`${S}/sub/g.txt`), { headers: { destination: `${fx.t.url}${dav(`${S}/f.txt`)}`, overwrite: 'T' } },
        has(p, UPDATE | DELETE) ? [`~${S}/f.txt`] : false);
      await fx.attempt(cat('MOVE over existing'), 'MOVE', dav(`${S}/ow-src.txt`), { headers: { destination: `${fx.t.url}${dav(`${S}/f.txt`)}`, overwrite: 'T' } },
        has(p, UPDATE | DELETE) ? [`~${S}/f.txt`, `-${S}/ow-src.txt`] : false);
      await fx.attempt(cat('GET'), 'GET', dav(`${S}/f.txt`), {}, []);
    }
  });

  test('chunked upload assembled into a share: never a write the permissions forbid, same answer each time', async () => {
    const up = '/remote.php/dav/uploads/bob';
    const outcomes = new Map<string, number>();
    const statuses = new Set<string>();
    for (const p of FOLDERS) {
      for (const [name, op] of [['chunked-new.bin', CREATE], ['f.txt', UPDATE]] as const) {
        for (const round of [1, 2]) {
          const id = `up-${p}-${name}-${round}`;
          assert.equal((await request(fx.t.url, 'MKCOL', `${up}/${id}`, { as: B })).status, 201);
          assert.ok((await request(fx.t.url, 'PUT', `${up}/${id}/00001`, { as: B, body: `chunk ${p} ${round}` })).status < 300);
          const [a0, b0] = [await fx.snapA(), await fx.snapB()];
          const r = await request(fx.t.url, 'MOVE', `${up}/${id}/.file`, { as: B, headers: { destination: `${fx.t.url}${dav(`S${p}/${name}`)}` } });
          fx.attempts++;
          const [a1, b1] = [await fx.snapA(), await fx.snapB()];
          assert.deepEqual(diff(b0, b1), [], `chunked into S${p}/${name} changed B's own tree`);
          const key = `S${p}/${name}`;
          if (r.status < 300) {
            assert.ok(has(p, op), `chunked MOVE into ${key} succeeded without permission (${p})`);
            assert.deepEqual(diff(a0, a1), [a0.has(key) ? `~${key}` : `+${key}`]);
            assert.equal(a1.get(key), sha256(`chunk ${p} ${round}`));
            fx.bump(fx.permittedBy, 'chunked MOVE');
          } else {
            // refused plainly (403, like a PUT the share does not permit), not as a missing parent (409)
            assert.equal(r.status, 403, `chunked into ${key}: ${r.status} ${r.text}`);
            assert.deepEqual(diff(a0, a1), [], `refused chunked MOVE changed A's tree`);
            fx.bump(fx.refusedBy, 'chunked MOVE');
            await request(fx.t.url, 'DELETE', `${up}/${id}`, { as: B });
          }
          // consistency: same share, same op → same class of answer every round
          statuses.add(`${p}:${name}=${r.status}`);
          const cls = r.status < 300 ? 2 : 4;
          const k = `${p}:${name}`;
          if (outcomes.has(k) && name === 'f.txt') assert.equal(outcomes.get(k), cls, `inconsistent answer for ${k}`);
          outcomes.set(k, cls);
        }
      }
    }
    console.log(`# chunked outcomes: ${[...statuses].join(' ')}`);
  });

  test('chunked upload onto a file share\'s mount: an overwrite, as a PUT (update permission)', async () => {
    const up = '/remote.php/dav/uploads/bob';
    for (const p of FILES) {
      assert.equal((await request(fx.t.url, 'MKCOL', `${up}/up-file-${p}`, { as: B })).status, 201);
      assert.ok((await request(fx.t.url, 'PUT', `${up}/up-file-${p}/00001`, { as: B, body: 'chunked over file' })).status < 300);
      await fx.attempt('chunked MOVE onto file share', 'MOVE', `${up}/up-file-${p}/.file`, { headers: { destination: `${fx.t.url}${dav(`file${p}.txt`)}` } },
        has(p, UPDATE) ? [`~file${p}.txt`] : false);
      if (has(p, UPDATE)) assert.equal((await fx.snapA()).get(`file${p}.txt`), sha256('chunked over file'));
      else await request(fx.t.url, 'DELETE', `${up}/up-file-${p}`, { as: B });
    }
  });

  test('file shares: read always, overwrite and LOCK only with update, never a way out', async () => {
    for (const p of FILES) {
      const F = `file${p}.txt`;
      const g = await fx.attempt('GET', 'GET', dav(F), {}, []);
      assert.equal(g.text, has(p, UPDATE) ? 'chunked over file' : `file share ${p}`); // the chunked test overwrote it
      await fx.attempt('PUT overwrite', 'PUT', dav(F), { body: `bob wrote ${p}` }, has(p, UPDATE) ? [`~${F}`] : false);
      const lock = await fx.attempt('LOCK', 'LOCK', dav(F), { headers: { depth: '0' }, body: LOCK_BODY }, has(p, UPDATE) ? [] : false);
      if (has(p, UPDATE)) await fx.attempt('UNLOCK', 'UNLOCK', dav(F), { headers: { 'lock-token': String(lock.headers['lock-token']) } }, []);
      await fx.attempt('PUT below a file mount', 'PUT', dav(`${F}/child.txt`), { body: 'x' }, false);
      await fx.attempt('MKCOL below a file mount', 'MKCOL', dav(`${F}/d`), {}, false);
      // a copy of the shared file is B's; the mount itself moves only within B's root (a rename)
      // and is never replaced by a COPY/MOVE onto it
      await fx.attempt('COPY share→own', 'COPY', dav(F), { headers: { destination: `${fx.t.url}${dav(`bdir/${F}`)}` }, expectB: [`+bdir/${F}`] }, []);
      await fx.attempt('MOVE share→own', 'MOVE', dav(F), { headers: { destination: `${fx.t.url}${dav(`bdir/moved-${F}`)}` } }, false);
      await fx.attempt('COPY own→share', 'COPY', dav('mine.txt'), { headers: { destination: `${fx.t.url}${dav(F)}`, overwrite: 'T' } }, false);
      await fx.attempt('MOVE own→share', 'MOVE', dav('mine.txt'), { headers: { destination: `${fx.t.url}${dav(F)}`, overwrite: 'T' } }, false);
      await fx.attempt('COPY share→other share', 'COPY', dav(F), { headers: { destination: `${fx.t.url}${dav(`S31/${F}`)}` } }, [`+S31/${F}`]);
    }
  });

  const escapes = (leaf: string) => [
    `S31/../../alice/private/${leaf}`,
    `S31/..%2f..%2falice%2fprivate%2f${leaf}`,
    `S31/%2e%2e/private/${leaf}`,
    `S31/../private/${leaf}`,
    `S31/%2e%2e%2fprivate%2f${leaf}`,
    `S31/%2E%2E/%2E%2E/alice/private/${leaf}`,
    `S31/sub/%2e%2e/%2e%2e/private/${leaf}`,
    `S31/sub/../../../alice/private/${leaf}`,
    `S31/%252e%252e/private/${leaf}`,
    `S31/.%2e/private/${leaf}`,
    `S31\\..\\private\\${leaf}`,
    `S31/./../private/${leaf}`,
    `Shared/../../alice/private/${leaf}`,
    `file3.txt/../private/${leaf}`,
    `file3.txt/%2e%2e/%2e%2e/alice/private/${leaf}`,
    `S1/../private/${leaf}`,
    `S1/%2e%2e/top.txt`,
  ].map((p) => `/remote.php/dav/files/bob/${p}`);

  test('escapes: dot segments and encodings never climb above a mount into A\'s other folders', async () => {
    for (const path of escapes('secret.txt')) {
      for (const [m, headers, body] of [
        ['GET', {}, undefined], ['PROPFIND', { depth: '1' }, PROPS], ['PUT', {}, 'overwritten'], ['DELETE', {}, undefined],
        ['PROPPATCH', {}, PROPPATCH], ['LOCK', { depth: '0' }, LOCK_BODY],
        ['COPY', { destination: `${fx.t.url}${dav('stolen.txt')}` }, undefined], ['MOVE', { destination: `${fx.t.url}${dav('stolen.txt')}` }, undefined],
        ['COPY', { destination: `${fx.t.url}${dav('S31/stolen.txt')}` }, undefined], ['MOVE', { destination: `${fx.t.url}${dav('S31/stolen.txt')}` }, undefined],
      ] as [string, Record<string, string>, string | undefined][]) {
        await fx.attempt(`escape ${m}`, m, path, { headers, body }, false);
      }
    }
    // folder spellings (PROPFIND listing, MKCOL below)
    for (const path of escapes('').map((x) => x.replace(/\/$/, ''))) {
      await fx.attempt('escape PROPFIND folder', 'PROPFIND', path, { headers: { depth: '1' }, body: PROPS }, false);
      await fx.attempt('escape MKCOL', 'MKCOL', `${path}/newdir`, {}, false);
    }
  });

  test('Destination headers pointing into A\'s unshared folders are refused', async () => {
    const dests = [
      '/remote.php/dav/files/alice/private/x.txt',
      '/remote.php/dav/files/alice/x.txt',
      ...escapes('x.txt'),
      '/remote.php/webdav/S31/../../alice/private/x.txt',
    ];
    for (const d of dests) {
      for (const dest of [`${fx.t.url}${d}`, d]) {
        for (const m of ['COPY', 'MOVE']) {
          for (const src of [dav('S31/f.txt'), dav('S31/sub'), dav('S1/f.txt'), dav('file3.txt'), dav('mine.txt')]) {
            await fx.attempt(`Destination into A ${m}`, m, src, { headers: { destination: dest, overwrite: 'T' } }, false);
          }
        }
      }
    }
  });

  test('tagged If headers naming A\'s tree give B nothing', async () => {
    const lock = await request(fx.t.url, 'LOCK', '/remote.php/dav/files/alice/private/secret.txt', { as: A, headers: { depth: '0' }, body: LOCK_BODY });
    assert.equal(lock.status, 200);
    const token = String(lock.headers['lock-token']).replace(/^<|>$/g, '');
    const aliceUrl = `${fx.t.url}/remote.php/dav/files/alice/private/secret.txt`;
    const tagged = `<${aliceUrl}> (<${token}>)`;
    await fx.attempt('If: A\'s token on A\'s file', 'PUT', '/remote.php/dav/files/alice/private/secret.txt', { headers: { if: `(<${token}>)` }, body: 'x' }, false);
    await fx.attempt('If: A\'s token on A\'s file', 'DELETE', '/remote.php/dav/files/alice/private/secret.txt', { headers: { if: tagged } }, false);
    await fx.attempt('If: A\'s token on A\'s file', 'UNLOCK', '/remote.php/dav/files/alice/private/secret.txt', { headers: { 'lock-token': `<${token}>` } }, false);
    await fx.attempt('If: A\'s token on A\'s file', 'UNLOCK', dav('S31/../../alice/private/secret.txt'), { headers: { 'lock-token': `<${token}>` } }, false);
    await fx.attempt('If tagged at A on read-only share', 'PUT', dav('S1/f.txt'), { headers: { if: tagged }, body: 'x' }, false);
    await fx.attempt('If tagged at A on read-only share', 'DELETE', dav('S3/sub/g.txt'), { headers: { if: tagged } }, false);
    for (const src of [dav('S31/f.txt'), dav('mine.txt')]) {
      await fx.attempt('If tagged + Destination into A', 'MOVE', src, { headers: { if: tagged, destination: aliceUrl, overwrite: 'T' } }, false);
      await fx.attempt('If tagged + Destination into A', 'COPY', src, { headers: { if: tagged, destination: aliceUrl, overwrite: 'T' } }, false);
    }
    // A write B is allowed to make, with a tagged If naming A's file: either refused (412) or
    // evaluated without reaching A's file; never a change outside the share.
    const [a0] = [await fx.snapA()];
    const r = await request(fx.t.url, 'PUT', dav('S31/if-test.txt'), { as: B, headers: { if: tagged }, body: 'if' });
    fx.attempts++;
    fx.noLeak(r, 'PUT with tagged If');
    assert.ok(r.status === 412 || r.status === 201 || r.status === 423 || r.status === 403, `PUT with tagged If → ${r.status}`);
    assert.deepEqual(diff(a0, await fx.snapA()), r.status === 201 ? ['+S31/if-test.txt'] : []);
    fx.ifTestCreated = r.status === 201;
    // A's lock survives all of it
    assert.ok((await fx.t.app.locks.active('alice')).some((l) => JSON.stringify(l).includes(token)), 'A\'s lock was removed by B');
    assert.equal((await request(fx.t.url, 'UNLOCK', '/remote.php/dav/files/alice/private/secret.txt', { as: A, headers: { 'lock-token': `<${token}>` } })).status, 204);
  });

  test('C, a stranger, sees nothing of A\'s tree nor of B\'s shares', async () => {
    const root = await fx.attempt('stranger', 'PROPFIND', '/remote.php/dav/files/carol/', { as: C, headers: { depth: '1' }, body: PROPS }, []);
    assert.doesNotMatch(root.text, /S31|S1\/|file\d\.txt|alice|private/);
    for (const p of ['S31/f.txt', 'S1/f.txt', 'file1.txt', 'S31']) {
      await fx.attempt('stranger', 'GET', `/remote.php/dav/files/carol/${p}`, { as: C }, false);
      await fx.attempt('stranger', 'GET', `/remote.php/dav/files/bob/${p}`, { as: C }, false);
      await fx.attempt('stranger', 'PROPFIND', `/remote.php/dav/files/bob/${p}`, { as: C, headers: { depth: '1' }, body: PROPS }, false);
      await fx.attempt('stranger', 'PUT', `/remote.php/dav/files/bob/${p}/x.txt`, { as: C, body: 'x' }, false);
      await fx.attempt('stranger', 'DELETE', `/remote.php/dav/files/bob/${p}`, { as: C }, false);
      await fx.attempt('stranger', 'GET', `/remote.php/dav/files/carol/../alice/${p}`, { as: C }, false);
    }
    const mine = await ocs(fx.t, C, 'GET', `${SHARES}?shared_with_me=true`);
    assert.deepEqual(mine.data, []);
    const listed = await ocs(fx.t, C, 'GET', SHARES);
    assert.deepEqual(listed.data, []);
    for (const id of Object.values(fx.shareIds)) {
      fx.attempts += 4;
      assert.ok((await ocs(fx.t, C, 'GET', `${SHARES}/${id}`)).http >= 400);
      assert.ok((await ocs(fx.t, C, 'PUT', `${SHARES}/${id}`, { form: { permissions: 31 } })).http >= 400);
      assert.ok((await ocs(fx.t, C, 'DELETE', `${SHARES}/${id}`)).http >= 400);
      // the recipient cannot raise its own permissions either
      const raised = await ocs(fx.t, B, 'PUT', `${SHARES}/${id}`, { form: { permissions: 31 } });
      assert.ok(raised.http >= 400, `B raised share ${id}: ${raised.http}`);
      fx.bump(fx.refusedBy, 'stranger/recipient OCS');
    }
    const still = await ocs(fx.t, A, 'GET', SHARES);
    assert.equal(still.data.length, Object.keys(fx.shareIds).length);
    for (const s of still.data) assert.equal(s.permissions, FOLDERS.find((p) => `/S${p}` === s.path) ?? FILES.find((p) => `/file${p}.txt` === s.path));
  });

  test('public link (read-only): no writes through /public.php/webdav, no way out of the folder', async () => {
    const link = await share(fx.t, A, { path: '/pub', shareType: 3, permissions: READ });
    const auth = { authorization: 'Basic ' + Buffer.from(`${link.token}:`).toString('base64') };
    const pub = (p: string) => `/public.php/webdav/${p}`;
    const g = await fx.attempt('public GET', 'GET', pub('p.txt'), { as: null, headers: auth }, []);
    assert.equal(g.text, 'public');
    const P = { as: null };
    for (const [m, path, headers, body] of [
      ['PUT', 'new.txt', {}, 'x'], ['PUT', 'p.txt', {}, 'x'], ['DELETE', 'p.txt', {}, undefined], ['MKCOL', 'd', {}, undefined],
      ['PROPPATCH', 'p.txt', {}, PROPPATCH], ['LOCK', 'p.txt', { depth: '0' }, LOCK_BODY],
      ['COPY', 'p.txt', { destination: `${fx.t.url}${pub('c.txt')}` }, undefined], ['MOVE', 'p.txt', { destination: `${fx.t.url}${pub('c.txt')}` }, undefined],
      ['COPY', 'p.txt', { destination: `${fx.t.url}${pub('../private/c.txt')}` }, undefined],
      ['MOVE', 'p.txt', { destination: `${fx.t.url}/remote.php/dav/files/alice/private/c.txt` }, undefined],
      ['DELETE', '', {}, undefined],
    ] as [string, string, Record<string, string>, string | undefined][]) {
      await fx.attempt(`public ${m}`, m, pub(path), { ...P, headers: { ...auth, ...headers }, body }, false);
    }
    for (const path of ['../private/secret.txt', '%2e%2e/private/secret.txt', '..%2fprivate%2fsecret.txt', '%2e%2e/top.txt',
      '../../remote.php/dav/files/alice/private/secret.txt', 'x/../../private/secret.txt', '%252e%252e/private/secret.txt']) {
      for (const [m, headers, body] of [['GET', {}, undefined], ['PROPFIND', { depth: '1' }, PROPS], ['PUT', {}, 'x'], ['DELETE', {}, undefined]] as
        [string, Record<string, string>, string | undefined][]) {
        await fx.attempt(`public escape ${m}`, m, pub(path), { ...P, headers: { ...auth, ...headers }, body }, false);
      }
    }
    const list = await fx.attempt('public PROPFIND', 'PROPFIND', pub(''), { ...P, headers: { ...auth, depth: '1' }, body: PROPS }, []);
    assert.doesNotMatch(list.text, /private|top\.txt|S31/);
  });

  test('after unshare B gets 404 on the old mounts and A\'s tree is unchanged', async () => {
    const a0 = await fx.snapA();
    for (const [name, id] of Object.entries(fx.shareIds)) {
      assert.equal((await ocs(fx.t, A, 'DELETE', `${SHARES}/${id}`)).http, 200, `unshare ${name}`);
    }
    const root = await fx.attempt('after unshare', 'PROPFIND', dav(''), { headers: { depth: '1' }, body: PROPS }, []);
    assert.doesNotMatch(root.text, /files\/bob\/(S\d+\/|file\d\.txt)/);
    for (const name of Object.keys(fx.shareIds)) {
      const g = await fx.attempt('after unshare', 'GET', dav(name.startsWith('S') ? `${name}/f.txt` : name), {}, false);
      assert.equal(g.status, 404);
      const pf = await fx.attempt('after unshare', 'PROPFIND', dav(name), { headers: { depth: '0' }, body: PROPS }, false);
      assert.equal(pf.status, 404);
      await fx.attempt('after unshare', 'PUT', dav(`${name}/x.txt`), { body: 'x' }, false);
      await fx.attempt('after unshare', 'DELETE', dav(name), {}, false);
      // (LOCK on the bare old name would be a lock-null resource in B's own tree: legitimate)
      await fx.attempt('after unshare', 'LOCK', dav(`${name}/x.txt`), { headers: { depth: '0' }, body: LOCK_BODY }, false);
    }
    assert.deepEqual(diff(a0, await fx.snapA()), []);
    // Net effect of the whole run on A's tree, from the first snapshot: exactly the permitted writes.
    assert.deepEqual(diff(fx.initialA, a0), [
      '~S3/f.txt', '~file3.txt',
      '+S5/new.txt', '+S5/newdir/', '+S5/g-copy.txt',
      '+S31/new.txt', '~S31/f.txt', '+S31/newdir/', '-S31/del-me.txt', '+S31/g-copy.txt', '-S31/mv-src.txt', '+S31/sub/moved.txt', '-S31/ow-src.txt',
      // COPY/MOVE between the shares and B's own files, and between two shares
      '-S31/out.txt', '-S31/outdir/', '-S31/outdir/h.txt',
      '+S31/xc-S1.txt', '+S31/xc-S3.txt', '+S31/xc-S5.txt', '+S5/xc-S31.txt', '-S31/xs-src.txt', '+S5/xm-S31.txt',
      ...['S5', 'S31'].flatMap((S) => ['COPY', 'MOVE'].flatMap((m) => [`+${S}/in-${m}.txt`, `+${S}/bfold-in-${m}/`, `+${S}/bfold-in-${m}/k.txt`])),
      '+S31/file1.txt', '+S31/file3.txt',
      // chunked uploads assembled into the shares that grant create
      '+S5/chunked-new.bin', '+S31/chunked-new.bin',
      ...(fx.ifTestCreated ? ['+S31/if-test.txt'] : []),
    ].sort());
    // Net effect on A's tree: exactly what B was allowed to do (S3/S5/S31 + file3.txt), nothing in private/, top.txt, S1, file1.txt.
    assert.equal(a0.get('private/secret.txt'), sha256(SECRET));
    assert.equal(a0.get('top.txt'), sha256(SECRET + '-top'));
    assert.equal(a0.get('S1/f.txt'), sha256('f of S1'));
    assert.equal(a0.get('file1.txt'), sha256('file share 1'));
    assert.deepEqual([...a0.keys()].filter((k) => k.startsWith('S1/')).sort(),
      ['S1/', 'S1/del-me.txt', 'S1/f.txt', 'S1/mv-src.txt', 'S1/out.txt', 'S1/outdir/', 'S1/outdir/h.txt', 'S1/ow-src.txt', 'S1/sub/', 'S1/sub/g.txt', 'S1/xs-src.txt']);
  });
});
