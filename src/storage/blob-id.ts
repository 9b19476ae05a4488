import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors.ts';

/** What both stores accept as a blob id (ids from newBlobId, and older ids of other shapes). */
const BLOB_ID = /^[a-z0-9][a-z0-9-]{7,63}$/;

/**
 * Where a blob lives below a store's root, the same for both stores: `<id[0..2]>/<id[2..4]>/<id>`
 * (folders on local disk, key prefixes on S3), so that no folder holds more than a few thousand
 * entries.
 * @throws ValidationError when `blobId` is not a valid blob id.
 */
export function shardedPath(blobId: string): [string, string, string] {
  if (!BLOB_ID.test(blobId)) throw new ValidationError('invalid blob id');
  return [blobId.slice(0, 2), blobId.slice(2, 4), blobId];
}

/** The blob id stored at `a/b/name`, or null when that is not where shardedPath puts a blob. */
export function blobIdAt(a: string, b: string, name: string): string | null {
  return BLOB_ID.test(name) && name.slice(0, 2) === a && name.slice(2, 4) === b ? name : null;
}

/** Ids drawn in a row that share their first four hex digits (their shard folder). */
const IDS_PER_SHARD = 4096;
let shardPrefix = '';
let shardLeft = 0;

/**
 * A fresh blob id: 32 hex digits, of which the first four (the shard `<id[0..2]>/<id[2..4]>`) are shared by IDS_PER_SHARD ids in a row of this process, then drawn again at
 * random, and the other 28 are random (112 bits, far beyond any collision; the stores also refuse
 * to overwrite). Fully random ids put nearly every blob of a store under a million files into a
 * new folder: a mkdir and a directory block per small file, about a tenth of a small PUT's cost.
 * Over time the prefixes still spread evenly over all 65,536 folders. Ids are opaque names, not
 * key material (docs/FORMAT.md binds them into headers only as identifiers).
 */
export function newBlobId(): string {
  if (shardLeft-- <= 0) {
    shardPrefix = randomBytes(2).toString('hex');
    shardLeft = IDS_PER_SHARD - 1;
  }
  return shardPrefix + randomBytes(14).toString('hex');
}
