import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { perUserInstance } from './helpers.ts';
import { linkActor, userActor } from '../../src/actor.ts';

async function text(s: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of s) parts.push(b as Buffer);
  return Buffer.concat(parts).toString();
}

test('figures: sharing a 2,000-file folder under per-user keys (one seal, one keyring write)', async () => {
  const inst = await perUserInstance();
  try {
    await inst.addUser('alice', 'alice-password-1');
    await inst.addUser('bob', 'bob-password-1');
    await inst.app.userKeys.onLogin('alice', 'password', 'alice-password-1');
    await inst.app.userKeys.onLogin('bob', 'password', 'bob-password-1');
    const N = 2000;
    await inst.app.files.mkdir('alice', 'Big');
    for (let d = 0; d < 20; d++) await inst.app.files.mkdir('alice', `Big/d${d}`);
    const t1 = performance.now();
    for (let i = 0; i < N; i++) await inst.app.files.writeFile(userActor('alice', 'password'), 'alice', `Big/d${i % 20}/f${i}.txt`, Readable.from([Buffer.from(`file ${i}`)]));
    console.log(`# FIGURE wrote ${N} encrypted files in ${((performance.now() - t1) / 1000).toFixed(1)} s (setup)`);

    const t2 = performance.now();
    const cpu0 = process.cpuUsage();
    await inst.app.shares.create(userActor('alice', 'password'), { uid: 'alice', path: 'Big', shareType: 0, shareWith: 'bob', permissions: 31 });
    const userMs = performance.now() - t2;
    const cpu = process.cpuUsage(cpu0);
    const t3 = performance.now();
    const link = await inst.app.shares.create(userActor('alice', 'password'), { uid: 'alice', path: 'Big', shareType: 3 });
    const linkMs = performance.now() - t3;
    console.log(`# FIGURE per-user keys: sharing a ${N}-file folder with a user: ${userMs.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU (keyring of ${N} data keys + 1 X25519 seal; load average ${loadavg()[0]!.toFixed(1)}); a second share (link) of it: ${linkMs.toFixed(0)} ms`);

    // The owner is not logged in: bob and the link read through their own grants.
    inst.app.userKeys.session.lock('alice');
    const t4 = performance.now();
    for (const i of [0, 1234, 1999]) {
      const bobSees = await text((await inst.app.files.openRead(userActor('bob', 'password'), 'alice', `Big/d${i % 20}/f${i}.txt`)).stream);
      assert.equal(bobSees, `file ${i}`);
      const linkSees = await text((await inst.app.files.openRead(linkActor(link.share.token!), 'alice', `Big/d${i % 20}/f${i}.txt`)).stream);
      assert.equal(linkSees, `file ${i}`);
    }
    console.log(`# FIGURE 6 reads through the keyring (owner locked): ${(performance.now() - t4).toFixed(1)} ms`);
  } finally {
    await inst.stop();
  }
});
