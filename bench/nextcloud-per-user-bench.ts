// Per-user-key import (issue #16): speed of keeping files in Nextcloud's form at import, of the first
// login (Nextcloud private key opened with the password, Coffer key wrapped), and of the background
// conversion. Generates `files` more files for bob (no recovery) in Nextcloud 32's per-user format into
// a copy of the user-keys fixture (MariaDB dump loaded on 127.0.0.1:3306), imports, logs bob in.
// Run: node --import tsx bench/nextcloud-per-user-bench.ts [files=1000] [MiB=256]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { basic, davUrl, installCoffer, unpack } from '../test/import/nc-fixture.ts';
import { loadMariaDbDump } from '../test/import/nc-mariadb.ts';
import { icryptoEncrypt, writeNcFile } from '../test/import/nc-generator.ts';
import { OCC, ROOT } from '../test/cli/occ-harness.ts';
import { openNcKeyFile } from '../src/import/nextcloud-crypto.ts';

const files = Number(process.argv[2] ?? 1000);
const totalMiB = Number(process.argv[3] ?? 256);
const MiB = 1 << 20;
const size = Math.floor((totalMiB * MiB) / files);

const nc = unpack('user-keys');
const maria = loadMariaDbDump(join(nc.root, 'db.sql'));
const coffer = await installCoffer();
const sql = (q: string) => execFileSync('mysql', ['-uroot', '-N', '-B', maria.name, '-e', q], { encoding: 'utf8' }).trim();
try {
  const secret = /'secret' => '([^']+)'/.exec(readFileSync(nc.configPhp, 'utf8'))![1]!;
  const keyDirOf = (uid: string) => join(nc.data, uid, 'files_encryption', 'OC_DEFAULT_MODULE');
  const pub = openNcKeyFile(readFileSync(join(keyDirOf('bob'), 'bob.publicKey')), secret).toString('utf8');
  const storage = Number(sql("select numeric_id from oc_storages where id = 'home::bob'"));
  const filesId = Number(sql(`select fileid from oc_filecache where storage = ${storage} and path = 'files'`));
  const mime = (m: string) => Number(sql(`select id from oc_mimetypes where mimetype = '${m}'`) || sql(`insert into oc_mimetypes (mimetype) values ('${m}'); select last_insert_id()`));
  const dirMime = mime('httpd/unix-directory');
  const binMime = mime('application/octet-stream');
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const now = Math.floor(Date.now() / 1000);
  const row = (path: string, parent: number, mt: number, sz: number, enc: number) =>
    `insert into oc_filecache (storage, path, path_hash, parent, name, mimetype, mimepart, size, mtime, storage_mtime, encrypted, unencrypted_size, etag, permissions, checksum) values (${storage}, '${path}', '${md5(path)}', ${parent}, '${path.split('/').pop()}', ${mt}, ${dirMime}, ${sz}, ${now}, ${now}, ${enc}, ${enc ? sz : 0}, '${randomBytes(8).toString('hex')}', 27, '');`;
  let t = Date.now();
  const gen = Number(sql(row('files/gen', filesId, dirMime, 0, 0) + ' select last_insert_id()'));
  let stmts: string[] = [];
  let dir = 0;
  for (let i = 0; i < files; i++) {
    if (i % 100 === 0) {
      if (stmts.length) { sql(stmts.join('\n')); stmts = []; }
      dir = Number(sql(row(`files/gen/d${String(i / 100).padStart(3, '0')}`, gen, dirMime, 0, 0) + ' select last_insert_id()'));
    }
    const rel = `gen/d${String(Math.floor(i / 100)).padStart(3, '0')}/f${i}.bin`;
    const fileKey = randomBytes(32);
    const file = join(nc.data, 'bob', 'files', rel);
    mkdirSync(dirname(file), { recursive: true });
    writeNcFile(file, size, fileKey, 1);
    const kd = join(nc.data, 'bob', 'files_encryption', 'keys', 'files', rel, 'OC_DEFAULT_MODULE');
    mkdirSync(kd, { recursive: true });
    const shareKey = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, fileKey);
    writeFileSync(join(kd, 'bob.shareKey'), icryptoEncrypt(Buffer.from(JSON.stringify({ key: shareKey.toString('base64') })), secret));
    stmts.push(row(`files/${rel}`, dir, binMime, size, 1));
  }
  if (stmts.length) sql(stmts.join('\n'));
  console.log(`generated ${files} files of bob, ${((files * size) / MiB).toFixed(0)} MiB, in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  t = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'peakRSS %M KiB', OCC, 'import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data,
    '--database-url', maria.url, '--recovery-password-from-env'],
  { cwd: ROOT, env: { ...process.env, ...coffer.env, OC_RECOVERY_PASS: nc.manifest.encryption.recovery_password! }, encoding: 'utf8', maxBuffer: 64 * MiB });
  const s = (Date.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`import exited ${r.status}: ${r.stderr.split('\n').slice(-5).join('\n')}`);
  console.log(r.stdout.trim().split('\n').slice(-12).join('\n'));
  console.log(`import: ${s.toFixed(1)} s, ${((files * size) / MiB / s).toFixed(1)} MiB/s, ${(files / s).toFixed(0)} files/s (whole ./occ run); ${r.stderr.trim().split('\n').pop()}`);

  const srv = await coffer.serve();
  try {
    const bob = nc.manifest.users.find((u) => u.uid === 'bob')!;
    await srv.app.ncPending.converter.stop(); // time the login alone first
    t = Date.now();
    const p = await fetch(davUrl(srv.url, 'bob', ''), { method: 'PROPFIND', headers: { authorization: basic('bob', bob.password), depth: '0' } });
    console.log(`bob's first login (PBKDF2 600k of Nextcloud's key, RSA, argon2id wrap): ${Date.now() - t} ms, status ${p.status}`);
  } finally {
    await srv.stop();
  }
  const srv2 = await coffer.serve();
  try {
    const bob = nc.manifest.users.find((u) => u.uid === 'bob')!;
    t = Date.now();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 100);
    await fetch(davUrl(srv2.url, 'bob', ''), { method: 'PROPFIND', headers: { authorization: basic('bob', bob.password), depth: '0' } });
    await srv2.app.ncPending.converter.idle('bob');
    clearInterval(timer);
    const c = (Date.now() - t) / 1000;
    const left = await srv2.app.ncPending.repo.totals();
    console.log(`conversion: ${c.toFixed(1)} s, ${((files * size) / MiB / c).toFixed(1)} MiB/s, ${(files / c).toFixed(0)} files/s; left pending: ${JSON.stringify(left)}; RSS ${(rss0 / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB (server in this process)`);
  } finally {
    await srv2.stop();
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  maria.drop();
  coffer.cleanup();
  nc.cleanup();
}
