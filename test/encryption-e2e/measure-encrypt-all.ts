/**
 * Measures `./occ encryption:encrypt-all` and `decrypt-all` on ~1,000 files of mixed sizes (not a
 * test; run: `node --import tsx test/encryption-e2e/measure-encrypt-all.ts [files] [jobs]`).
 * Prints the commands' own summaries (MiB/s, files/s) and the wall time including process start.
 */
import { Readable } from 'node:stream';
import { startTestInstance, ADMIN } from '../support/test-instance.ts';
import { markedContent, mixedSizes, occFor } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const n = Number(process.argv[2] ?? 1000);
const jobs = String(process.argv[3] ?? 4);
const t = await startTestInstance();
try {
  const sizes = mixedSizes(n, 3);
  let total = 0;
  for (let i = 0; i < n; i++) {
    await t.app.files.writeFile(userActor(ADMIN.uid, 'password'), ADMIN.uid, `f${i}.bin`, Readable.from([markedContent('m', sizes[i]!)]));
    total += sizes[i]!;
  }
  process.stdout.write(`${n} files, ${(total / 1048576).toFixed(1)} MiB (mixed sizes), --jobs ${jobs}\n`);
  await t.app.appConfig.set('encryption', 'enabled', 'yes');
  await t.app.encryption.enable();
  for (const cmd of ['encryption:encrypt-all', 'encryption:decrypt-all']) {
    const start = Date.now();
    const r = await occFor(t, [cmd, '-n', '--jobs', jobs]);
    const summary = r.stdout.split('\n').find((l) => /^(En|De)crypted/.test(l));
    process.stdout.write(`${cmd}: exit ${r.code}; ${summary}; wall ${((Date.now() - start) / 1000).toFixed(1)} s incl. process start\n`);
  }
} finally {
  await t.stop();
}
