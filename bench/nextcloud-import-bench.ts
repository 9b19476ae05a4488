// Speed and memory of ./occ import:nextcloud on a generated Nextcloud-format tree (master key, binary
// blocks, the fixture's keys), written by test/import/nc-generator.ts into a copy of the fixture.
// Run: node --import tsx bench/nextcloud-import-bench.ts [files=2000] [MiB=512] [bigMiB=128]
// One file of bigMiB shows that memory stays flat whatever a file's size.
import { execFileSync, spawnSync } from 'node:child_process';
import { installCoffer, unpack } from '../test/import/nc-fixture.ts';
import { generateNcFiles } from '../test/import/nc-generator.ts';
import { OCC, ROOT } from '../test/cli/occ-harness.ts';

const files = Number(process.argv[2] ?? 2000);
const totalMiB = Number(process.argv[3] ?? 512);
const bigMiB = Number(process.argv[4] ?? 128);
const MiB = 1 << 20;
const rest = Math.max(0, Math.floor(((totalMiB - bigMiB) * MiB) / Math.max(1, files - 1)));

const nc = unpack('master-key');
const coffer = await installCoffer();
try {
  const secret = /'secret' => '([^']+)'/.exec(execFileSync('cat', [nc.configPhp], { encoding: 'utf8' }))![1]!;
  let t = Date.now();
  const g = generateNcFiles(nc.root, { owner: 'carol', secret, masterKeyId: 'master_fe35ecec', count: files, sizeOf: (i) => (i === 0 ? bigMiB * MiB : rest + (i % 7) * 1000) });
  console.log(`generated ${g.files} files, ${(g.bytes / MiB).toFixed(0)} MiB in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'peakRSS %M KiB, CPU %U user + %S sys s', OCC, 'import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data],
    { cwd: ROOT, env: { ...process.env, ...coffer.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * MiB });
  const s = (Date.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`import exited ${r.status}: ${r.stderr.split('\n').slice(-5).join('\n')}`);
  console.log(r.stdout.trim().split('\n').slice(-10).join('\n'));
  console.log(r.stderr.trim().split('\n').pop());
  console.log(`import: ${s.toFixed(1)} s, ${(g.bytes / MiB / s).toFixed(1)} MiB/s, ${(g.files / s).toFixed(0)} files/s (whole run, process start and the fixture included)`);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  coffer.cleanup();
  nc.cleanup();
}
