/**
 * A file drop link (create without read) must not tell which names exist in the folder: an upload
 * to an existing name is stored as `name (2).ext` (as Nextcloud does) with the same 201 as a new
 * name, nested paths land in the drop folder, conditional headers and MKCOL answer the same
 * whatever exists, and nothing that was there is changed.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, put, seed, share } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const basic = (user: string) => 'Basic ' + Buffer.from(`${user}:`).toString('base64');

async function read(t: TestInstance, path: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of (await t.app.files.openRead(userActor(ALICE.uid, 'password'), ALICE.uid, path)).stream as Readable) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

describe('file drop links reveal nothing about existing names', () => {
  let t: TestInstance;
  let token: string;
  const dav = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${t.url}/public.php/webdav/${path}`, { ...init, headers: { Authorization: basic(token), ...init.headers } });

  before(async () => {
    t = await startTestInstance();
    await seed(t);
    await t.app.files.mkdir(ALICE.uid, 'Drop');
    await t.app.files.mkdir(ALICE.uid, 'Drop/sub');
    await put(t, ALICE.uid, 'Drop/report.pdf', 'the original');
    token = (await share(t, ALICE, { path: '/Drop', shareType: 3, permissions: 4 })).token;
  });
  after(async () => { await t?.stop(); });
  afterEach(async () => { await t.app.throttle.registerSuccess('127.0.0.1', ''); });

  it('an upload to an existing name answers 201 like a new one and is stored as name (2).ext', async () => {
    const fresh = await dav('new.pdf', { method: 'PUT', body: 'new one' });
    const taken = await dav('report.pdf', { method: 'PUT', body: 'dropped' });
    assert.equal(fresh.status, 201);
    assert.equal(taken.status, 201, 'an existing name gets the same answer');
    assert.equal(taken.headers.get('content-location'), null);
    assert.equal(await read(t, 'Drop/report.pdf'), 'the original', 'nothing is overwritten');
    assert.equal(await read(t, 'Drop/report (2).pdf'), 'dropped');
    assert.equal((await dav('report.pdf', { method: 'PUT', body: 'again' })).status, 201);
    assert.equal(await read(t, 'Drop/report (3).pdf'), 'again');
    assert.equal(await read(t, 'Drop/new.pdf'), 'new one');
  });

  it('a name that is a folder, a nested path and conditional headers answer 201 too', async () => {
    assert.equal((await dav('sub', { method: 'PUT', body: 'x' })).status, 201);
    assert.equal((await t.app.files.stat(ALICE.uid, 'Drop/sub')).kind, 'dir');
    assert.equal(await read(t, 'Drop/sub (2)'), 'x');
    assert.equal((await dav('missing/deeper/n.txt', { method: 'PUT', body: 'flat' })).status, 201);
    assert.equal(await read(t, 'Drop/n.txt'), 'flat');
    assert.equal((await dav('report.pdf', { method: 'PUT', body: 'm', headers: { 'If-Match': '*' } })).status, 201);
    assert.equal((await dav('absent.txt', { method: 'PUT', body: 'm', headers: { 'If-Match': '*' } })).status, 201);
    assert.equal((await dav('new.pdf', { method: 'PUT', body: 'n', headers: { 'If-None-Match': '*' } })).status, 201);
    assert.equal(await read(t, 'Drop/report.pdf'), 'the original');
  });

  it('MKCOL, GET and DELETE answer the same for existing and missing names', async () => {
    for (const method of ['MKCOL', 'GET', 'DELETE']) {
      const existing = await dav('sub', { method });
      const missing = await dav('nothing-here', { method });
      assert.equal(existing.status, missing.status, `${method}: ${existing.status} vs ${missing.status}`);
      assert.ok(existing.status >= 400, `${method} is refused`);
    }
    assert.equal((await dav('', { method: 'PUT', body: 'x' })).status, 403, 'the drop folder itself cannot be replaced');
    assert.equal((await t.app.files.stat(ALICE.uid, 'Drop/sub')).kind, 'dir');
  });

  it('a link with read and create still overwrites nothing without update and is unchanged otherwise', async () => {
    const rc = (await share(t, ALICE, { path: '/Drop', shareType: 3, permissions: 5 })).token;
    const r = await fetch(`${t.url}/public.php/webdav/report.pdf`, { method: 'PUT', body: 'z', headers: { Authorization: basic(rc) } });
    assert.equal(r.status, 403, 'a reader may see what exists: the old answer stays');
    assert.equal(await read(t, 'Drop/report.pdf'), 'the original');
  });
});
