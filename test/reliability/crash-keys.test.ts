/**
 * Crash safety of the long-running key and conversion commands: `./occ encryption:encrypt-all`,
 * `encryption:rotate-master-key` and `encryption:decrypt-all` are SIGKILLed mid-run, at points
 * observed from outside (the crash journal started; part of the files converted; the new master
 * key current; part of the user keys re-wrapped), never at a guessed delay that may miss the run.
 * After each kill every file reads back whole and unchanged (each blob is its old or its new form),
 * a re-run finishes the work, and nothing is left behind: no unreferenced blob, no journal, no
 * second master key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeTestConfig } from '../support/test-instance.ts';
import { encryptionSkipReason } from '../support/encryption-enabler.ts';
import { occ, OCC } from '../cli/occ-harness.ts';
import { ALICE, openLocal } from './crash-support.ts';
import { pattern, sha256, snapshotTree, unreferencedBlobs } from './support.ts';
import type { App } from '../../src/app.ts';
import { SYSTEM, userActor } from '../../src/actor.ts';

const skip = await encryptionSkipReason();
/** Files converted by encrypt-all / decrypt-all. */
const CONV_FILES = 800;
/** Key-store users whose root keys a rotation re-wraps. */
const KEY_USERS = 400;
const KEY_DIR = join('files_encryption', 'OC_DEFAULT_MODULE');

