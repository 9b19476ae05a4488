// Speed and memory of the versions-and-trash part of ./occ import:nextcloud on a generated history
// (test/import/nc-history-generator.ts, in a copy of the master-key fixture): `files` live files with
// `versions` old versions each, `trash` trashed files and a trashed folder of `folder` files.
// Run: node --import tsx bench/nextcloud-history-bench.ts [files=200] [versions=5] [MiB per version=1] [trash=200] [folder=200]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { installCoffer, unpack } from '../test/import/nc-fixture.ts';
import { generateNcHistory } from '../test/import/nc-history-generator.ts';
import { OCC, ROOT } from '../test/cli/occ-harness.ts';

const [files, versions, mib, trash, folder] = [200, 5, 1, 200, 200].map((d, i) => Number(process.argv[2 + i] ?? d));
const MiB = 1 << 20;
const nc = unpack('master-key');
const coffer = await installCoffer();
try {
  const secret = /'secret' => '([^']+)'/.exec(readFileSync(nc.configPhp, 'utf8'))![1]!;
  let t = Date.now();
  const g = generateNcHistory(nc.root, { owner: 'carol', secret, masterKeyId: 'master_fe35ecec', files, versionsPerFile: versions, sizeOf: (i) => mib * MiB + (i % 7) * 1000, trashFiles: trash, folderFiles: folder });
  const items = files * versions + trash + folder;
  const bytes = g.versionBytes + g.trashBytes;
  console.log(`generated ${files * versions} versions and ${trash + folder} trashed files, ${(bytes / MiB).toFixed(0)} MiB in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'peakRSS %M KiB', OCC, 'import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data],
    { cwd: ROOT, env: { ...process.env, ...coffer.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * MiB });
  const s = (Date.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`import exited ${r.status}: ${r.stdout.split('\n').slice(-8).join('\n')} ${r.stderr.split('\n').slice(-5).join('\n')}`);
  console.log(r.stdout.trim().split('\n').slice(-10).join('\n'));
  console.log(r.stderr.trim().split('\n').pop());
  console.log(`import: ${s.toFixed(1)} s, ${(bytes / MiB / s).toFixed(1)} MiB/s, ${(items / s).toFixed(0)} versions+trashed files/s (whole run: the fixture's users, files and shares, process start included)`);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  coffer.cleanup();
  nc.cleanup();
}
