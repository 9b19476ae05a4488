/**
 * PUT and GET throughput of the S3 content store against an S3 endpoint, plain (S3BlobStore) and
 * encrypted (the unchanged EncryptedBlobStore decorator over it, master-key mode, AES-256-GCM): one
 * BENCH_MIB (256) MiB blob streamed from a generator, then read back in full, BENCH_RUNS times each;
 * prints a table (median MiB/s, encrypted as % of plain, peak RSS) and a one-PutObject baseline.
 *
 *   node --import tsx bench/s3-bench.ts            # starts a throw-away Ceph RGW (test/support/ceph.ts)
 *   S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… node --import tsx bench/s3-bench.ts
 *
 * Options (env): BENCH_MIB (256), BENCH_PART_MIB (8), BENCH_QUEUE (4), BENCH_RUNS (3), BENCH_UNSIGNED (1/0:
 * UNSIGNED-PAYLOAD on/off; default: the store's, i.e. off for http), BENCH_BASELINE (0 = skip),
 * BENCH_MODES (plain,encrypted).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { AppConfigRepository } from '../src/db/app-config.ts';
import { migrateToLatest, openDatabase } from '../src/db/database.ts';
import { EncryptedBlobStore } from '../src/encryption/encrypted-blob-store.ts';
import { EncryptionService } from '../src/encryption/encryption-service.ts';
import { EncryptionState } from '../src/encryption/encryption-state.ts';
import { KeyManager } from '../src/encryption/master-key/key-manager.ts';
import { KeyStore } from '../src/keys/key-store.ts';
import type { BlobStore } from '../src/storage/blob-store.ts';
import { S3BlobStore } from '../src/storage/s3-blob-store.ts';
import { startCeph, type CephCluster } from '../test/support/ceph.ts';
import { NodeFileRows } from '../src/files/node-file-rows.ts';
import { SYSTEM } from '../src/actor.ts';
import { MasterKeyPolicy } from '../src/encryption/key-policy/master-key-policy.ts';

const MiB = 1024 * 1024;
const total = Number(process.env.BENCH_MIB ?? 256) * MiB;
const partSize = Number(process.env.BENCH_PART_MIB ?? 8) * MiB;
const queueSize = Number(process.env.BENCH_QUEUE ?? 4);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const modes = (process.env.BENCH_MODES ?? 'plain,encrypted').split(',').map((m) => m.trim()) as ('plain' | 'encrypted')[];
const CTX = { fileId: 1, owner: 'bench', actor: SYSTEM };

let cluster: CephCluster | undefined;
let s3 = process.env.S3_ENDPOINT
  ? { endpoint: process.env.S3_ENDPOINT, accessKeyId: process.env.S3_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? '', region: process.env.S3_REGION ?? 'us-east-1', forcePathStyle: process.env.S3_FORCE_PATH_STYLE !== 'false' }
  : undefined;
if (!s3) {
  cluster = await startCeph({ memstoreBytes: 4 * 1024 ** 3 });
  s3 = cluster.s3;
  console.log(`ceph rgw up in ${cluster.startSeconds.toFixed(1)} s at ${s3.endpoint}`);
}

const raw = new S3BlobStore({ ...s3, bucket: `coffer-bench-${randomBytes(4).toString('hex')}`, partSize, queueSize, ...(process.env.BENCH_UNSIGNED ? { unsignedPayload: process.env.BENCH_UNSIGNED === '1' } : {}) });
await raw.createBucketIfMissing();

/** The encryption decorator over the same bucket, as openApp builds it (keys on local disk). */
async function encryptedOver(inner: BlobStore): Promise<{ store: BlobStore; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-s3bench-'));
  const { db } = openDatabase({ type: 'sqlite', path: join(dir, 'coffer.db') });
  await migrateToLatest(db);
  const appConfig = new AppConfigRepository(db, { maxAgeMs: 0 });
  const keys = new KeyManager({ keyStore: new KeyStore(join(dir, 'data')), secret: randomBytes(32).toString('hex'), instanceId: 'ocs3bench1' });
  const state = new EncryptionState(appConfig);
  const store = new EncryptedBlobStore({ inner, keys, policy: new MasterKeyPolicy(keys), state, defaultKeyRoot: join(dir, 'data') });
  const service = new EncryptionService({ rows: new NodeFileRows(db), appConfig, keys, blobs: store, state, dataDirectory: join(dir, 'data') });
  await appConfig.set('encryption', 'enabled', 'yes');
  await service.enable();
  return { store, async close() { await db.destroy(); rmSync(dir, { recursive: true, force: true }); } };
}

