/**
 * PUT and GET throughput of S3BlobStore against an S3 endpoint: 256 MiB (BENCH_MIB) streamed from a
 * generator, then read back in full; also peak RSS during the transfer.
 *
 *   node --import tsx bench/s3-bench.ts            # starts a throw-away Ceph RGW (test/support/ceph.ts)
 *   S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… node --import tsx bench/s3-bench.ts
 *
 * Options (env): BENCH_MIB (256), BENCH_PART_MIB (8), BENCH_QUEUE (4), BENCH_RUNS (3), BENCH_UNSIGNED (1/0:
 * UNSIGNED-PAYLOAD on/off; default: the store's, i.e. off for http), BENCH_BASELINE (0 = skip).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../src/storage/s3-blob-store.ts';
import { startCeph, type CephCluster } from '../test/support/ceph.ts';

const MiB = 1024 * 1024;
const total = Number(process.env.BENCH_MIB ?? 256) * MiB;
const partSize = Number(process.env.BENCH_PART_MIB ?? 8) * MiB;
const queueSize = Number(process.env.BENCH_QUEUE ?? 4);
const runs = Number(process.env.BENCH_RUNS ?? 3);

let cluster: CephCluster | undefined;
let s3 = process.env.S3_ENDPOINT
  ? { endpoint: process.env.S3_ENDPOINT, accessKeyId: process.env.S3_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? '', region: process.env.S3_REGION ?? 'us-east-1', forcePathStyle: process.env.S3_FORCE_PATH_STYLE !== 'false' }
  : undefined;
if (!s3) {
  cluster = await startCeph({ memstoreBytes: 4 * 1024 ** 3 });
  s3 = cluster.s3;
  console.log(`ceph rgw up in ${cluster.startSeconds.toFixed(1)} s at ${s3.endpoint}`);
}

const store = new S3BlobStore({ ...s3, bucket: `coffer-bench-${randomBytes(4).toString('hex')}`, partSize, queueSize, ...(process.env.BENCH_UNSIGNED ? { unsignedPayload: process.env.BENCH_UNSIGNED === '1' } : {}) });
await store.createBucketIfMissing();

// 1 MiB of random bytes, re-yielded: the source costs nothing, so the figure is the store's
const block = randomBytes(MiB);
function source(): Readable {
  return Readable.from((function* () { for (let off = 0; off < total; off += 64 * 1024) yield block.subarray(off % MiB, off % MiB + 64 * 1024); })(), { objectMode: false });
}

let peakRss = 0;
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 20);
const rss0 = process.memoryUsage.rss();
let baseline = '';
const put: number[] = [];
const get: number[] = [];
try {
  for (let r = 0; r < runs; r++) {
    const id = randomBytes(16).toString('hex');
    let t = performance.now();
    const res = await store.put(id, source(), { fileId: 1, owner: 'bench' });
    put.push(total / MiB / ((performance.now() - t) / 1000));
    if (res.size !== total) throw new Error(`put wrote ${res.size}`);
    t = performance.now();
    let n = 0;
    for await (const c of await store.get(id, 'plain', { fileId: 1, owner: 'bench' })) n += (c as Buffer).length;
    get.push(total / MiB / ((performance.now() - t) / 1000));
    if (n !== total) throw new Error(`get read ${n}`);
    await store.delete(id);
    console.log(`run ${r + 1}: PUT ${put.at(-1)!.toFixed(1)} MiB/s, GET ${get.at(-1)!.toFixed(1)} MiB/s`);
  }
  clearInterval(sampler);
  // baseline: the same bytes as one PutObject of an in-memory buffer and one plain GetObject,
  // i.e. what the endpoint does without streaming, parts or the store around it
  if (process.env.BENCH_BASELINE !== '0') {
    const whole = Buffer.alloc(total);
    for (let off = 0; off < total; off += MiB) block.copy(whole, off);
    const key = `baseline/${randomBytes(8).toString('hex')}`;
    let t = performance.now();
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: whole, ContentLength: total }));
    const bp = total / MiB / ((performance.now() - t) / 1000);
    t = performance.now();
    const res = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
    let n = 0;
    for await (const c of res.Body as Readable) n += (c as Buffer).length;
    const bg = total / MiB / ((performance.now() - t) / 1000);
    if (n !== total) throw new Error(`baseline get read ${n}`);
    await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key }));
    baseline = `baseline (one PutObject of a ${total / MiB} MiB buffer / one GetObject): PUT ${bp.toFixed(1)} MiB/s, GET ${bg.toFixed(1)} MiB/s`;
  }
} finally {
  clearInterval(sampler);
  store.destroy();
  await cluster?.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`S3BlobStore ${total / MiB} MiB, part ${partSize / MiB} MiB × queue ${queueSize}${process.env.BENCH_UNSIGNED === '1' ? ', UNSIGNED-PAYLOAD' : ''}: PUT ${median(put).toFixed(1)} MiB/s, GET ${median(get).toFixed(1)} MiB/s (median of ${runs}); RSS ${(rss0 / MiB).toFixed(0)} → peak ${(peakRss / MiB).toFixed(0)} MiB`);
if (baseline) console.log(baseline);
console.log(`load average during the run: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (${(await import('node:os')).cpus().length} cores)`);
