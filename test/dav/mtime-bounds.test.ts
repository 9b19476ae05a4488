/**
 * Modification times are bounded (0 … 9999-12-31T23:59:59Z) on every path that takes one:
 * X-OC-Mtime on PUT, MKCOL and the chunked upload's final MOVE, PROPPATCH getlastmodified, the web
 * API's upload and chunked finish. A bad value is a clear 4xx and changes nothing; rows stored
 * before the bound render as valid dates in listings and zips.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { userActor } from '../../src/actor.ts';

const DAV = '/remote.php/dav/files/admin';
const TOO_LATE = '99999999999999'; // year ~3.17 million: "Invalid Date" once rendered
const BAD = [TOO_LATE, '1e20', '-5', 'abc', '253402300800', 'Infinity'];

describe('mtime bounds on every path', () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance();
    await t.app.files.ensureHome(ADMIN.uid);
    await t.app.files.writeFile(userActor(ADMIN.uid, 'password'), ADMIN.uid, 'kept.txt', Readable.from([Buffer.from('original')]), { mtime: 1_600_000_000 });
  });
  after(async () => { await t?.stop(); });

  const mtimeOf = async (path: string) => (await t.app.files.stat(ADMIN.uid, path)).mtime;

  it('PUT with a bad X-OC-Mtime is a 400 and neither creates nor overwrites', async () => {
    for (const v of BAD) {
      const r = await t.fetch(`${DAV}/new.txt`, { method: 'PUT', body: 'x', headers: { 'X-OC-Mtime': v } });
      assert.equal(r.status, 400, `${v}: ${r.status}`);
      assert.match(await r.text(), /X-OC-Mtime/);
      assert.equal(await t.app.files.tryStat(ADMIN.uid, 'new.txt'), undefined);
      assert.equal((await t.fetch(`${DAV}/kept.txt`, { method: 'PUT', body: 'changed', headers: { 'X-OC-Mtime': v } })).status, 400);
    }
    assert.equal(await (await t.fetch(`${DAV}/kept.txt`)).text(), 'original');
    assert.equal(await mtimeOf('kept.txt'), 1_600_000_000);
    const ok = await t.fetch(`${DAV}/new.txt`, { method: 'PUT', body: 'x', headers: { 'X-OC-Mtime': '253402300799.5' } });
    assert.equal(ok.status, 201, 'the last second of 9999 is fine');
    assert.equal(await mtimeOf('new.txt'), 253_402_300_799);
  });

  it('MKCOL with a bad X-OC-Mtime is a 400 and creates nothing', async () => {
    const r = await t.fetch(`${DAV}/folder`, { method: 'MKCOL', headers: { 'X-OC-Mtime': TOO_LATE } });
    assert.equal(r.status, 400);
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'folder'), undefined);
  });

  it('PROPPATCH getlastmodified out of bounds fails (409 in the multistatus) and changes nothing', async () => {
    for (const v of [TOO_LATE, 'Sat, 01 Jan 10000 00:00:00 GMT', '+275760-09-13T00:00:00Z', 'not a date']) {
      const r = await t.fetch(`${DAV}/kept.txt`, {
        method: 'PROPPATCH', headers: { 'Content-Type': 'application/xml' },
        body: `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><d:getlastmodified>${v}</d:getlastmodified><x:other>1</x:other></d:prop></d:set></d:propertyupdate>`,
      });
      assert.equal(r.status, 207);
      const body = await r.text();
      assert.match(body, /409/, `${v}: ${body}`);
      assert.equal(await mtimeOf('kept.txt'), 1_600_000_000, v);
    }
  });

  it('a chunked upload\'s MOVE with a bad X-OC-Mtime is a 400; the upload stays and nothing is written', async () => {
    const up = '/remote.php/dav/uploads/admin/u1';
    assert.equal((await t.fetch(up, { method: 'MKCOL' })).status, 201);
    assert.equal((await t.fetch(`${up}/00001`, { method: 'PUT', body: 'chunk' })).status, 201);
    const r = await t.fetch(`${up}/.file`, { method: 'MOVE', headers: { Destination: `${t.url}${DAV}/assembled.txt`, 'X-OC-Mtime': TOO_LATE } });
    assert.equal(r.status, 400);
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'assembled.txt'), undefined);
    const again = await t.fetch(`${up}/.file`, { method: 'MOVE', headers: { Destination: `${t.url}${DAV}/assembled.txt`, 'X-OC-Mtime': '1700000000' } });
    assert.equal(again.status, 201, 'the upload is still there to finish');
    assert.equal(await mtimeOf('assembled.txt'), 1_700_000_000);
  });

  it('the web API refuses a bad mtime with 400 (upload and chunked finish) and writes nothing', async () => {
    const s = await t.app.sessions.create(ADMIN.uid, {});
    const headers = { cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken };
    const api = (method: string, route: string, body?: string, extra: Record<string, string> = {}) =>
      fetch(`${t.url}/web/api/${route}`, { method, headers: { ...headers, ...extra }, body });
    for (const v of ['1e16', '-1', 'soon']) {
      const r = await api('PUT', `files/upload?path=web.txt&mtime=${encodeURIComponent(v)}`, 'web');
      assert.equal(r.status, 400, `${v}: ${await r.text()}`);
    }
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'web.txt'), undefined);
    let r = await api('POST', 'files/chunked', JSON.stringify({ path: 'webchunk.txt', size: 3 }), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 201);
    const { id } = await r.json() as { id: string };
    assert.equal((await api('PUT', `files/chunked/${id}/1?offset=0`, 'abc')).status, 201);
    r = await api('POST', `files/chunked/${id}/finish`, JSON.stringify({ path: 'webchunk.txt', mtime: 1e16 }), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 400, await r.text());
    assert.equal(await t.app.files.tryStat(ADMIN.uid, 'webchunk.txt'), undefined);
    r = await api('POST', `files/chunked/${id}/finish`, JSON.stringify({ path: 'webchunk.txt', mtime: 1_650_000_000 }), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 201, await r.text());
    assert.equal(await mtimeOf('webchunk.txt'), 1_650_000_000);
  });

  it('a row stored before the bound renders a valid date in PROPFIND and a valid zip', async () => {
    await t.app.files.mkdir(ADMIN.uid, 'old');
    await t.app.files.writeFile(userActor(ADMIN.uid, 'password'), ADMIN.uid, 'old/future.txt', Readable.from([Buffer.from('f')]));
    await t.app.db.updateTable('nodes').set({ mtime: 99_999_999_999_999 }).where('owner', '=', ADMIN.uid).where('path', '=', 'old/future.txt').execute();
    const pf = await t.fetch(`${DAV}/old/future.txt`, {
      method: 'PROPFIND', headers: { Depth: '0', 'Content-Type': 'application/xml' },
      body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getlastmodified/></d:prop></d:propfind>',
    });
    const body = await pf.text();
    assert.doesNotMatch(body, /Invalid Date/);
    assert.match(body, /Fri, 31 Dec 9999 23:59:59 GMT/);
    const link = await (await t.fetch('/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json', {
      method: 'POST', headers: { 'OCS-APIREQUEST': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'path=/old&shareType=3',
    })).json() as any;
    const dl = await fetch(`${t.url}/s/${link.ocs.data.token}/download`);
    assert.equal(dl.status, 200);
    const zip = join(t.dir, 'old.zip');
    writeFileSync(zip, Buffer.from(await dl.arrayBuffer()));
    execFileSync('unzip', ['-tq', zip]);
    assert.match(execFileSync('unzip', ['-l', zip], { encoding: 'utf8' }), /2107/);
  });
});
