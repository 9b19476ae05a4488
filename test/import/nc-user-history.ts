/**
 * Adds Nextcloud-format history for a user without recovery to the unpacked per-user-keys fixture
 * and its loaded MariaDB database, as Nextcloud 32 lays it out (manifest notes): old versions of one
 * of the user's files (`files_versions/<path>.v<ts>`, encrypted with the live file's key, which the
 * test opens with the user's password, each with its own `encrypted` counter, an `oc_files_versions`
 * row), and one trashed file (`files_trashbin/files/<name>.d<ts>`, a fresh file key sealed to the
 * user's public key under `keys/files_trashbin/files/`, an `oc_files_trash` row) with an old version
 * of its own (`files_trashbin/versions/<name>.v<vts>.d<ts>`, the trashed file's key).
 */
import { execFileSync } from 'node:child_process';
import { createHash, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decryptNcPrivateKey, openNcKeyFile, openNcShareKey } from '../../src/import/nextcloud-crypto.ts';
import { readNcConfig } from '../../src/import/nextcloud-config.ts';
import type { Unpacked } from './nc-fixture.ts';
import type { LoadedMariaDb } from './nc-mariadb.ts';
import { icryptoEncrypt, writeNcFile } from './nc-generator.ts';

export interface UserHistory {
  /** The live file the versions belong to. */
  readonly file: { fileid: number; path: string };
  readonly versions: { ts: number; size: number; sha256: string }[];
  readonly trash: { name: string; deletedAt: number; size: number; sha256: string; fileid: number; version: { ts: number; size: number; sha256: string } };
}

