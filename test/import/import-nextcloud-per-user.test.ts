/**
 * `./occ import:nextcloud` of the per-user-keys fixture (MariaDB dump) into Coffer's per-user-key
 * mode. alice opted into recovery: her files are converted at import (Coffer's format, under her own
 * root key sealed to her Coffer key pair and to Coffer's recovery key) and read back after her first
 * login. bob and carol did not: their files are kept in Nextcloud's encrypted form inside Coffer's
 * data (the Nextcloud data directory is deleted right after the import), readable by them after
 * their first login with the password, and converted in the background then (resumably: a server
 * that stops the conversion leaves it for the next login). `import:nextcloud:status` before/after.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, davUrl, propfind, type Coffer, type Unpacked } from './nc-fixture.ts';
import type { LoadedMariaDb } from './nc-mariadb.ts';
import { closeUserKeysSource, openUserKeysSource } from './nc-user-keys-source.ts';
import { userActor } from '../../src/actor.ts';
import { webLogin } from '../support/web-login.ts';
import { ImportPendingError } from '../../src/encryption/import-pending.ts';

const FORMAT_ID = 'cfe1';

describe('import:nextcloud into per-user-key mode (MariaDB dump)', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let maria: LoadedMariaDb;
  let coffer: Coffer;
  const args = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', maria.url];
  const recovery = () => ({ OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! });
  const user = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)!;
  const keyDir = (uid: string) => join(coffer.dir, 'data', uid, 'files_encryption', 'OC_DEFAULT_MODULE');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const bytesOf = (uid: string) => nc.manifest.files.filter((f) => f.owner === uid && f.encrypted > 0).reduce((n, f) => n + f.size, 0);
  const pendingStatus = async () => {
    const r = await coffer.occ(['import:nextcloud:status', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { imported: boolean; completed: boolean; users: { uid: string; keys: string; pendingFiles: number; pendingBytes: number; failedFiles: number }[] };
  };

  before(async () => { ({ nc, maria, coffer } = await openUserKeysSource()); });
  after(() => closeUserKeysSource({ nc, maria, coffer }));

  test('dry run: the opted-in user\'s files decrypt, the others are reported as kept for their first login; nothing written', async () => {
    const r = await coffer.occ([...args(), '--dry-run', '--recovery-password-from-env', '--output', 'json'], recovery());
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { pending: number; skipped: unknown[]; checked: { owner: string; path: string; sha256: string }[] };
    assert.deepEqual(rep.skipped, []);
    assert.equal(rep.pending, nc.manifest.files.filter((f) => f.owner !== 'alice' && f.encrypted > 0).length);
    for (const f of nc.manifest.files.filter((x) => x.owner === 'alice')) {
      assert.equal(rep.checked.find((c) => c.owner === 'alice' && c.path === f.path)?.sha256, f.sha256, f.path);
    }
    const st = JSON.parse((await coffer.occ(['encryption:status', '--output', 'json'])).stdout) as { mode: string };
    assert.equal(st.mode, 'masterkey', 'the dry run changed no setting');
    const list = await coffer.occ(['user:list', '--output', 'json']);
    assert.deepEqual(Object.keys(JSON.parse(list.stdout)), ['cofferadmin']);
  });

  test('import: per-user mode on, recovery key carried over, alice\'s key pair waiting for her first login', async () => {
    const r = await coffer.occ([...args(), '--recovery-password-from-env', '--output', 'json'], recovery());
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { files: number; pending: number; skipped: unknown[] };
    assert.deepEqual(rep.skipped, []);
    const kept = nc.manifest.files.filter((f) => f.owner !== 'alice' && f.encrypted > 0);
    assert.equal(rep.pending, kept.length);
    assert.equal(rep.files, nc.manifest.files.length);
    // from here on, nothing may depend on the Nextcloud side
    rmSync(nc.data, { recursive: true, force: true });
    const st = JSON.parse((await coffer.occ(['encryption:status', '--output', 'json'])).stdout) as { enabled: boolean; mode: string; plainFiles: number };
    assert.equal(st.enabled, true);
    assert.equal(st.mode, 'per-user-keys');
    const alice = readdirSync(keyDir('alice'));
    assert.ok(alice.includes('alice.publicKey'));
    assert.ok(alice.includes('nextcloudPending.json'));
    assert.ok(!alice.includes('alice.privateKey'), 'no password wrapping before the first login');
    assert.ok(!alice.some((n) => n.startsWith('nextcloudImport')), 'import wrapping dropped at the end');
    assert.ok(alice.some((n) => /^rootKey_[0-9a-f]{32}\.recovery$/.test(n)), 'root key sealed to the recovery key (alice opted in)');
    const system = readdirSync(join(coffer.dir, 'data', 'files_encryption', 'OC_DEFAULT_MODULE'));
    assert.ok(system.some((n) => /^recovery_[0-9a-f]{32}\.publicKey$/.test(n)), 'Coffer recovery key created');
    assert.ok(!readdirSync(keyDir('bob')).some((n) => n.endsWith('.recovery')), 'bob did not opt in');
    const status = await pendingStatus();
    assert.deepEqual(status.users, [
      { uid: nc.manifest.admin.uid, keys: 'waiting-for-login', pendingFiles: 0, pendingBytes: 0, failedFiles: 0 },
      { uid: 'alice', keys: 'waiting-for-login', pendingFiles: 0, pendingBytes: 0, failedFiles: 0 },
      { uid: 'bob', keys: 'waiting-for-login', pendingFiles: 3, pendingBytes: bytesOf('bob'), failedFiles: 0 },
      { uid: 'carol', keys: 'waiting-for-login', pendingFiles: 1, pendingBytes: bytesOf('carol'), failedFiles: 0 },
    ]);
    const plain = await coffer.occ(['import:nextcloud:status']);
    assert.match(plain.stdout, /bob: keys waiting for the first login; 3 files \(0\.0 MiB\) in Nextcloud's encrypted form, converted after their first login/);
  });

  test('before bob\'s first login his files are kept in Nextcloud\'s form inside Coffer, and a read says why it fails; carol\'s first login (web) converts hers', async () => {
    const srv = await coffer.serve();
    try {
      for (const f of nc.manifest.files.filter((x) => x.owner === 'bob')) {
        const row = await srv.app.db.selectFrom('nodes').select(['blob_id', 'blob_codec', 'etag']).where('fileid', '=', f.fileid).executeTakeFirstOrThrow();
        assert.equal(row.blob_codec, 'nc-pending');
        assert.equal(row.etag, f.etag);
        const stored = findBlob(join(coffer.dir, 'data', 'blobs'), row.blob_id!)!;
        assert.equal(readFileSync(stored).subarray(0, 6).toString('latin1'), 'HBEGIN', 'Nextcloud\'s encrypted form at rest');
        await assert.rejects(srv.app.files.openRead(userActor('bob', 'password'), 'bob', f.path),
          (err: Error) => err instanceof ImportPendingError && /imported from Nextcloud and awaits conversion.*logs in with their password/.test(err.message));
      }
      // over WebDAV: a client on an app password made in Coffer (it never saw the password) gets the 403 and why
      const { token } = await srv.app.appPasswords.create('bob', 'a sync client');
      const f0 = nc.manifest.files.find((x) => x.owner === 'bob')!;
      const g = await fetch(davUrl(srv.url, 'bob', f0.path), { headers: { authorization: basic('bob', token) } });
      assert.equal(g.status, 403);
      assert.match(await g.text(), /imported from Nextcloud and awaits conversion to Coffer(&apos;|')s format: it becomes readable when bob logs in with their password/);
      // carol's first login is a web login: it opens her keys and starts her conversion
      const web = await webLogin(srv.url, 'carol', user('carol').password);
      assert.equal(web.loginStatus, 303);
      await srv.app.ncPending.converter.idle('carol');
      assert.ok(existsSync(join(keyDir('carol'), 'carol.privateKey')));
      const c = nc.manifest.files.find((f) => f.owner === 'carol')!;
      const crow = await srv.app.db.selectFrom('nodes').select('blob_codec').where('fileid', '=', c.fileid).executeTakeFirstOrThrow();
      assert.equal(crow.blob_codec, FORMAT_ID, 'carol\'s file converted after her web login');
      const a = await propfind(srv.url, 'carol', user('carol').password, c.path);
      assert.equal(a.etag, c.etag);
    } finally {
      await srv.stop();
    }
  });

  test('bob\'s first login opens his keys: his files read with the manifest sha256 on the fly (conversion held back)', async () => {
    const srv = await coffer.serve();
    try {
      await srv.app.ncPending.converter.stop(); // this server converts nothing: reads go through Nextcloud's format
      const b = user('bob');
      assert.equal((await propfind(srv.url, 'bob', b.password, '')).status, 207);
      assert.ok(existsSync(join(keyDir('bob'), 'bob.privateKey')));
      assert.ok(!existsSync(join(keyDir('bob'), 'nextcloudPending.json')));
      for (const f of nc.manifest.files.filter((x) => x.owner === 'bob')) {
        const g = await fetch(davUrl(srv.url, 'bob', f.path), { headers: { authorization: basic('bob', b.password) } });
        assert.equal(g.status, 200, f.path);
        const body = Buffer.from(await g.arrayBuffer());
        assert.equal(sha(body), f.sha256, f.path);
        const part = await fetch(davUrl(srv.url, 'bob', f.path), { headers: { authorization: basic('bob', b.password), range: 'bytes=100-8199' } });
        assert.equal(part.status, 206);
        assert.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(100, 8200));
        const row = await srv.app.db.selectFrom('nodes').select('blob_codec').where('fileid', '=', f.fileid).executeTakeFirstOrThrow();
        assert.equal(row.blob_codec, 'nc-pending', 'not converted by this server');
      }
    } finally {
      await srv.stop();
    }
    const status = await pendingStatus();
    assert.deepEqual(status.users.find((u) => u.uid === 'bob'), { uid: 'bob', keys: 'opened', pendingFiles: 3, pendingBytes: bytesOf('bob'), failedFiles: 0 });
  });

  test('bob\'s next login converts his files in the background: Coffer\'s format at rest, same ids and etags, status empty for him', async () => {
    const srv = await coffer.serve();
    const b = user('bob');
    try {
      const before = await srv.app.db.selectFrom('nodes').select(['fileid', 'blob_id']).where('owner', '=', 'bob').where('kind', '=', 'file').execute();
      assert.equal((await propfind(srv.url, 'bob', b.password, '')).status, 207);
      await srv.app.ncPending.converter.idle('bob');
      for (const f of nc.manifest.files.filter((x) => x.owner === 'bob')) {
        const row = await srv.app.db.selectFrom('nodes').select(['blob_id', 'blob_codec', 'etag']).where('fileid', '=', f.fileid).executeTakeFirstOrThrow();
        assert.equal(row.blob_codec, FORMAT_ID, `${f.path} converted`);
        const stored = readFileSync(findBlob(join(coffer.dir, 'data', 'blobs'), row.blob_id!)!);
        assert.notEqual(stored.subarray(0, 6).toString('latin1'), 'HBEGIN');
        const old = before.find((x) => Number(x.fileid) === f.fileid)!.blob_id!;
        assert.equal(findBlob(join(coffer.dir, 'data', 'blobs'), old), undefined, 'Nextcloud\'s copy deleted');
        const g = await fetch(davUrl(srv.url, 'bob', f.path), { headers: { authorization: basic('bob', b.password) } });
        assert.equal(g.status, 200);
        assert.equal(sha(Buffer.from(await g.arrayBuffer())), f.sha256, f.path);
        const pf = await propfind(srv.url, 'bob', b.password, f.path);
        assert.equal(pf.fileid, String(f.fileid));
        assert.equal(pf.etag, f.etag, 'etag kept: clients download nothing');
      }
      assert.ok(!existsSync(join(keyDir('bob'), 'nextcloudPrivate.sealed')), 'Nextcloud key dropped once nothing is pending');
    } finally {
      await srv.stop();
    }
    const status = await pendingStatus();
    assert.equal(status.users.find((u) => u.uid === 'bob'), undefined);
    assert.equal(status.users.find((u) => u.uid === 'carol'), undefined, 'carol logged in once (web login above): converted too');
    assert.deepEqual(status.users.map((u) => u.uid), [nc.manifest.admin.uid, 'alice']);
  });

  test('shares of alice work before her first login: the import made their share keys while her keys were open there (bob, links)', async () => {
    const srv = await coffer.serve();
    try {
      assert.ok(existsSync(join(keyDir('alice'), 'nextcloudPending.json')), 'alice has not logged in yet');
      const inProject = nc.manifest.files.filter((f) => f.owner === 'alice' && f.path.startsWith('Project/') && f.encrypted > 0);
      assert.ok(inProject.length > 0);
      for (const f of inProject) {
        const r = await fetch(davUrl(srv.url, 'bob', f.path), { headers: { authorization: basic('bob', user('bob').password) } });
        assert.equal(r.status, 200, f.path);
        assert.equal(sha(Buffer.from(await r.arrayBuffer())), f.sha256);
      }
      const link = nc.manifest.shares.find((x) => x.share_type === 3 && x.item_type === 'file')!;
      const g = await fetch(`${srv.url}/public.php/webdav/`, { headers: { authorization: basic(link.token!, link.password ?? '') } });
      assert.equal(g.status, 200);
      assert.equal(sha(Buffer.from(await g.arrayBuffer())), nc.manifest.files.find((x) => x.fileid === link.fileid)!.sha256);
      // and alice's own files stay locked to everyone else: bob's path into her tree is only the share
      const notShared = nc.manifest.files.find((f) => f.owner === 'alice' && !f.path.startsWith('Project/') && f.encrypted > 0)!;
      const other = await fetch(davUrl(srv.url, 'bob', notShared.path), { headers: { authorization: basic('bob', user('bob').password) } });
      assert.equal(other.status, 404);
      await other.arrayBuffer();
    } finally {
      await srv.stop();
    }
  });

  test('alice\'s files were converted at import: Coffer\'s format at rest, read back with the manifest sha256 after her first login (her Nextcloud app password)', async () => {
    const srv = await coffer.serve();
    try {
      const rows = await srv.app.db.selectFrom('nodes').select(['fileid', 'blob_codec']).where('owner', '=', 'alice').where('kind', '=', 'file').execute();
      const codec = new Map(rows.map((x) => [Number(x.fileid), x.blob_codec]));
      const a = user('alice');
      const files = nc.manifest.files.filter((f) => f.owner === 'alice');
      assert.ok(files.length > 20);
      for (const f of files) assert.equal(codec.get(f.fileid), FORMAT_ID, `${f.path} encrypted at rest`);
      // first login with the app password made in Nextcloud (it stored her login password): the
      // login password opens the Nextcloud private key, which opens her Coffer key
      const token = a.app_tokens[0]!.token;
      const p = await fetch(davUrl(srv.url, 'alice', ''), { method: 'PROPFIND', headers: { authorization: basic('alice', token), depth: '0' } });
      assert.equal(p.status, 207);
      assert.ok(existsSync(join(keyDir('alice'), 'alice.privateKey')));
      assert.ok(!existsSync(join(keyDir('alice'), 'nextcloudPending.json')));
      const one = files.find((f) => f.encrypted > 0)!;
      const viaToken = await fetch(davUrl(srv.url, 'alice', one.path), { headers: { authorization: basic('alice', token) } });
      assert.equal(viaToken.status, 200);
      assert.equal(sha(Buffer.from(await viaToken.arrayBuffer())), one.sha256);
      // the app password has its own wrapping now: it unlocks alone in a fresh process
      assert.ok(readdirSync(keyDir('alice')).some((n) => /^appPassword_[0-9a-f]{32}\.privateKey$/.test(n)));
      for (const f of files) {
        const g = await fetch(davUrl(srv.url, 'alice', f.path), { headers: { authorization: basic('alice', a.password) } });
        assert.equal(g.status, 200, `${f.path}`);
        assert.equal(sha(Buffer.from(await g.arrayBuffer())), f.sha256, f.path);
        const pf = await propfind(srv.url, 'alice', a.password, f.path);
        assert.equal(pf.fileid, String(f.fileid));
        assert.equal(pf.etag, f.etag);
      }
      // at rest: no plaintext of a non-empty file in the blob directory
      const big = files.find((f) => f.size >= 8096)!;
      const blob = rows.length > 0 ? await srv.app.db.selectFrom('nodes').select('blob_id').where('fileid', '=', big.fileid).executeTakeFirstOrThrow() : undefined;
      const g = await fetch(davUrl(srv.url, 'alice', big.path), { headers: { authorization: basic('alice', a.password) } });
      const plain = Buffer.from(await g.arrayBuffer());
      const stored = findBlob(join(coffer.dir, 'data', 'blobs'), blob!.blob_id!);
      assert.ok(stored, 'blob file found');
      assert.equal(readFileSync(stored).indexOf(plain.subarray(0, 64)), -1, 'plaintext not at rest');
    } finally {
      await srv.stop();
    }
  });

  test('shares of alice still work after her first login: bob reads her shared folder, links serve their files', async () => {
    const srv = await coffer.serve();
    try {
      assert.equal((await propfind(srv.url, 'alice', user('alice').password, '')).status, 207);
      const inProject = nc.manifest.files.filter((f) => f.owner === 'alice' && f.path.startsWith('Project/'));
      assert.ok(inProject.length > 0);
      for (const f of inProject) {
        const r = await fetch(davUrl(srv.url, 'bob', f.path), { headers: { authorization: basic('bob', user('bob').password) } });
        assert.equal(r.status, 200, f.path);
        assert.equal(sha(Buffer.from(await r.arrayBuffer())), f.sha256);
      }
      for (const l of nc.manifest.shares.filter((x) => x.share_type === 3 && x.item_type === 'file')) {
        const f = nc.manifest.files.find((x) => x.fileid === l.fileid)!;
        const g = await fetch(`${srv.url}/public.php/webdav/`, { headers: { authorization: basic(l.token!, l.password ?? '') } });
        assert.equal(g.status, 200);
        assert.equal(sha(Buffer.from(await g.arrayBuffer())), f.sha256);
      }
    } finally {
      await srv.stop();
    }
  });

  test('the recovery key carried over opens alice\'s files: an admin reset with the recovery password keeps them readable', async () => {
    const r = await coffer.occ(['user:resetpassword', 'alice', '--password-from-env'], { OC_PASS: 'a-new-password-for-alice-1', ...recovery() });
    assert.equal(r.code, 0, r.stderr);
    const srv = await coffer.serve();
    try {
      const f = nc.manifest.files.find((x) => x.owner === 'alice' && x.encrypted > 0)!;
      const g = await fetch(davUrl(srv.url, 'alice', f.path), { headers: { authorization: basic('alice', 'a-new-password-for-alice-1') } });
      assert.equal(g.status, 200);
      assert.equal(sha(Buffer.from(await g.arrayBuffer())), f.sha256);
    } finally {
      await srv.stop();
    }
  });
});

/** The file of blob `id` below the local blob store's root (layout independent). */
function findBlob(dir: string, id: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { const f = findBlob(p, id); if (f) return f; } else if (e.name.startsWith(id)) return p;
  }
  return undefined;
}