/** Spawns `./occ args`; resolves the exit. */
function spawnOcc(args: string[], configPath: string): { child: ChildProcess; exited: Promise<number | null> } {
  const env: NodeJS.ProcessEnv = { ...process.env, COFFER_CONFIG: configPath };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(OCC, args, { env, stdio: 'ignore' });
  return { child, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

/**
 * Polls `cond` every few ms while the command runs and SIGKILLs it the moment `cond` holds.
 * @throws AssertionError when the command exits on its own first (the kill would not be mid-run).
 */
async function killWhen(args: string[], configPath: string, what: string, cond: () => Promise<boolean> | boolean): Promise<void> {
  const { child, exited } = spawnOcc(args, configPath);
  let done = false;
  void exited.then(() => { done = true; });
  for (;;) {
    if (done) assert.fail(`${args[0]} finished before "${what}" was observed: not killed mid-run`);
    if (await cond()) break;
    await sleep(3);
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(done);
}

describe('crash safety of encrypt-all, rotate-master-key, decrypt-all (SIGKILL mid-run)', { skip, timeout: 300_000 }, () => {
  let configPath = '';
  let dir = '';
  let dataDir = '';
  let drop: () => Promise<void> = async () => {};
  let before_: Map<string, string>;
  const keyBlobs: { id: string; codec: string; owner: string; hash: string }[] = [];
  const crashes: string[] = [];

  before(async () => {
    ({ configPath, dir, drop } = await writeTestConfig());
    dataDir = join(dir, 'data');
    const app = await openLocal(configPath);
    try {
      await app.users.create({ uid: ALICE.uid, password: ALICE.password });
      await app.files.ensureHome(ALICE.uid);
      await app.appConfig.set('encryption', 'enabled', 'yes');
      await app.files.mkdir(ALICE.uid, 'conv');
      // stored unencrypted: encryption is switched on afterwards, as on an existing instance
      for (let i = 0; i < CONV_FILES; i++) await app.files.writeFile(userActor(ALICE.uid, 'password'), ALICE.uid, `conv/c${i}.bin`, Readable.from([pattern(1000 + i, 16_000 + (i % 7) * 5000)]), {});
      await app.files.writeFile(userActor(ALICE.uid, 'password'), ALICE.uid, 'empty.txt', Readable.from([]), {});
      await app.encryption.enable();
      before_ = await snapshotTree(app, ALICE.uid);
    } finally {
      await app.close();
    }
  });
  after(async () => {
    console.log(`# key/conversion crashes tried and survived: ${crashes.length}: ${crashes.join('; ')}`);
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Number of alice's conv files whose blob is stored plain / encrypted (committed rows). */
  async function codecs(app: App): Promise<{ plain: number; encrypted: number }> {
    const rows = await app.db.selectFrom('nodes').select('blob_codec').where('owner', '=', ALICE.uid).where('path', 'like', 'conv/%').execute();
    const plain = rows.filter((r) => r.blob_codec === 'plain').length;
    return { plain, encrypted: rows.length - plain };
  }

  /** Opens the instance fresh and checks every file is whole and unchanged. */
  async function assertIntact(what: string): Promise<{ plain: number; encrypted: number }> {
    const app = await openLocal(configPath);
    try {
      assert.deepEqual(await snapshotTree(app, ALICE.uid), before_, `${what}: a file changed or is unreadable`);
      return await codecs(app);
    } finally { await app.close(); }
  }

  const journal = () => join(dataDir, '.encryption-convert.journal');
  const journalHasEntries = () => existsSync(journal()) && /^B /m.test(readFileSync(journal(), 'utf8'));

  async function convertWithCrashes(target: 'encrypt' | 'decrypt'): Promise<void> {
    const args = [`encryption:${target}-all`, '-n'];
    const watcher = await openLocal(configPath);
    const converted = async () => { const c = await codecs(watcher); return target === 'encrypt' ? c.encrypted : c.plain; };
    try {
      assert.equal(await converted(), 0);
      // 1: right after the first page was journaled (blobs being written, no row switched yet)
      await killWhen(args, configPath, 'journal started', journalHasEntries);
      let c = await assertIntact(`${target}-all killed at its first journal entry`);
      crashes.push(`${target}-all killed once journaled (${target === 'encrypt' ? c.encrypted : c.plain}/${CONV_FILES} converted)`);
      // 2 and 3: with part of the files converted (rows switched, old blobs being deleted)
      for (const frac of [0.1, 0.5]) {
        const at = await converted();
        await killWhen(args, configPath, `${frac * 100} % converted`, async () => { const n = await converted(); return n > at && n >= frac * CONV_FILES && n < CONV_FILES; });
        c = await assertIntact(`${target}-all killed mid-run`);
        const n = target === 'encrypt' ? c.encrypted : c.plain;
        assert.ok(n > 0 && n < CONV_FILES, `${target}-all was killed mid-run: ${n}/${CONV_FILES}`);
        crashes.push(`${target}-all killed at ${n}/${CONV_FILES} converted`);
      }
    } finally { await watcher.close(); }
    const r = await occ(args, { COFFER_CONFIG: configPath });
    assert.equal(r.code, 0, r.stderr);
    const c = await assertIntact(`${target}-all re-run`);
    assert.equal(target === 'encrypt' ? c.encrypted : c.plain, CONV_FILES, `${target}-all re-run converted everything`);
    assert.ok(!existsSync(journal()), 'journal removed after a clean run');
    const app = await openLocal(configPath);
    try { assert.deepEqual(await unreferencedBlobs(app), [], 'the re-run cleaned up what the killed runs left'); } finally { await app.close(); }
  }

  test('SIGKILL of encryption:encrypt-all mid-run (3 points): files whole; re-run finishes, no orphan', async () => {
    await convertWithCrashes('encrypt');
  });

  test('SIGKILL of encryption:rotate-master-key mid-run: every user key still opens; re-run finishes with one master key', async () => {
    // many key-store users, each with a root key and one blob encrypted under it
    let app = await openLocal(configPath);
    try {
      for (let i = 0; i < KEY_USERS; i++) {
        const owner = `keyuser${i}`;
        const body = pattern(5000 + i, 200 + i);
        const id = `${(0xa0000000 + i).toString(16)}${'0'.repeat(24)}`;
        const r = await app.blobs.put(id, Readable.from([body]), { fileId: 0, owner, actor: SYSTEM });
        keyBlobs.push({ id, codec: r.codec, owner, hash: sha256(body) });
      }
    } finally { await app.close(); }
    assert.ok(keyBlobs.every((b) => b.codec !== 'plain'));
    const sysDir = join(dataDir, KEY_DIR);
    const pointer = () => JSON.parse(readFileSync(join(sysDir, 'master.json'), 'utf8')) as { current: string; retiring: string[] };
    const masterFiles = () => readdirSync(sysDir).filter((n) => n !== 'master.json' && !n.startsWith('.tmp'));
    const rewrappedUnder = (id: string) => {
      let n = 0;
      for (let i = 0; i < KEY_USERS; i++) {
        const d = join(dataDir, `keyuser${i}`, KEY_DIR);
        for (const f of readdirSync(d)) {
          if (!f.startsWith('rootKey_')) continue;
          try { if ((JSON.parse(readFileSync(join(d, f), 'utf8')) as { wrappedBy: { id: string } }).wrappedBy.id === id) n++; } catch { /* being replaced */ }
        }
      }
      return n;
    };
    const assertKeysOpen = async (what: string) => {
      await assertIntact(what);
      const a = await openLocal(configPath);
      try {
        for (const b of keyBlobs) {
          const chunks: Buffer[] = [];
          for await (const x of await a.blobs.get(b.id, b.codec, { fileId: 0, owner: b.owner, actor: SYSTEM })) chunks.push(x as Buffer);
          assert.equal(sha256(Buffer.concat(chunks)), b.hash, `${what}: ${b.owner}'s blob`);
        }
      } finally { await a.close(); }
    };
    const oldMaster = pointer().current;
    const args = ['encryption:rotate-master-key', '-n'];
    // 1: the new master key is current, user keys not re-wrapped yet
    await killWhen(args, configPath, 'new master key current', () => { try { return pointer().current !== oldMaster; } catch { return false; } });
    await assertKeysOpen('rotation killed after the pointer switch');
    const newMaster = pointer().current;
    assert.notEqual(newMaster, oldMaster);
    crashes.push(`rotate-master-key killed after the switch (${rewrappedUnder(newMaster)}/${KEY_USERS} re-wrapped)`);
    // 2: the resumed rotation killed with part of the user keys re-wrapped
    const at = rewrappedUnder(newMaster);
    await killWhen(args, configPath, 'part re-wrapped', () => { const n = rewrappedUnder(newMaster); return n > at + 50 && n < KEY_USERS - 50; });
    const part = rewrappedUnder(newMaster);
    assert.ok(part > 0 && part < KEY_USERS + 1, `${part}`);
    await assertKeysOpen('rotation killed mid re-wrap');
    assert.equal(pointer().current, newMaster, 'a resumed rotation finishes the pending one, it does not start another');
    crashes.push(`rotate-master-key killed at ${part}/${KEY_USERS} re-wrapped`);
    const r = await occ(args, { COFFER_CONFIG: configPath });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(pointer(), { ...pointer(), current: newMaster, retiring: [] });
    assert.equal(rewrappedUnder(newMaster), KEY_USERS);
    assert.equal(masterFiles().filter((n) => n.includes(oldMaster)).length, 0, `old master key removed: ${masterFiles().join(', ')}`);
    await assertKeysOpen('rotation finished');
    app = await openLocal(configPath);
    try { for (const b of keyBlobs) await app.rawBlobs.delete(b.id); } finally { await app.close(); }
  });

  test('SIGKILL of encryption:decrypt-all mid-run (3 points): files whole; re-run finishes, no orphan', async () => {
    await convertWithCrashes('decrypt');
  });

  test('files:cleanup afterwards finds nothing to collect and changes nothing; the admin commands are in the audit log', async () => {
    const r = await occ(['files:cleanup', '--grace-seconds', '0', '--output=json'], { COFFER_CONFIG: configPath });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Record<string, number>;
    assert.equal(rep.orphanedBlobs, 0, r.stdout);
    await assertIntact('after cleanup');
    const log = await occ(['log:audit', '--event', 'encryption.', '--since', '1h', '--output=json'], { COFFER_CONFIG: configPath });
    assert.equal(log.code, 0, log.stderr);
    const events = log.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { event: string }).event);
    for (const e of ['encryption.encrypt_all', 'encryption.master_key_rotated', 'encryption.decrypt_all']) assert.ok(events.includes(e), `${e} audited: ${events.join(', ')}`);
  });
});
