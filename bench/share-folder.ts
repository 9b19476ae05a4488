/**
 * Figure for issue 4: time to share a 2,000-file folder under per-user keys (outside the test
 * runner, whose async hooks inflate promise-heavy work). Run: node --import tsx bench/share-folder.ts [files]
 */
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { startTestInstance } from '../test/support/test-instance.ts';
import { enableEncryption } from '../test/support/encryption-enabler.ts';
import { userActor } from '../src/actor.ts';

const N = Number(process.argv[2] ?? 2000);
const inst = await startTestInstance();
try {
  await enableEncryption(inst);
  await inst.app.userKeys.setPerUserMode(true, 0);
  await inst.addUser('alice', 'alice-password-1');
  await inst.addUser('bob', 'bob-password-1');
  await inst.app.userKeys.onLogin('alice', 'password', 'alice-password-1');
  await inst.app.userKeys.onLogin('bob', 'password', 'bob-password-1');
  await inst.app.files.mkdir('alice', 'Big');
  for (let i = 0; i < N; i++) await inst.app.files.writeFile(userActor('alice', 'password'), 'alice', `Big/f${i}.txt`, Readable.from([Buffer.from(`file ${i}`)]));
  for (const [i, who] of [[1, 'bob'], [2, null]] as const) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await inst.app.shares.create(userActor('alice', 'password'), who ? { uid: 'alice', path: 'Big', shareType: 0, shareWith: who } : { uid: 'alice', path: 'Big', shareType: 3 });
    const c = process.cpuUsage(c0);
    console.log(`share #${i} (${who ? 'user' : 'link'}) of a ${N}-file folder: ${(performance.now() - t0).toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms CPU (load average ${loadavg()[0]!.toFixed(1)})`);
  }
} finally {
  await inst.stop();
}
