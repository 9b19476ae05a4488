/**
 * `./occ import:nextcloud` on the real Nextcloud 32 master-key fixture (SQLite read in place, named
 * by --database-url: the file is moved out of the data directory, where config.php would look):
 * install Coffer, dry run (changes nothing), import, then over HTTP: every user logs in with the
 * manifest's password (WebDAV and the web login form), the app password works, every file downloads
 * with the manifest's sha256, PROPFIND shows the preserved file ids and etags, shares and public
 * links work; versions and trash items read back and restore; a second import is refused naming
 * the users; a tampered block (live file, version) or truncated trashed file is refused by name (exit 7).
 * Nothing in Nextcloud's data directory changes (every file's size, mtime and sha256 compared).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openSync, readSync, writeSync, closeSync, truncateSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { webLogin } from '../support/web-login.ts';
import { basic, checkPublicLink, davUrl, installCoffer, propfind, treeState, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';
import { checkImportedHistory, type HistoryManifest } from './nc-history-checks.ts';

describe('import:nextcloud, master-key fixture (SQLite)', { timeout: 600_000 }, () => {
  let nc: Unpacked;
  let coffer: Coffer;
  let srv: Awaited<ReturnType<Coffer['serve']>>;
  let importOut = '';
  let dataBefore: string[] = [];
  const pw = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)?.password ?? nc.manifest.admin.password;
  let dbFile = '';
  const importArgs = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--database-url', dbFile];

  before(async () => {
    nc = unpack('master-key');
    dbFile = join(nc.root, 'nextcloud copy.db');
    renameSync(join(nc.data, 'owncloud.db'), dbFile);
    // everything of Nextcloud's side: its data directory and, moved out of it, its database
    dataBefore = treeState(nc.root);
    coffer = await installCoffer();
  });
  after(async () => {
    await srv?.stop();
    coffer?.cleanup();
    nc?.cleanup();
  });

  test('without --database-url the database config.php names is missing: a clear error, nothing imported', async () => {
    const r = await coffer.occ(importArgs().slice(0, -2));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot open Nextcloud's SQLite database .*owncloud\.db/);
    const list = await coffer.occ(['user:list', '--output', 'json']);
    assert.deepEqual(Object.keys(JSON.parse(list.stdout)), ['cofferadmin']);
  });

  test('--dry-run reports what it would import, verifies every block, and writes nothing', async () => {
    const r = await coffer.occ([...importArgs(), '--dry-run', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { dryRun: boolean; users: number; files: number; bytes: number; shares: number; skipped: unknown[]; history: { versions: number; trash: number; items: { sha256: string }[] } };
    assert.equal(rep.dryRun, true);
    assert.equal(rep.users, nc.manifest.users.length + 1);
    assert.equal(rep.files, nc.manifest.files.length);
    assert.equal(rep.bytes, nc.manifest.files.reduce((a, f) => a + f.size, 0));
    assert.deepEqual(rep.skipped, []);
    // versions and trash are read and decrypted; their plaintext matches the manifest
    const m = nc.manifest as unknown as { versions: { sha256: string }[]; trash: { sha256?: string; children?: { sha256: string }[]; versions?: { sha256: string }[] }[] };
    const want = [...m.versions.map((v) => v.sha256), ...m.trash.flatMap((t) => [t.sha256, ...(t.children ?? []).map((c) => c.sha256), ...(t.versions ?? []).map((v) => v.sha256)])].filter(Boolean).sort();
    assert.deepEqual(rep.history.items.map((i) => i.sha256).sort(), want);
    // with what Coffer's versions and trash will need: the live file, author metadata, deletion time and location
    const mv = m.versions as unknown as { fileid: number; version_timestamp: number; sha256: string }[];
    for (const v of mv) {
      const it = rep.history.items.find((i) => i.sha256 === v.sha256) as unknown as { kind: string; liveFileId: number; versionTimestamp: number; metadata: string };
      assert.equal(it.kind, 'version');
      assert.equal(it.liveFileId, v.fileid);
      assert.equal(it.versionTimestamp, v.version_timestamp);
      assert.match(it.metadata, /"author":"alice"/);
    }
    const mt = m.trash as unknown as { sha256?: string; location: string; deleted_at: number }[];
    for (const t of mt.filter((x) => x.sha256)) {
      const it = rep.history.items.find((i) => i.sha256 === t.sha256) as unknown as { kind: string; deletedAt: number; originalLocation: string };
      assert.equal(it.kind, 'trash');
      assert.equal(it.deletedAt, t.deleted_at);
      assert.equal(it.originalLocation, t.location);
    }
    const list = await coffer.occ(['user:list', '--output', 'json']);
    assert.deepEqual(Object.keys(JSON.parse(list.stdout)), ['cofferadmin']);
  });

  test('the import carries users, groups, files and shares over', async () => {
    const r = await coffer.occ(importArgs());
    importOut = r.stdout;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`files: ${nc.manifest.files.length} `));
    assert.match(r.stdout, /Nextcloud encryption: master-key/);
    srv = await coffer.serve();
  });

  test('the dry run and the import wrote nothing into the Nextcloud data directory (its SQLite database included)', () => {
    assert.ok(importOut);
    assert.deepEqual(treeState(nc.root), dataBefore);
  });

  test('every user logs in with their Nextcloud password, over WebDAV and the web form', async () => {
    assert.ok(importOut);
    const hashOf = (uid: string) => {
      const db = new SQLite(join(coffer.dir, 'config', 'coffer.db'), { readonly: true });
      try { return (db.prepare('select password_hash from users where uid = ?').get(uid) as { password_hash: string }).password_hash; } finally { db.close(); }
    };
    // stored as Nextcloud had them until a login
    for (const u of nc.manifest.users) assert.match(hashOf(u.uid), /^3\|\$argon2id\$v=19\$m=65536,t=4,p=1\$/);
    for (const u of [...nc.manifest.users, nc.manifest.admin]) {
      const r = await fetch(davUrl(srv.url, u.uid, ''), { method: 'PROPFIND', headers: { authorization: basic(u.uid, u.password), depth: '0' } });
      assert.equal(r.status, 207, `${u.uid} WebDAV login`);
      const wrong = await fetch(davUrl(srv.url, u.uid, ''), { method: 'PROPFIND', headers: { authorization: basic(u.uid, `${u.password}x`), depth: '0' } });
      assert.equal(wrong.status, 401);
    }
    const alice = nc.manifest.users.find((u) => u.uid === 'alice')!;
    const s = await webLogin(srv.url, alice.uid, alice.password);
    assert.equal(s.loginStatus, 303);
    // the first login re-hashed Nextcloud's argon2id (m=64 MiB, t=4) with Coffer's parameters
    for (const u of nc.manifest.users) assert.match(hashOf(u.uid), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  test('the app password made in Nextcloud works, a wrong one does not', async () => {
    const alice = nc.manifest.users.find((u) => u.uid === 'alice')!;
    const token = alice.app_tokens[0]!.token;
    for (let i = 0; i < 2; i++) { // the second time through the re-stored SHA-256 row
      const r = await fetch(davUrl(srv.url, 'alice', ''), { method: 'PROPFIND', headers: { authorization: basic('alice', token), depth: '0' } });
      assert.equal(r.status, 207);
    }
    const bad = await fetch(davUrl(srv.url, 'alice', ''), { method: 'PROPFIND', headers: { authorization: basic('alice', token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), depth: '0' } });
    assert.equal(bad.status, 401);
  });

  test('every file downloads with the manifest sha256; PROPFIND shows its Nextcloud file id and etag', async () => {
    for (const f of nc.manifest.files) {
      const r = await fetch(davUrl(srv.url, f.owner, f.path), { headers: { authorization: basic(f.owner, pw(f.owner)) } });
      assert.equal(r.status, 200, `${f.owner}/${f.path}`);
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(createHash('sha256').update(body).digest('hex'), f.sha256, `${f.owner}/${f.path}`);
      const p = await propfind(srv.url, f.owner, pw(f.owner), f.path);
      assert.equal(p.fileid, String(f.fileid), f.path);
      assert.equal(p.etag, f.etag, f.path);
    }
    // folder paths in the manifest are storage paths: `files` is the user's root
    for (const d of nc.manifest.folders.filter((x) => x.path === 'files' || x.path.startsWith('files/'))) {
      const p = await propfind(srv.url, d.owner, pw(d.owner), d.path.slice('files/'.length));
      assert.equal(p.fileid, String(d.fileid), `${d.owner}/${d.path}`);
      assert.equal(p.etag, d.etag, `${d.owner}/${d.path}`);
    }
  });

  test('what the desktop client compares stays as Nextcloud had it: oc:permissions from oc_filecache.permissions, oc:checksums from oc_filecache.checksum', async () => {
    // Nextcloud's DAV letters (apps/dav Node::getDavPermissions): R shareable, G readable, D deletable,
    // NV updatable (rename, move), then W for a file or CK for a folder when updatable / creatable.
    const letters = (perm: number, isDir: boolean) => (perm & 16 ? 'R' : '') + (perm & 1 ? 'G' : '') + (perm & 8 ? 'D' : '')
      + (perm & 2 ? 'NV' : '') + (isDir ? (perm & 4 ? 'CK' : '') : (perm & 2 ? 'W' : ''));
    const db = new SQLite(dbFile, { readonly: true });
    try {
      const rows = db.prepare(`SELECT c.path, c.permissions, c.checksum, m.mimetype FROM oc_filecache c JOIN oc_mimetypes m ON m.id = c.mimetype
        JOIN oc_storages s ON s.numeric_id = c.storage WHERE s.id = ? AND c.path LIKE 'files/%'`);
      let compared = 0;
      for (const u of [...nc.manifest.users, nc.manifest.admin]) {
        for (const r of rows.all(`home::${u.uid}`) as { path: string; permissions: number; checksum: string | null; mimetype: string }[]) {
          const path = r.path.slice('files/'.length);
          const p = await propfind(srv.url, u.uid, pw(u.uid), path);
          assert.equal(p.status, 207, `${u.uid}/${path}`);
          assert.equal(p.permissions, letters(r.permissions, r.mimetype === 'httpd/unix-directory'), `${u.uid}/${path} (Nextcloud permissions ${r.permissions})`);
          assert.equal(p.checksum ?? '', r.checksum ?? '', `${u.uid}/${path}`);
          compared++;
        }
      }
      assert.ok(compared >= nc.manifest.files.length, `compared ${compared} entries`);
    } finally {
      db.close();
    }
  });

  test('content is encrypted at rest in Coffer', async () => {
    const st = await coffer.occ(['encryption:status', '--output', 'json']);
    const j = JSON.parse(st.stdout) as { enabled: boolean; mode: string; masterKeyPresent: boolean; plainFiles: number };
    assert.equal(j.enabled, true);
    assert.equal(j.mode, 'masterkey', 'the mode Nextcloud had');
    assert.equal(j.masterKeyPresent, true);
    assert.equal(j.plainFiles, 0);
  });

  test('user and group shares and public links work (with password, wrong password refused)', async () => {
    for (const s of nc.manifest.shares) {
      if (s.share_type === 0) {
        const name = s.path.split('/').pop()!;
        const p = await propfind(srv.url, s.recipient!, pw(s.recipient!), name);
        assert.equal(p.status, 207, `share ${s.id} visible to ${s.recipient}`);
        assert.equal(p.fileid, String(s.fileid));
      }
      if (s.share_type === 3) await checkPublicLink(srv.url, nc.manifest, s);
    }
    // bob (member of "team") reads a file below the shared folder
    const inProject = nc.manifest.files.find((f) => f.owner === 'alice' && f.path.startsWith('Project/'))!;
    const r = await fetch(davUrl(srv.url, 'bob', inProject.path), { headers: { authorization: basic('bob', pw('bob')) } });
    assert.equal(r.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex'), inProject.sha256);
  });

  test('versions and trash items read back with the manifest sha256 (author, original location, deletion time kept); restores work', async () => {
    assert.match(importOut, /versions: 4, trash items: 2 \(3 files\) \(written\)/);
    await checkImportedHistory(srv.url, nc);
  });

  test('a second import is refused before changing anything, naming the users', async () => {
    const r = await coffer.occ(importArgs());
    assert.equal(r.code, 5);
    assert.match(r.stderr, /already exist in Coffer: .*alice.*bob.*carol/);
  });
});

describe('import:nextcloud refuses tampered content', { timeout: 300_000 }, () => {
  test('a flipped byte in one block: that file is reported by name and not imported, the others are', async () => {
    const nc = unpack('master-key');
    const coffer = await installCoffer();
    try {
      const victim = nc.manifest.files.find((f) => f.encrypted > 0 && f.size > 20_000 && !f.legacy_base64)!;
      const fd = openSync(join(nc.root, victim.physical_path), 'r+');
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, 8192 + 100);
      b[0] = b[0]! ^ 0x01;
      writeSync(fd, b, 0, 1, 8192 + 100);
      closeSync(fd);
      // and one old version: reported the same way, not imported
      const hm = nc.manifest as unknown as HistoryManifest;
      const oldVersion = hm.versions[0]!;
      const vfd = openSync(join(nc.root, oldVersion.physical_path), 'r+');
      readSync(vfd, b, 0, 1, 8192 + 10);
      b[0] = b[0]! ^ 0x01;
      writeSync(vfd, b, 0, 1, 8192 + 10);
      closeSync(vfd);
      const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data]);
      assert.equal(r.code, 7, r.stderr);
      assert.ok(r.stdout.includes(`${victim.owner}/files/${victim.path}: Bad signature`), r.stdout);
      assert.ok(r.stdout.includes(`${oldVersion.owner}/${oldVersion.physical_path.replace(/^data\/[^/]+\//, '')}: Bad signature`), r.stdout);
      const srv = await coffer.serve();
      try {
        const bad = await fetch(davUrl(srv.url, victim.owner, victim.path), { headers: { authorization: basic(victim.owner, nc.manifest.users.find((u) => u.uid === victim.owner)!.password) } });
        assert.equal(bad.status, 404);
        const pwOf = (uid: string) => nc.manifest.users.find((u) => u.uid === uid)!.password;
        const gv = await fetch(`${srv.url}/remote.php/dav/versions/${oldVersion.owner}/versions/${oldVersion.fileid}/${oldVersion.version_timestamp}`, { headers: { authorization: basic(oldVersion.owner, pwOf(oldVersion.owner)) } });
        assert.equal(gv.status, 404, 'the tampered version was not imported');
        const good = hm.versions[1]!;
        const gg = await fetch(`${srv.url}/remote.php/dav/versions/${good.owner}/versions/${good.fileid}/${good.version_timestamp}`, { headers: { authorization: basic(good.owner, pwOf(good.owner)) } });
        assert.equal(createHash('sha256').update(Buffer.from(await gg.arrayBuffer())).digest('hex'), good.sha256, 'the other versions were');
        const other = nc.manifest.files.find((f) => f !== victim && f.owner === victim.owner)!;
        const ok = await fetch(davUrl(srv.url, other.owner, other.path), { headers: { authorization: basic(other.owner, nc.manifest.users.find((u) => u.uid === other.owner)!.password) } });
        assert.equal(createHash('sha256').update(Buffer.from(await ok.arrayBuffer())).digest('hex'), other.sha256);
      } finally {
        await srv.stop();
      }
    } finally {
      coffer.cleanup();
      nc.cleanup();
    }
  });

  test('a truncated trashed file: exit 7 (an integrity failure by its error type, whatever the message), its trash item is left out whole', async () => {
    const nc = unpack('master-key');
    const coffer = await installCoffer();
    try {
      const hm = nc.manifest as unknown as HistoryManifest;
      const t = hm.trash.find((x) => x.kind === 'file')!;
      // the last block cut to 50 bytes: shorter than a block's IV and signature
      truncateSync(join(nc.root, t.physical_path), 8192 + 50);
      const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data, '--output', 'json']);
      assert.equal(r.code, 7, r.stderr);
      const rep = JSON.parse(r.stdout) as { skipped: { what: string; reason: string; integrity?: boolean }[]; history: { trashItems: number } };
      const named = rep.skipped.find((x) => x.what === `${t.owner}/files_trashbin/files/${t.trash_name}`);
      assert.ok(named?.integrity, JSON.stringify(rep.skipped));
      assert.doesNotMatch(named.reason, /signature|decrypts to|longer than|HMAC/i);
      assert.equal(rep.history.trashItems, hm.trash.length - 1);
      const srv = await coffer.serve();
      try {
        const pw = nc.manifest.users.find((u) => u.uid === t.owner)!.password;
        const g = await fetch(`${srv.url}/remote.php/dav/trashbin/${t.owner}/trash/${encodeURIComponent(t.trash_name)}`, { headers: { authorization: basic(t.owner, pw) } });
        assert.equal(g.status, 404);
      } finally {
        await srv.stop();
      }
    } finally {
      coffer.cleanup();
      nc.cleanup();
    }
  });
});
