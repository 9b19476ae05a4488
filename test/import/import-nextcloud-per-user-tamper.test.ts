/**
 * A tampered block in a file kept in Nextcloud's form (per-user keys, owner without recovery): the
 * import cannot check it (no key), so the check happens when the owner's keys open: the read is
 * refused, the conversion leaves that file pending with the error (status: failedFiles) and converts
 * the others. And an admin password reset of users whose imported keys still wait for their first
 * login: with the recovery password (alice, opted in) her files stay readable; without (the
 * Nextcloud admin) it is refused under -n unless --force, as for any user with keys.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, davUrl, propfind, type Coffer, type Unpacked } from './nc-fixture.ts';
import type { LoadedMariaDb } from './nc-mariadb.ts';
import { closeUserKeysSource, openUserKeysSource } from './nc-user-keys-source.ts';

describe('import:nextcloud per-user keys: a tampered pending file; password resets before the first login', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let maria: LoadedMariaDb;
  let coffer: Coffer;

  before(async () => { ({ nc, maria, coffer } = await openUserKeysSource()); });
  after(() => closeUserKeysSource({ nc, maria, coffer }));

  test('is refused when read and stays pending with its error; the others convert', async () => {
    const bad = nc.manifest.files.find((f) => f.owner === 'bob' && f.path === 'Sizes/block-8096.bin')!;
    const fd = openSync(join(nc.root, bad.physical_path), 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 8192 + 100); // first data block, inside the ciphertext
    b[0] ^= 0x01;
    writeSync(fd, b, 0, 1, 8192 + 100);
    closeSync(fd);

    const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', maria.url,
      '--recovery-password-from-env', '--output', 'json'], { OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
    assert.equal(r.code, 0, r.stderr); // kept as it is: only bob's key can check it
    const bob = nc.manifest.users.find((u) => u.uid === 'bob')!;
    const srv = await coffer.serve();
    try {
      await srv.app.ncPending.converter.stop(); // first the on-the-fly read
      assert.equal((await propfind(srv.url, 'bob', bob.password, '')).status, 207);
      // the failing block aborts the response (as for any blob failing its check): never the full content
      const got = await fetch(davUrl(srv.url, 'bob', bad.path), { headers: { authorization: basic('bob', bob.password) } })
        .then(async (g) => ({ status: g.status, body: Buffer.from(await g.arrayBuffer()) }))
        .catch((err: Error) => ({ status: 0, body: undefined, err }));
      assert.ok(got.status >= 500 || got.body === undefined || got.body.length < bad.size, `refused (status ${got.status}, ${got.body?.length} bytes)`);
    } finally {
      await srv.stop();
    }
    const srv2 = await coffer.serve();
    try {
      assert.equal((await propfind(srv2.url, 'bob', bob.password, '')).status, 207);
      await srv2.app.ncPending.converter.idle('bob');
      for (const f of nc.manifest.files.filter((x) => x.owner === 'bob')) {
        const row = await srv2.app.db.selectFrom('nodes').select('blob_codec').where('fileid', '=', f.fileid).executeTakeFirstOrThrow();
        assert.equal(row.blob_codec, f === bad ? 'nc-pending' : 'cfe1', f.path);
        if (f === bad) continue;
        const g = await fetch(davUrl(srv2.url, 'bob', f.path), { headers: { authorization: basic('bob', bob.password) } });
        assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256);
      }
    } finally {
      await srv2.stop();
    }
    const st = JSON.parse((await coffer.occ(['import:nextcloud:status', '--output', 'json'])).stdout) as { users: { uid: string; pendingFiles: number; failedFiles: number }[] };
    const b2 = st.users.find((u) => u.uid === 'bob')!;
    assert.equal(b2.pendingFiles, 1);
    assert.equal(b2.failedFiles, 1);
    const plain = await coffer.occ(['import:nextcloud:status']);
    assert.match(plain.stdout, /bob: keys opened; 1 files .* 1 failed their integrity check/);
  });
  test('admin resets before the first login: alice (opted in) keeps her files with the recovery password; another user needs --force', async () => {
    const alice = nc.manifest.users.find((u) => u.uid === 'alice')!;
    const r = await coffer.occ(['user:resetpassword', 'alice', '--password-from-env', '-n'], { OC_PASS: 'alice-after-reset-1', OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stay readable/);
    const admin = nc.manifest.admin.uid;
    const refused = await coffer.occ(['user:resetpassword', admin, '--password-from-env', '-n'], { OC_PASS: 'admin-after-reset-1' });
    assert.equal(refused.code, 5, refused.stderr);
    const forced = await coffer.occ(['user:resetpassword', admin, '--password-from-env', '-n', '--force'], { OC_PASS: 'admin-after-reset-1' });
    assert.equal(forced.code, 0, forced.stderr);
    const srv = await coffer.serve();
    try {
      for (const f of nc.manifest.files.filter((x) => x.owner === 'alice')) {
        const g = await fetch(davUrl(srv.url, 'alice', f.path), { headers: { authorization: basic('alice', 'alice-after-reset-1') } });
        assert.equal(g.status, 200, f.path);
        assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256, f.path);
      }
      const old = await fetch(davUrl(srv.url, 'alice', ''), { method: 'PROPFIND', headers: { authorization: basic('alice', alice.password), depth: '0' } });
      assert.equal(old.status, 401);
      assert.equal((await propfind(srv.url, admin, 'admin-after-reset-1', '')).status, 207);
    } finally {
      await srv.stop();
    }
    const st = JSON.parse((await coffer.occ(['import:nextcloud:status', '--output', 'json'])).stdout) as { users: { uid: string }[] };
    assert.equal(st.users.find((u) => u.uid === 'alice' || u.uid === admin), undefined, 'no stale first-login wrapping left');
  });
});
