// Throughput of the cfe1 format in memory: encrypt and decrypt 256 MiB with each cipher, plus overhead.
// Run: node --import tsx bench/crypto-bench.ts
import { createCipheriv, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CIPHER_AES_256_GCM, CIPHER_CHACHA20_POLY1305, DecryptStream, EncryptStream, encryptedSize, type CipherId } from '../src/crypto/index.ts';

const TOTAL = 256 << 20;
const piece = randomBytes(1 << 20);
const kek = randomBytes(32), keyId = randomBytes(16), blobId = randomBytes(16);

function source(): Readable {
  let n = 0;
  return new Readable({ read() { if (n >= TOTAL) this.push(null); else { n += piece.length; this.push(piece); } } });
}

async function run(cipher: CipherId): Promise<{ enc: number; dec: number }> {
  let t = process.hrtime.bigint();
  await pipeline(source(), new EncryptStream({ cipher, fileId: 1, blobId, keyId, kek }), new Writable({ write(_c: Buffer, _e, cb) { cb(); } }));
  const enc = TOTAL / (1 << 20) / (Number(process.hrtime.bigint() - t) / 1e9);
  const sampleChunks: Buffer[] = []; // the ciphertext for the decrypt run (untimed)
  await pipeline(source(), new EncryptStream({ cipher, fileId: 1, blobId, keyId, kek }), new Writable({ write(c: Buffer, _e, cb) { sampleChunks.push(c); cb(); } }));
  let got = 0;
  t = process.hrtime.bigint();
  await pipeline(Readable.from(sampleChunks), new DecryptStream({ resolveKek: () => kek }), new Writable({ write(c: Buffer, _e, cb) { got += c.length; cb(); } }));
  if (got !== TOTAL) throw new Error(`decrypted ${got} bytes`);
  const dec = TOTAL / (1 << 20) / (Number(process.hrtime.bigint() - t) / 1e9);
  return { enc, dec };
}

console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}; 256 MiB in memory, 64 KiB chunks`);
for (const [name, id] of [['AES-256-GCM', CIPHER_AES_256_GCM], ['ChaCha20-Poly1305', CIPHER_CHACHA20_POLY1305]] as const) {
  const runs: { enc: number; dec: number }[] = [];
  for (let i = 0; i < 3; i++) runs.push(await run(id));
  const best = (k: 'enc' | 'dec') => Math.max(...runs.map((r) => r[k])).toFixed(0);
  const med = (k: 'enc' | 'dec') => runs.map((r) => r[k]).sort((a, b) => a - b)[1]!.toFixed(0);
  console.log(`${name.padEnd(18)} encrypt ${med('enc')} MiB/s (best ${best('enc')}), decrypt ${med('dec')} MiB/s (best ${best('dec')})`);
}
// Ceiling without streams: one cipher object per 64 KiB chunk, as the format requires.
{
  const pt = randomBytes(65536), key = randomBytes(32), iv = Buffer.alloc(12);
  const n = TOTAL / 65536;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) { iv.writeUInt32BE(i, 4); const c = createCipheriv('aes-256-gcm', key, iv); c.update(pt); c.final(); c.getAuthTag(); }
  console.log(`baseline (createCipheriv per chunk, no streams): ${(TOTAL / (1 << 20) / (Number(process.hrtime.bigint() - t) / 1e9)).toFixed(0)} MiB/s`);
}
for (const [label, n] of [['4 KiB', 4096], ['1 MiB', 1 << 20], ['1 GiB', 1 << 30]] as const) {
  const raw = encryptedSize(n);
  console.log(`overhead at ${label.padEnd(6)}: ${raw - n} B (${((raw - n) / n * 100).toFixed(4)} %)`);
}
