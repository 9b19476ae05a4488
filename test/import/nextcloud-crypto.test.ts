/**
 * Nextcloud's encryption format read by our own code, on the master-key fixture's real files: every
 * encrypted file decrypts to the manifest sha256 (binary and legacy base64, the file written 4 times
 * with counter 4), and wrong counters, truncation, extension, reordered blocks and modified key files
 * fail with CryptoError, never with wrong bytes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { CryptoError } from '../../src/errors.ts';
import { NC_BLOCK_SIZE, NcDecryptStream, decryptNcPrivateKey, openNcKeyFile, openNcShareKey } from '../../src/import/nextcloud-crypto.ts';
import { unpack, type Unpacked } from './nc-fixture.ts';

describe('Nextcloud encryption format', { timeout: 120_000 }, () => {
  let nc: Unpacked;
  let secret: string;
  let pem: string;

  before(() => {
    nc = unpack('master-key');
    secret = /'secret' => '([^']+)'/.exec(readFileSync(nc.configPhp, 'utf8'))![1]!;
    const id = (nc.manifest as unknown as { encryption: { appconfig: { masterKeyId: string } } }).encryption.appconfig.masterKeyId;
    pem = decryptNcPrivateKey(openNcKeyFile(readFileSync(join(nc.data, 'files_encryption', 'OC_DEFAULT_MODULE', `${id}.privateKey`)), secret), secret, id, nc.manifest.instanceid, secret);
  });
  after(() => nc?.cleanup());

  const fileKeyOf = (owner: string, path: string) => {
    const id = (nc.manifest as unknown as { encryption: { appconfig: { masterKeyId: string } } }).encryption.appconfig.masterKeyId;
    return openNcShareKey(openNcKeyFile(readFileSync(join(nc.data, owner, 'files_encryption', 'keys', 'files', path, 'OC_DEFAULT_MODULE', `${id}.shareKey`)), secret), pem);
  };
  /** `chunk`: the sizes the bytes arrive in, cycled (default: all at once). */
  const decrypt = async (bytes: Buffer, fileKey: Buffer, version: number, plainSize: number, chunk: number[] = [bytes.length]) => {
    const h = createHash('sha256');
    const parts: Buffer[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const n = chunk[i % chunk.length]!; // 0: an empty read
      parts.push(bytes.subarray(at, at + n));
      at += n;
    }
    await pipeline(Readable.from(parts), new NcDecryptStream({ fileKey, version, plainSize }), new Writable({ write(c: Buffer, _e, cb) { h.update(c); cb(); } }));
    return h.digest('hex');
  };

  test('every encrypted file of the fixture decrypts to the manifest sha256', async () => {
    const enc = nc.manifest.files.filter((f) => f.encrypted > 0);
    assert.ok(enc.some((f) => f.legacy_base64) && enc.some((f) => f.encrypted > 1));
    for (const f of enc) {
      const bytes = readFileSync(join(nc.root, f.physical_path));
      assert.equal(await decrypt(bytes, await fileKeyOf(f.owner, f.path), f.encrypted, f.size), f.sha256, f.path);
    }
  });

  test('the decryption is the same whatever sizes the bytes arrive in (block boundaries, partial blocks, empty reads)', async () => {
    const f = nc.manifest.files.find((x) => x.encrypted > 0 && x.size > 3 * 8096 && !x.legacy_base64)!;
    const bytes = readFileSync(join(nc.root, f.physical_path));
    const key = await fileKeyOf(f.owner, f.path);
    for (const chunk of [[NC_BLOCK_SIZE], [NC_BLOCK_SIZE * 2], [NC_BLOCK_SIZE + 1], [NC_BLOCK_SIZE - 1], [1000, 0, 7000, 20_000], [3 * NC_BLOCK_SIZE, 5], [65_536]]) {
      assert.equal(await decrypt(bytes, key, f.encrypted, f.size, chunk), f.sha256, `chunks of ${chunk.join(', ')}`);
    }
    const legacy = nc.manifest.files.find((x) => x.encrypted > 0 && x.legacy_base64)!;
    const lb = readFileSync(join(nc.root, legacy.physical_path));
    assert.equal(await decrypt(lb, await fileKeyOf(legacy.owner, legacy.path), legacy.encrypted, legacy.size, [NC_BLOCK_SIZE, 999]), legacy.sha256);
  });

  test('a wrong counter, truncation, an extra block and swapped blocks are refused', async () => {
    const f = nc.manifest.files.find((x) => x.encrypted > 0 && x.size > 3 * 8096 && !x.legacy_base64)!;
    const bytes = readFileSync(join(nc.root, f.physical_path));
    const key = await fileKeyOf(f.owner, f.path);
    await assert.rejects(decrypt(bytes, key, f.encrypted + 1, f.size), (e) => e instanceof CryptoError && /Bad signature/.test(e.message));
    await assert.rejects(decrypt(bytes.subarray(0, bytes.length - NC_BLOCK_SIZE), key, f.encrypted, f.size), CryptoError);
    const block1 = bytes.subarray(NC_BLOCK_SIZE, 2 * NC_BLOCK_SIZE);
    await assert.rejects(decrypt(Buffer.concat([bytes, block1]), key, f.encrypted, f.size), CryptoError);
    const b2 = bytes.subarray(2 * NC_BLOCK_SIZE, 3 * NC_BLOCK_SIZE);
    const swapped = Buffer.concat([bytes.subarray(0, NC_BLOCK_SIZE), b2, block1, bytes.subarray(3 * NC_BLOCK_SIZE)]);
    await assert.rejects(decrypt(swapped, key, f.encrypted, f.size), CryptoError);
    await assert.rejects(decrypt(bytes, key, f.encrypted, f.size + 1), CryptoError);
    const other = nc.manifest.files.find((x) => x.encrypted > 0 && x !== f && !x.legacy_base64)!;
    await assert.rejects(decrypt(bytes, await fileKeyOf(other.owner, other.path), f.encrypted, f.size), CryptoError);
  });

  test('a modified key file and a wrong private-key password are refused', () => {
    const id = (nc.manifest as unknown as { encryption: { appconfig: { masterKeyId: string } } }).encryption.appconfig.masterKeyId;
    const raw = readFileSync(join(nc.data, 'files_encryption', 'OC_DEFAULT_MODULE', `${id}.privateKey`), 'latin1');
    const flipped = (raw[0] === 'a' ? 'b' : 'a') + raw.slice(1);
    assert.throws(() => openNcKeyFile(Buffer.from(flipped, 'latin1'), secret), /HMAC does not match/);
    assert.throws(() => openNcKeyFile(Buffer.from(raw, 'latin1'), `${secret}x`), CryptoError);
    const inner = openNcKeyFile(Buffer.from(raw, 'latin1'), secret);
    assert.throws(() => decryptNcPrivateKey(inner, 'wrong password', id, nc.manifest.instanceid, secret), CryptoError);
  });
});
