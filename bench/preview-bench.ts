/**
 * Preview figures (issue #18): a 24 MP JPEG's first preview (time, and the server's RSS before and
 * its peak after) and the cached one, on a real server process, plain or encrypted.
 *   node --import tsx bench/preview-bench.ts [--encrypted]
 */
import { readFileSync } from 'node:fs';
import { occ, OCC, installSqlite, spawnServer, tempInstance } from '../test/cli/occ-harness.ts';
import { photo } from '../test/previews/helpers.ts';

const encrypted = process.argv.includes('--encrypted');
const inst = tempInstance();
const status = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
try {
  await installSqlite(inst);
  if (encrypted) {
    for (const a of [['app:enable', 'encryption'], ['encryption:enable', '-n']]) {
      const r = await occ(a, inst.env);
      if (r.code !== 0) throw new Error(r.stderr);
    }
  }
  const served = await spawnServer(OCC, ['serve', '--port', '0'], inst.env, { timeoutMs: 60_000 });
  const auth = { Authorization: 'Basic ' + Buffer.from('admin:admin-secret-1').toString('base64') };
  try {
    const jpeg = await photo(6000, 4000, 'jpeg', [150, 120, 90]);
    const put = await fetch(`${served.url}/remote.php/dav/files/admin/big.jpg`, { method: 'PUT', headers: auth, body: new Uint8Array(jpeg) });
    const fileId = parseInt(put.headers.get('oc-fileid')!.slice(0, 8), 10);
    const pid = served.child.pid!;
    const rssBefore = status(pid, 'VmRSS');
    const time = async (x: number) => {
      const t0 = process.hrtime.bigint();
      const r = await fetch(`${served.url}/index.php/core/preview?fileId=${fileId}&x=${x}&y=${x}&a=1`, { headers: auth });
      const body = Buffer.from(await r.arrayBuffer());
      if (r.status !== 200) throw new Error(`preview ${r.status}`);
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: body.length };
    };
    const first = await time(256);
    const peak = status(pid, 'VmHWM');
    const cached: number[] = [];
    for (let i = 0; i < 20; i++) cached.push((await time(256)).ms);
    cached.sort((a, b) => a - b);
    const large = await time(1024);
    // the same request cost without a preview: a WebDAV GET of a 5-byte file (Basic auth included)
    await fetch(`${served.url}/remote.php/dav/files/admin/small.txt`, { method: 'PUT', headers: auth, body: 'small' });
    const base: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = process.hrtime.bigint();
      await (await fetch(`${served.url}/remote.php/dav/files/admin/small.txt`, { headers: auth })).arrayBuffer();
      base.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    base.sort((a, b) => a - b);
    console.log(JSON.stringify({
      mode: encrypted ? 'encrypted (master key)' : 'plain',
      source: { pixels: '6000x4000', bytes: jpeg.length },
      firstPreview256: { ms: Math.round(first.ms), bytes: first.bytes },
      serverRssBeforeMiB: Math.round(rssBefore), serverPeakRssAfterMiB: Math.round(peak),
      cachedPreview256MedianMs: Number(cached[10]!.toFixed(1)),
      firstPreview1024Ms: Math.round(large.ms),
      davGetOf5BytesMedianMs: Number(base[10]!.toFixed(1)),
    }, null, 2));
  } finally {
    served.child.kill('SIGTERM');
    await served.exited;
  }
} finally {
  inst.cleanup();
}
