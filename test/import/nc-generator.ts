/**
 * Writes a larger Nextcloud-format tree from what the fixtures show: into an unpacked master-key
 * fixture, `count` more files for one user, each encrypted as Nextcloud 32 does (8192-byte header,
 * signed binary blocks, a fresh file key RSA-OAEP-sealed to the master key, the share key wrapped in
 * ICrypto v3 under the config secret) with its `oc_filecache` row. Used by the import benchmark.
 */
import { createCipheriv, createHash, createHmac, hkdfSync, pbkdf2Sync, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { openNcKeyFile } from '../../src/import/nextcloud-crypto.ts';

/** ICrypto::encrypt v3 (lib/private/Security/Crypto.php). */
export function icryptoEncrypt(plain: Buffer, secret: string): string {
  const km = Buffer.from(hkdfSync('sha512', Buffer.from(secret), Buffer.alloc(0), Buffer.alloc(0), 64));
  const iv = randomBytes(16);
  const c = createCipheriv('aes-128-cbc', pbkdf2Sync(km.subarray(0, 32), 'phpseclib', 1000, 16, 'sha1'), iv);
  const ctHex = Buffer.concat([c.update(plain), c.final()]).toString('hex');
  const ivHex = iv.toString('hex');
  const macKey = createHash('sha512').update(Buffer.concat([km.subarray(32), Buffer.from('a')])).digest('hex');
  return `${ctHex}|${ivHex}|${createHmac('sha512', macKey).update(ctHex + ivHex).digest('hex')}|3`;
}

const HEADER = 'HBEGIN:oc_encryption_module:OC_DEFAULT_MODULE:cipher:AES-256-CTR:signed:true:useLegacyFileKey:false:encoding:binary:HEND';

/** Writes `size` pseudo-random plaintext bytes as a Nextcloud binary-encoded file; returns its plaintext sha256. */
export function writeNcFile(file: string, size: number, fileKey: Buffer, version: number): string {
  const fd = openSync(file, 'w');
  const sha = createHash('sha256');
  try {
    writeSync(fd, Buffer.from(HEADER.padEnd(8192, '-'), 'latin1'));
    const last = Math.floor(size / 8096);
    const seed = randomBytes(8096);
    for (let i = 0, off = 0; off < size; i++, off += 8096) {
      const plain = seed.subarray(0, Math.min(8096, size - off));
      if (plain.length >= 4) plain.writeUInt32BE(i, 0); // blocks differ
      sha.update(plain);
      const iv = randomBytes(16);
      const c = createCipheriv('aes-256-ctr', fileKey, iv);
      const ct = Buffer.concat([c.update(plain), c.final()]);
      const pos = i === last ? `${i}end` : String(i);
      const macKey = createHash('sha512').update(Buffer.concat([fileKey, Buffer.from(`_${version}_${pos}a`)])).digest();
      const sig = createHmac('sha256', macKey).update(ct).digest('hex');
      writeSync(fd, Buffer.concat([ct, Buffer.from('00iv00'), iv, Buffer.from('00sig00'), Buffer.from(sig), Buffer.from('xxx')]));
    }
  } finally {
    closeSync(fd);
  }
  return sha.digest('hex');
}

/** `paths` (relative to the owner's files) and the plaintext `sha256` of each file, in order. */
export interface Generated { readonly files: number; readonly bytes: number; readonly paths: string[]; readonly sha256: string[] }

/**
 * Adds `count` files of `sizeOf(i)` bytes under `<owner>/files/gen/dNN/` of the unpacked fixture at
 * `root` (folders of 100 files), with their rows in its owncloud.db.
 */
export function generateNcFiles(root: string, opts: { owner: string; secret: string; masterKeyId: string; count: number; sizeOf: (i: number) => number }): Generated {
  const data = join(root, 'data');
  const pub = openNcKeyFile(readFileSync(join(data, 'files_encryption', 'OC_DEFAULT_MODULE', `${opts.masterKeyId}.publicKey`)), opts.secret).toString('utf8');
  const db = new SQLite(join(data, 'owncloud.db'));
  try {
    const storage = (db.prepare('select numeric_id from oc_storages where id = ?').get(`home::${opts.owner}`) as { numeric_id: number }).numeric_id;
    const filesId = (db.prepare("select fileid from oc_filecache where storage = ? and path = 'files'").get(storage) as { fileid: number }).fileid;
    const mime = (name: string) => {
      const r = db.prepare('select id from oc_mimetypes where mimetype = ?').get(name) as { id: number } | undefined;
      return r ? r.id : Number(db.prepare('insert into oc_mimetypes (mimetype) values (?)').run(name).lastInsertRowid);
    };
    const dirMime = mime('httpd/unix-directory');
    const binMime = mime('application/octet-stream');
    const dirPart = mime('httpd');
    const insert = db.prepare(`insert into oc_filecache (storage, path, path_hash, parent, name, mimetype, mimepart, size, mtime, storage_mtime, encrypted, unencrypted_size, etag, permissions, checksum)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, '')`);
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const now = Math.floor(Date.now() / 1000);
    const addDir = (path: string, parent: number) => Number(insert.run(storage, path, md5(path), parent, path.split('/').pop(), dirMime, dirPart, 0, now, now, 0, randomBytes(7).toString('hex'), 31).lastInsertRowid);
    const gen = addDir('files/gen', filesId);
    let dir = 0;
    let bytes = 0;
    const paths: string[] = [];
    const sha256: string[] = [];
    db.exec('begin');
    for (let i = 0; i < opts.count; i++) {
      if (i % 100 === 0) dir = addDir(`files/gen/d${String(i / 100).padStart(3, '0')}`, gen);
      const rel = `gen/d${String(Math.floor(i / 100)).padStart(3, '0')}/f${i}.bin`;
      const size = opts.sizeOf(i);
      const fileKey = randomBytes(32);
      const file = join(data, opts.owner, 'files', rel);
      mkdirSync(dirname(file), { recursive: true });
      sha256.push(writeNcFile(file, size, fileKey, 1));
      paths.push(rel);
      const keyDir = join(data, opts.owner, 'files_encryption', 'keys', 'files', rel, 'OC_DEFAULT_MODULE');
      mkdirSync(keyDir, { recursive: true });
      const shareKey = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, fileKey);
      const wrapped = icryptoEncrypt(Buffer.from(JSON.stringify({ key: shareKey.toString('base64') })), opts.secret);
      const fd = openSync(join(keyDir, `${opts.masterKeyId}.shareKey`), 'w');
      writeSync(fd, wrapped);
      closeSync(fd);
      insert.run(storage, `files/${rel}`, md5(`files/${rel}`), dir, `f${i}.bin`, binMime, mime('application'), size, now, now, 1, randomBytes(16).toString('hex'), 27);
      bytes += size;
    }
    db.exec('commit');
    return { files: opts.count, bytes, paths, sha256 };
  } finally {
    db.close();
  }
}