/** `versionSizes`: one old version of the live file per entry (default two: 3,000 and 9,000 bytes). */
export async function addUserHistory(nc: Unpacked, maria: LoadedMariaDb, uid: string, livePath: string, opts: { versionSizes?: readonly number[] } = {}): Promise<UserHistory> {
  const cfg = await readNcConfig(nc.configPhp, nc.data);
  const user = nc.manifest.users.find((u) => u.uid === uid)!;
  const live = nc.manifest.files.find((f) => f.owner === uid && f.path === livePath)!;
  const keyDir = join(nc.data, uid, 'files_encryption');
  const pem = decryptNcPrivateKey(openNcKeyFile(readFileSync(join(keyDir, 'OC_DEFAULT_MODULE', `${uid}.privateKey`)), cfg.secret), user.password, uid, cfg.instanceId, cfg.secret);
  const fileKey = await openNcShareKey(openNcKeyFile(readFileSync(join(keyDir, 'keys', 'files', livePath, 'OC_DEFAULT_MODULE', `${uid}.shareKey`)), cfg.secret), pem);
  const pub = openNcKeyFile(readFileSync(join(keyDir, 'OC_DEFAULT_MODULE', `${uid}.publicKey`)), cfg.secret).toString('utf8');

  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const sql: string[] = [`SET @s = (select numeric_id from oc_storages where id = ${q(`home::${uid}`)});`,
    "SET @dir = (select id from oc_mimetypes where mimetype = 'httpd/unix-directory');",
    "SET @bin = (select id from oc_mimetypes where mimetype = 'application/octet-stream');",
    "SET @httpd = (select id from oc_mimetypes where mimetype = 'httpd');",
    "SET @app = (select id from oc_mimetypes where mimetype = 'application');"];
  // folders: each row's parent is the one inserted before it (@p)
  const row = (path: string, kind: 'dir' | 'file', size: number, mtime: number, encrypted: number, parentVar: string, setVar: string) => {
    sql.push(`insert into oc_filecache (storage, path, path_hash, parent, name, mimetype, mimepart, size, mtime, storage_mtime, encrypted, unencrypted_size, etag, permissions, checksum)
      values (@s, ${q(path)}, '${md5(path)}', ${parentVar}, ${q(path.split('/').pop()!)}, ${kind === 'dir' ? '@dir' : '@bin'}, ${kind === 'dir' ? '@httpd' : '@app'},
      ${size}, ${mtime}, ${mtime}, ${encrypted}, 0, '${randomBytes(16).toString('hex')}', ${kind === 'dir' ? 31 : 27}, '');`);
    sql.push(`SET ${setVar} = LAST_INSERT_ID();`);
  };
  const disk = (area: string, rel: string) => { const p = join(nc.data, uid, area, rel); mkdirSync(dirname(p), { recursive: true }); return p; };

  sql.push(`SET @root = (select fileid from oc_filecache where storage = @s and path = '');`);
  // versions: files_versions/<dir>/<name>.v<ts>
  row('files_versions', 'dir', 0, 1_790_000_000, 0, '@root', '@p');
  const parts = livePath.split('/');
  for (let i = 1; i < parts.length; i++) row(`files_versions/${parts.slice(0, i).join('/')}`, 'dir', 0, 1_790_000_000, 0, '@p', '@p');
  const versions: UserHistory['versions'] = [];
  for (const [n, size] of (opts.versionSizes ?? [3000, 9000]).entries()) {
    const ts = 1_790_000_000 + n * 100;
    const sha256 = writeNcFile(disk('files_versions', `${livePath}.v${ts}`), size, fileKey, n + 1);
    row(`files_versions/${livePath}.v${ts}`, 'file', size, ts, n + 1, '@p', '@v');
    sql.push(`insert into oc_files_versions (file_id, timestamp, size, mimetype, metadata) values (${live.fileid}, ${ts}, ${size}, @bin, ${q(JSON.stringify({ author: uid }))});`);
    versions.push({ ts, size, sha256 });
  }
  // trash: files_trashbin/files/<name>.d<ts>
  const name = 'gone report.txt';
  const deletedAt = 1_791_000_000;
  const top = `${name}.d${deletedAt}`;
  const trashKey = randomBytes(32);
  const size = 20_000;
  const sha256 = writeNcFile(disk('files_trashbin/files', top), size, trashKey, 1);
  const shareKeyDir = join(keyDir, 'keys', 'files_trashbin', 'files', top, 'OC_DEFAULT_MODULE');
  mkdirSync(shareKeyDir, { recursive: true });
  const sealed = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, trashKey);
  writeFileSync(join(shareKeyDir, `${uid}.shareKey`), icryptoEncrypt(Buffer.from(JSON.stringify({ key: sealed.toString('base64') })), cfg.secret));
  row('files_trashbin', 'dir', 0, deletedAt, 0, '@root', '@tb');
  row('files_trashbin/files', 'dir', 0, deletedAt, 0, '@tb', '@p');
  row(`files_trashbin/files/${top}`, 'file', size, deletedAt, 1, '@p', '@t');
  // an old version of the trashed file: files_trashbin/versions/<name>.v<vts>.d<ts>, the trashed file's key
  const vts = 1_790_500_000;
  const vsize = 4000;
  const vname = `${name}.v${vts}.d${deletedAt}`;
  const vsha = writeNcFile(disk('files_trashbin/versions', vname), vsize, trashKey, 3);
  row('files_trashbin/versions', 'dir', 0, deletedAt, 0, '@tb', '@p');
  row(`files_trashbin/versions/${vname}`, 'file', vsize, vts, 3, '@p', '@v');
  sql.push(`insert into oc_files_trash (id, user, timestamp, location, deleted_by) values (${q(name)}, ${q(uid)}, '${deletedAt}', 'Reports', ${q(uid)});`);
  sql.push('select @t;');
  const out = execFileSync('mysql', ['-uroot', '--default-character-set=utf8mb4', '-N', '-B', maria.name], { input: sql.join('\n'), encoding: 'utf8' });
  const fileid = Number(out.trim().split('\n').pop());
  return { file: { fileid: live.fileid, path: livePath }, versions, trash: { name, deletedAt, size, sha256, fileid, version: { ts: vts, size: vsize, sha256: vsha } } };
}
