/**
 * Writes Nextcloud-format versions and trash into an unpacked master-key fixture, as the fixture
 * shows Nextcloud 32 lays them out: for `files` new live files, `versionsPerFile` old versions each
 * (`files_versions/<path>.v<ts>`, encrypted with the live file's key, each with its own `encrypted`
 * counter, an `oc_files_versions` row with author and label); `trashFiles` trashed files and one
 * trashed folder with nested subfolders (`files_trashbin/files/<name>.d<ts>[/…]`, their share keys
 * under `keys/files_trashbin/files/`, `oc_files_trash` rows). Used by a test and the history bench.
 */
import { createHash, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { openNcKeyFile } from '../../src/import/nextcloud-crypto.ts';
import { icryptoEncrypt, writeNcFile } from './nc-generator.ts';

export interface GeneratedHistory {
  /** The live files, with their versions (version timestamps and plaintext sha256). */
  readonly files: { fileid: number; path: string; sha256: string; versions: { ts: number; size: number; sha256: string; author: string; label: string }[] }[];
  /** Trash items: name, deletion time, Nextcloud's location, the item's file id, its files by path inside it. */
  readonly trash: { name: string; deletedAt: number; location: string; fileid: number; kind: 'file' | 'folder'; files: { rel: string; size: number; sha256: string; fileid: number }[] }[];
  readonly versionBytes: number;
  readonly trashBytes: number;
}

export function generateNcHistory(root: string, opts: {
  owner: string; secret: string; masterKeyId: string; files: number; versionsPerFile: number; sizeOf: (i: number) => number;
  trashFiles: number; folderFiles: number;
}): GeneratedHistory {
  const data = join(root, 'data');
  const pub = openNcKeyFile(readFileSync(join(data, 'files_encryption', 'OC_DEFAULT_MODULE', `${opts.masterKeyId}.publicKey`)), opts.secret).toString('utf8');
  const writeShareKey = (area: string, rel: string, fileKey: Buffer) => {
    const dir = join(data, opts.owner, 'files_encryption', 'keys', area, rel, 'OC_DEFAULT_MODULE');
    mkdirSync(dir, { recursive: true });
    const shareKey = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, fileKey);
    writeFileSync(join(dir, `${opts.masterKeyId}.shareKey`), icryptoEncrypt(Buffer.from(JSON.stringify({ key: shareKey.toString('base64') })), opts.secret));
  };
  const db = new SQLite(join(data, 'owncloud.db'));
  try {
    const storage = (db.prepare('select numeric_id from oc_storages where id = ?').get(`home::${opts.owner}`) as { numeric_id: number }).numeric_id;
    const idOf = (path: string) => (db.prepare('select fileid from oc_filecache where storage = ? and path = ?').get(storage, path) as { fileid: number } | undefined)?.fileid;
    const mime = (name: string) => {
      const r = db.prepare('select id from oc_mimetypes where mimetype = ?').get(name) as { id: number } | undefined;
      return r ? r.id : Number(db.prepare('insert into oc_mimetypes (mimetype) values (?)').run(name).lastInsertRowid);
    };
    const dirMime = mime('httpd/unix-directory');
    const binMime = mime('application/octet-stream');
    const insert = db.prepare(`insert into oc_filecache (storage, path, path_hash, parent, name, mimetype, mimepart, size, mtime, storage_mtime, encrypted, unencrypted_size, etag, permissions, checksum)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, '')`);
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const now = Math.floor(Date.now() / 1000);
    const row = (path: string, parent: number, kind: 'dir' | 'file', size: number, mtime: number, encrypted: number) =>
      Number(insert.run(storage, path, md5(path), parent, path.split('/').pop(), kind === 'dir' ? dirMime : binMime, kind === 'dir' ? mime('httpd') : mime('application'),
        size, mtime, mtime, encrypted, randomBytes(16).toString('hex'), kind === 'dir' ? 31 : 27).lastInsertRowid);
    const dirAt = (path: string): number => {
      const have = idOf(path);
      if (have !== undefined) return have;
      const cut = path.lastIndexOf('/');
      return row(path, dirAt(cut < 0 ? '' : path.slice(0, cut)), 'dir', 0, now, 0);
    };
    const file = (area: string, rel: string, size: number, fileKey: Buffer, counter: number, mtime: number) => {
      const disk = join(data, opts.owner, area, rel);
      mkdirSync(dirname(disk), { recursive: true });
      const sha256 = writeNcFile(disk, size, fileKey, counter);
      const fileid = row(`${area}/${rel}`, dirAt(`${area}/${rel}`.slice(0, `${area}/${rel}`.lastIndexOf('/'))), 'file', size, mtime, counter);
      return { sha256, fileid };
    };
    const out: { files: GeneratedHistory['files'][number][]; trash: GeneratedHistory['trash'][number][] } = { files: [], trash: [] };
    let versionBytes = 0;
    let trashBytes = 0;
    db.exec('begin');
    const insVersion = db.prepare('insert into oc_files_versions (file_id, timestamp, size, mimetype, metadata) values (?, ?, ?, ?, ?)');
    for (let i = 0; i < opts.files; i++) {
      const rel = `hist/d${Math.floor(i / 100)}/f${i}.bin`;
      const fileKey = randomBytes(32);
      // versions keep the counter they were written with; the live file is the last write
      const versions: GeneratedHistory['files'][number]['versions'] = [];
      const vs: { ts: number; sha256: string; size: number }[] = [];
      for (let v = 0; v < opts.versionsPerFile; v++) {
        const ts = 1_700_000_000 + i * 1000 + v;
        const size = opts.sizeOf(i * opts.versionsPerFile + v);
        const { sha256 } = file('files_versions', `${rel}.v${ts}`, size, fileKey, v + 1, ts);
        vs.push({ ts, sha256, size });
        versionBytes += size;
      }
      const live = file('files', rel, 1000 + i, fileKey, opts.versionsPerFile + 1, 1_700_000_000 + i * 1000 + opts.versionsPerFile);
      writeShareKey('files', rel, fileKey);
      for (const v of vs) {
        const label = v.ts % 2 === 0 ? `label ${v.ts}` : '';
        insVersion.run(live.fileid, v.ts, v.size, binMime, JSON.stringify(label ? { author: opts.owner, label } : { author: opts.owner }));
        versions.push({ ...v, author: opts.owner, label });
      }
      out.files.push({ fileid: live.fileid, path: rel, sha256: live.sha256, versions });
    }
    const insTrash = db.prepare("insert into oc_files_trash (id, user, timestamp, location, deleted_by) values (?, ?, ?, ?, ?)");
    for (let i = 0; i < opts.trashFiles; i++) {
      const name = `gone ${i}.bin`;
      const deletedAt = 1_750_000_000 + i;
      const top = `${name}.d${deletedAt}`;
      const fileKey = randomBytes(32);
      const size = opts.sizeOf(i);
      const f = file('files_trashbin/files', top, size, fileKey, 1, deletedAt);
      writeShareKey('files_trashbin/files', top, fileKey);
      insTrash.run(name, opts.owner, String(deletedAt), i % 2 === 0 ? '.' : 'hist/d0', opts.owner);
      out.trash.push({ name, deletedAt, location: i % 2 === 0 ? '.' : 'hist/d0', fileid: f.fileid, kind: 'file', files: [{ rel: '', size, sha256: f.sha256, fileid: f.fileid }] });
      trashBytes += size;
    }
    if (opts.folderFiles > 0) {
      const deletedAt = 1_760_000_000;
      const top = `Deep Folder.d${deletedAt}`;
      const topId = dirAt(`files_trashbin/files/${top}`);
      dirAt(`files_trashbin/files/${top}/empty`);
      const files: GeneratedHistory['trash'][number]['files'] = [];
      for (let j = 0; j < opts.folderFiles; j++) {
        const rel = `${['a', 'a/b', 'a/b/c'][j % 3]}/f${j}.bin`;
        const fileKey = randomBytes(32);
        const size = opts.sizeOf(j + 3);
        const f = file('files_trashbin/files', `${top}/${rel}`, size, fileKey, 1, deletedAt);
        writeShareKey('files_trashbin/files', `${top}/${rel}`, fileKey);
        files.push({ rel, size, sha256: f.sha256, fileid: f.fileid });
        trashBytes += size;
      }
      insTrash.run('Deep Folder', opts.owner, String(deletedAt), 'hist', opts.owner);
      out.trash.push({ name: 'Deep Folder', deletedAt, location: 'hist', fileid: topId, kind: 'folder', files });
    }
    db.exec('commit');
    return { ...out, versionBytes, trashBytes };
  } finally {
    db.close();
  }
}
