import { createReadStream, createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CryptoError, ValidationError } from '../../errors.ts';
import { DecryptStream } from '../../crypto/decrypt-stream.ts';
import type { OpenedHeader } from '../../crypto/blob-header.ts';
import { KeyStore } from '../../keys/key-store.ts';
import { blobIdBytes } from '../encrypted-blob-store.ts';
import { KeyManager } from '../master-key/key-manager.ts';

export interface OfflineDecryptOptions {
  /** Path of the stored blob (e.g. `<data>/blobs/ab/cd/<id>`). */
  blobFile: string;
  outFile: string;
  /** Key storage root (the data directory unless moved), the config secret and instance id … */
  keysRoot?: string;
  secret?: string;
  instanceId?: string;
  /** … or an existing KeyManager (inside a running app). */
  keys?: KeyManager;
  /** Expected file id (from a database, if there is one); the blob id is checked against the file name when it looks like one. */
  expectFileId?: number;
}

/**
 * Decrypts one blob with the key storage and the config secret alone — no database. Writes to a temp
 * file and renames, so a failed run leaves no partial output.
 * @throws CryptoError on any integrity failure or missing key; ValidationError without keys.
 */
export async function decryptBlobFile(o: OfflineDecryptOptions): Promise<{ fileId: number; bytes: number }> {
  let keys = o.keys;
  if (!keys) {
    if (o.keysRoot === undefined || o.secret === undefined || o.instanceId === undefined) throw new ValidationError('decryptBlobFile needs keys, or keysRoot + secret + instanceId');
    keys = new KeyManager({ keyStore: new KeyStore(o.keysRoot), secret: o.secret, instanceId: o.instanceId });
  }
  const km = keys;
  let fileId = -1;
  let bytes = 0;
  const name = basename(o.blobFile);
  const dec = new DecryptStream({
    resolveKek: (keyId) => km.resolveKey(keyId),
    // Identity checks that need no database: the blob id in the file name, and the file id if given.
    onHeader: (h: OpenedHeader) => {
      fileId = h.header.fileId;
      const nameMismatch = /^[0-9a-f]{32}$/.test(name) && !h.header.blobId.equals(blobIdBytes(name));
      if (nameMismatch || (o.expectFileId !== undefined && o.expectFileId !== fileId)) {
        throw new CryptoError('wrong-binding', `blob belongs to another file or version (header: file ${fileId}, version ${h.header.blobId.toString('hex')})`);
      }
    },
  });
  const tmp = `${o.outFile}.part-${process.pid}`;
  try {
    await pipeline(createReadStream(o.blobFile), dec, async function* (src) {
      for await (const c of src) { bytes += (c as Buffer).length; yield c; }
    }, createWriteStream(tmp, { mode: 0o600 }));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await rename(tmp, o.outFile);
  return { fileId, bytes };
}