// 1 MiB of random bytes, re-yielded: the source costs nothing, so the figure is the store's
const block = randomBytes(MiB);
function source(): Readable {
  return Readable.from((function* () { for (let off = 0; off < total; off += 64 * 1024) yield block.subarray(off % MiB, off % MiB + 64 * 1024); })(), { objectMode: false });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
interface Row { mode: string; put: number[]; get: number[]; cpuPut: number[]; cpuGet: number[]; peakRss: number }
const rows: Row[] = [];
let baseline = '';
const rss0 = process.memoryUsage.rss();
try {
  // Warm-up, unmeasured: radosgw and the OSD pay for their first hundreds of MiB (memory first
  // touched, buffers grown), which would otherwise land on whichever mode runs first.
  {
    const id = randomBytes(16).toString('hex');
    await raw.put(id, source(), CTX);
    for await (const _ of await raw.get(id, 'plain', CTX)) { /* drain */ }
    await raw.delete(id);
  }
  // runs interleave the modes, each run in the other order (plain, encrypted; encrypted, plain; …),
  // so that a shared machine's changing load hits both alike
  const stores = new Map<string, { store: BlobStore; close?(): Promise<void> }>();
  for (const mode of modes) stores.set(mode, mode === 'encrypted' ? await encryptedOver(raw) : { store: raw });
  for (const mode of modes) rows.push({ mode, put: [], get: [], cpuPut: [], cpuGet: [], peakRss: 0 });
  let current: Row | undefined;
  const sampler = setInterval(() => { if (current) current.peakRss = Math.max(current.peakRss, process.memoryUsage.rss()); }, 20);
  try {
    for (let r = 0; r < runs; r++) {
      for (const row of r % 2 === 0 ? rows : [...rows].reverse()) {
        current = row;
        const { store } = stores.get(row.mode)!;
        const id = randomBytes(16).toString('hex');
        let c = process.cpuUsage();
        let t = performance.now();
        const res = await store.put(id, source(), CTX);
        let s = (performance.now() - t) / 1000;
        let cu = process.cpuUsage(c);
        row.put.push(total / MiB / s);
        row.cpuPut.push((cu.user + cu.system) / 1000 / (total / MiB));
        if (res.size !== total) throw new Error(`put wrote ${res.size}`);
        c = process.cpuUsage();
        t = performance.now();
        let n = 0;
        for await (const chunk of await store.get(id, res.codec, CTX)) n += (chunk as Buffer).length;
        s = (performance.now() - t) / 1000;
        cu = process.cpuUsage(c);
        row.get.push(total / MiB / s);
        row.cpuGet.push((cu.user + cu.system) / 1000 / (total / MiB));
        if (n !== total) throw new Error(`get read ${n}`);
        await store.delete(id);
        current = undefined;
        console.log(`${row.mode} run ${r + 1}: PUT ${row.put.at(-1)!.toFixed(1)} MiB/s, GET ${row.get.at(-1)!.toFixed(1)} MiB/s (codec ${res.codec}; load ${loadavg()[0]!.toFixed(1)})`);
      }
    }
  } finally {
    clearInterval(sampler);
    for (const s of stores.values()) await s.close?.();
  }
  // baseline: the same bytes as one PutObject of an in-memory buffer and one plain GetObject,
  // i.e. what the endpoint does without streaming, parts or the store around it
  if (process.env.BENCH_BASELINE !== '0') {
    const whole = Buffer.alloc(total);
    for (let off = 0; off < total; off += MiB) block.copy(whole, off);
    const key = `baseline/${randomBytes(8).toString('hex')}`;
    let t = performance.now();
    await raw.client.send(new PutObjectCommand({ Bucket: raw.bucket, Key: key, Body: whole, ContentLength: total }));
    const bp = total / MiB / ((performance.now() - t) / 1000);
    t = performance.now();
    const res = await raw.client.send(new GetObjectCommand({ Bucket: raw.bucket, Key: key }));
    let n = 0;
    for await (const c of res.Body as Readable) n += (c as Buffer).length;
    const bg = total / MiB / ((performance.now() - t) / 1000);
    if (n !== total) throw new Error(`baseline get read ${n}`);
    await raw.client.send(new DeleteObjectCommand({ Bucket: raw.bucket, Key: key }));
    baseline = `baseline (one PutObject of a ${total / MiB} MiB buffer / one GetObject, no store): PUT ${bp.toFixed(1)} MiB/s, GET ${bg.toFixed(1)} MiB/s`;
  }
} finally {
  raw.destroy();
  await cluster?.stop();
}

const plain = rows.find((r) => r.mode === 'plain');
const pct = (v: number, p: number | undefined) => (p ? `${((v / p) * 100).toFixed(0)} %` : '—');
console.log(`\n${total / MiB} MiB blob, part ${partSize / MiB} MiB × queue ${queueSize}${process.env.BENCH_UNSIGNED === '1' ? ', UNSIGNED-PAYLOAD' : ''}, median of ${runs} (client CPU = CPU-ms of this process per MiB; RGW's own CPU not included)`);
console.log('| store | PUT MiB/s | GET MiB/s | PUT % of plain | GET % of plain | client CPU ms/MiB PUT / GET | peak RSS MiB |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const [p, g] = [median(r.put), median(r.get)];
  console.log(`| ${r.mode} | ${p.toFixed(1)} | ${g.toFixed(1)} | ${pct(p, plain && median(plain.put))} | ${pct(g, plain && median(plain.get))} | ${median(r.cpuPut).toFixed(1)} / ${median(r.cpuGet).toFixed(1)} | ${(r.peakRss / MiB).toFixed(0)} (from ${(rss0 / MiB).toFixed(0)}) |`);
}
if (baseline) console.log(baseline);
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (${cpus().length} cores; RGW runs on the same machine)`);
