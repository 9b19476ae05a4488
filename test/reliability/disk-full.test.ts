/**
 * A full disk is an answer, not an accident: the data directory (blobs, temp files, chunks, key
 * files, the SQLite database and its WAL) is a 40 MB tmpfs that the test mounts. Once it fills,
 * every write path answers 507 Insufficient Storage (WebDAV with Sabre's InsufficientStorage, the web
 * API and OCS in their own form), leaves no partial blob, temp file or row behind, keeps the previous
 * version intact, and the server keeps serving; `./occ` says "disk full" and exits non-zero. Once
 * space is freed, writes succeed again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeTestConfig, ADMIN } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { occ } from '../cli/occ-harness.ts';
import { webLogin } from '../support/web-login.ts';
import { openLocal } from './crash-support.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import type { App } from '../../src/app.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('the disk-full tests mount a tmpfs: CI runs them as root');
const skip = isRoot ? false : 'mounting a tmpfs needs root';

const auth = 'Basic ' + Buffer.from(`${ADMIN.uid}:${ADMIN.password}`).toString('base64');
const F = '/remote.php/dav/files/admin';

/** Every file below `dir`. */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

for (const mode of ['plain', 'encrypted'] as const) {
  describe(`a full disk answers 507 and changes nothing (${mode})`, { skip, timeout: 300_000 }, () => {
    let dir = '';
    let dataDir = '';
    let configPath = '';
    let app: App;
    let server: RunningServer;
    const req = (path: string, init: RequestInit = {}) => fetch(server.url + path, { ...init, headers: { authorization: auth, ...(init.headers as Record<string, string>) } });
    const blobFiles = () => files(join(dataDir, 'blobs')).filter((f) => !f.includes('/.tmp/'));
    const referenced = async () => (await app.db.selectFrom('nodes').select('blob_id').where('blob_id', 'is not', null).execute()).length
      + (await app.db.selectFrom('upload_chunks').select('blob_id').execute()).length;

    before(async () => {
      ({ dir, configPath } = await writeTestConfig());
      dataDir = join(dir, 'data');
      mkdirSync(dataDir, { recursive: true });
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=40m,mode=0700', 'tmpfs', dataDir], { encoding: 'utf8' });
      assert.equal(m.status, 0, `mount: ${m.stderr}`);
      app = await openLocal(configPath);
      await app.users.create({ uid: ADMIN.uid, password: ADMIN.password, isAdmin: true });
      if (mode === 'encrypted') await enableEncryption({ app, configPath });
      server = await startServer(app, { host: '127.0.0.1', port: 0 });
    });
    after(async () => {
      await server?.close(1000);
      await app?.close();
      spawnSync('umount', ['-l', dataDir]);
      rmSync(dir, { recursive: true, force: true });
    });

    test('PUT, overwrite, chunked upload, web API, MKCOL, OCS and ./occ on a full disk; writes work again once space is freed', async () => {
      const keep = randomBytes(10_000);
      const first = await req(`${F}/keep.bin`, { method: 'PUT', body: keep });
      assert.equal(first.status, 201, await first.text());
      assert.equal((await req('/remote.php/dav/uploads/admin/up1', { method: 'MKCOL' })).status, 201);
      const web = await webLogin(server.url, ADMIN.uid, ADMIN.password); // a login writes a session row

      // fill the disk with 6 MiB uploads until one is refused
      let refused: Response | undefined;
      for (let i = 0; i < 10 && !refused; i++) {
        const r = await req(`${F}/fill${i}.bin`, { method: 'PUT', body: randomBytes(6 << 20) });
        if (r.status === 507) refused = r;
        else assert.equal(r.status, 201, `fill${i}: ${await r.text()}`);
      }
      assert.ok(refused, 'the disk never filled');
      const body = await refused.text();
      assert.match(body, /Sabre\\DAV\\Exception\\InsufficientStorage/);
      assert.match(body, /Insufficient Storage/);
      assert.equal(files(join(dataDir, 'blobs', '.tmp')).length, 0, 'no temp file left');
      assert.equal(blobFiles().length, await referenced(), 'no unreferenced (partial) blob left');

      // top the disk up to the last block, so that the database cannot grow either
      const filler = join(dataDir, 'filler');
      let chunk = 1 << 20;
      while (chunk >= 512) {
        try { writeFileSync(filler, Buffer.alloc(chunk), { flag: 'a' }); } catch { chunk >>= 1; }
      }

      // an overwrite that cannot be stored keeps the previous version
      const over = await req(`${F}/keep.bin`, { method: 'PUT', body: randomBytes(3 << 20) });
      assert.equal(over.status, 507);
      const back = await req(`${F}/keep.bin`);
      assert.equal(back.status, 200);
      assert.deepEqual(Buffer.from(await back.arrayBuffer()), keep, 'the previous version is intact');

      // chunked upload: the chunk PUT is refused, the upload folder stays usable
      assert.equal((await req('/remote.php/dav/uploads/admin/up1/00001', { method: 'PUT', body: randomBytes(2 << 20) })).status, 507);

      // the web API answers in its JSON form
      const up = await fetch(`${server.url}/web/api/files/upload?path=${encodeURIComponent('/web.bin')}`, {
        method: 'PUT', headers: { cookie: web.cookie, requesttoken: web.csrfToken }, body: randomBytes(2 << 20),
      });
      assert.equal(up.status, 507);
      assert.equal((await up.json() as { error: { code: string } }).error.code, 'storage-full');
      assert.equal((await req(`${F}/web.bin`, { method: 'PROPFIND', headers: { Depth: '0' } })).status, 404);

      // a write that only touches the database: SQLite cannot grow its WAL (SQLITE_FULL)
      const mk = await req(`${F}/newfolder`, { method: 'MKCOL' });
      assert.equal(mk.status, 507, `MKCOL on a full disk: ${mk.status}`);
      assert.equal((await req(`${F}/newfolder`, { method: 'PROPFIND', headers: { Depth: '0' } })).status, 404, 'no row left behind');

      // OCS says it in its own form
      const ocs = await req('/ocs/v2.php/cloud/users?format=json', {
        method: 'POST', headers: { 'OCS-APIREQUEST': 'true', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ userid: 'carol', password: 'carol-password-1' }).toString(),
      });
      assert.equal(ocs.status, 507);
      const ocsBody = await ocs.json() as { ocs: { meta: { statuscode: number; message: string } } };
      assert.equal(ocsBody.ocs.meta.statuscode, 507);
      assert.match(ocsBody.ocs.meta.message, /Insufficient Storage/);

      // ./occ: "disk full", non-zero exit
      const cli = await occ(['user:add', '--password-from-env', 'dave'], { COFFER_CONFIG: configPath, OC_PASS: 'dave-password-1' });
      assert.notEqual(cli.code, 0);
      assert.match(cli.stderr, /disk full/);

      // reads still work while the disk is full, and nothing was half-made
      assert.equal((await req(`${F}/`, { method: 'PROPFIND', headers: { Depth: '1' } })).status, 207);
      assert.equal(blobFiles().length, await referenced(), 'no unreferenced (partial) blob left');
      assert.equal(files(join(dataDir, 'blobs', '.tmp')).length, 0, 'no temp file left');

      // space freed: the server is healthy, writes work again
      rmSync(filler);
      for (const f of readdirSync(dataDir)) if (/^fill/.test(f)) rmSync(join(dataDir, f));
      assert.equal((await req(`${F}/fill0.bin`, { method: 'DELETE' })).status, 204);
      assert.equal((await req(`${F}/after.bin`, { method: 'PUT', body: randomBytes(1 << 20) })).status, 201);
      assert.equal((await req(`${F}/newfolder`, { method: 'MKCOL' })).status, 201);
      assert.ok(statSync(join(dataDir)).isDirectory());
    });
  });
}
