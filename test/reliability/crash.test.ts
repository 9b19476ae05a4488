/**
 * Crash safety: a real `./occ serve` process (encrypted instance, SQLite) is SIGKILLed in the
 * middle of a plain streaming PUT, a chunked upload's assembly (final MOVE), a MOVE of a
 * 5,000-file folder. After each restart every file is its old or its new version, whole; no
 * half-moved folder; then `./occ files:cleanup` leaves no unreferenced blob and no temp file behind.
 * encrypt-all, decrypt-all and rotate-master-key killed mid-run: crash-keys.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { rmSync } from 'node:fs';
import { writeTestConfig } from '../support/test-instance.ts';
import { encryptionSkipReason } from '../support/encryption-enabler.ts';
import { occ } from '../cli/occ-harness.ts';
import { ALICE, countUnder, kill, openLocal, seedFlatFolder, serve } from './crash-support.ts';
import { pattern, request, sha256, snapshotTree, unreferencedBlobs } from './support.ts';
import type { App } from '../../src/app.ts';
import { userActor } from '../../src/actor.ts';

const skip = await encryptionSkipReason();

async function readAll(app: App, path: string): Promise<Buffer> {
  const c = await app.files.openRead(userActor(ALICE.uid, 'password'), ALICE.uid, path);
  const chunks: Buffer[] = [];
  for await (const x of c.stream) chunks.push(x as Buffer);
  return Buffer.concat(chunks);
}

describe('crash safety (SIGKILL of a real server)', { skip, timeout: 300_000 }, () => {
  let configPath = '';
  let dir = '';
  let dataDir = '';
  let drop: () => Promise<void> = async () => {};
  const env = () => ({ COFFER_CONFIG: configPath });
  const OLD = pattern(1, 300_000);
  const OLD_CHUNKED = pattern(2, 200_000);
  const crashes: string[] = [];

  before(async () => {
    ({ configPath, dir, drop } = await writeTestConfig());
    dataDir = join(dir, 'data');
    const app = await openLocal(configPath);
    try {
      await app.users.create({ uid: ALICE.uid, password: ALICE.password });
      await app.files.ensureHome(ALICE.uid);
      await app.appConfig.set('encryption', 'enabled', 'yes');
      await app.encryption.enable();
      await app.files.writeFile(userActor(ALICE.uid, 'password'), ALICE.uid, 'doc.bin', Readable.from([OLD]), {});
      await app.files.writeFile(userActor(ALICE.uid, 'password'), ALICE.uid, 'assembled.bin', Readable.from([OLD_CHUNKED]), {});
      await app.files.mkdir(ALICE.uid, 'keep');
      for (let i = 0; i < 20; i++) await app.files.writeFile(userActor(ALICE.uid, 'password'), ALICE.uid, `keep/k${i}.bin`, Readable.from([pattern(100 + i, 50_000)]), {});
      await seedFlatFolder(app, ALICE.uid, 'bulk', 5000);
    } finally {
      await app.close();
    }
  });
  after(async () => {
    console.log(`# crashes tried and survived: ${crashes.length}: ${crashes.join('; ')}`);
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SIGKILL during a large streaming PUT: the file stays its old version', async () => {
    for (const killAfter of [1 << 20, 8 << 20]) {
      const s = await serve(configPath);
      let sent = 0;
      const killed = (async () => { while (sent < killAfter) await sleep(5); await kill(s); })();
      async function* body(): AsyncGenerator<Buffer> {
        const c = pattern(9, 64 * 1024);
        for (let i = 0; i < 1024; i++) { sent += c.length; yield c; if (i % 16 === 0) await sleep(1); }
      }
      const r = await request(s.url, 'PUT', '/remote.php/dav/files/alice/doc.bin', { as: ALICE, body: body() }).catch((e: Error) => e);
      await killed;
      assert.ok(r instanceof Error, 'the PUT cannot have completed');
      const app = await openLocal(configPath);
      try { assert.equal(sha256(await readAll(app, 'doc.bin')), sha256(OLD)); } finally { await app.close(); }
      crashes.push(`PUT killed after ${killAfter} bytes`);
    }
  });

  test('SIGKILL right after a PUT body was sent: old or new, whole', async () => {
    const NEW = pattern(3, 4 << 20);
    for (const delay of [0, 150, 1500]) {
      const s = await serve(configPath);
      const p = request(s.url, 'PUT', '/remote.php/dav/files/alice/doc.bin', { as: ALICE, body: NEW }).catch((e: Error) => e);
      await sleep(delay + 30);
      await kill(s);
      const r = await p;
      const app = await openLocal(configPath);
      try {
        const h = sha256(await readAll(app, 'doc.bin'));
        assert.ok(h === sha256(OLD) || h === sha256(NEW), 'doc.bin is neither the old nor the new version');
        if (!(r instanceof Error) && r.status < 300) assert.equal(h, sha256(NEW), 'acknowledged PUT lost');
        crashes.push(`PUT killed ${delay + 30} ms after send (${h === sha256(NEW) ? 'new' : 'old'})`);
      } finally { await app.close(); }
    }
  });

  test('SIGKILL during chunked-upload assembly: destination old or new, whole; upload resumable or gone', async () => {
    const chunks = [pattern(11, 5 << 20), pattern(12, 5 << 20), pattern(13, 3 << 20)];
    const NEW = Buffer.concat(chunks);
    const tmpDir = join(dataDir, 'blobs', '.tmp');
    const tmpNames = () => { try { return readdirSync(tmpDir); } catch { return []; } };
    // at fixed delays, and once at an observed point: the assembled blob is being written (a new temp file)
    for (const [i, when] of ([30, 'writing', 3000] as const).entries()) {
      const s = await serve(configPath);
      const up = `/remote.php/dav/uploads/alice/crash-${i}`;
      assert.equal((await request(s.url, 'MKCOL', up, { as: ALICE })).status, 201);
      for (const [n, c] of chunks.entries()) {
        const r = await request(s.url, 'PUT', `${up}/${String(n + 1).padStart(5, '0')}`, { as: ALICE, body: c });
        assert.ok(r.status < 300, `chunk PUT ${r.status}`);
      }
      const tmpBefore = new Set(tmpNames());
      let answered = false;
      const p = request(s.url, 'MOVE', `${up}/.file`, {
        as: ALICE, headers: { destination: `${s.url}/remote.php/dav/files/alice/assembled.bin`, 'oc-total-length': NEW.length },
      }).catch((e: Error) => e).finally(() => { answered = true; });
      if (when === 'writing') {
        while (!tmpNames().some((n) => !tmpBefore.has(n))) {
          assert.ok(!answered, 'the assembly finished before its blob was seen being written');
          await sleep(2);
        }
      } else {
        await sleep(when);
      }
      await kill(s);
      const r = await p;
      let app = await openLocal(configPath);
      let h = '';
      try {
        h = sha256(await readAll(app, 'assembled.bin'));
        assert.ok(h === sha256(OLD_CHUNKED) || h === sha256(NEW), 'assembled.bin is a mix');
        if (!(r instanceof Error) && r.status < 300) assert.equal(h, sha256(NEW));
        crashes.push(`assembly killed ${typeof when === 'number' ? `after ${when} ms` : 'while writing the assembled blob'} (${h === sha256(NEW) ? 'new' : 'old'})`);
      } finally { await app.close(); }
      if (when === 'writing') {
        assert.equal(h, sha256(OLD_CHUNKED), 'killed mid-write: still the old version');
        // the client retries the MOVE after the restart: the upload is still whole and assembles
        const s2 = await serve(configPath);
        try {
          const again = await request(s2.url, 'MOVE', `${up}/.file`, {
            as: ALICE, headers: { destination: `${s2.url}/remote.php/dav/files/alice/assembled.bin`, 'oc-total-length': NEW.length },
          });
          assert.ok(again.status === 201 || again.status === 204, `retried assembly: ${again.status} ${again.text.slice(0, 200)}`);
        } finally { await kill(s2); }
        app = await openLocal(configPath);
        try { assert.equal(sha256(await readAll(app, 'assembled.bin')), sha256(NEW), 'retried assembly'); } finally { await app.close(); }
      }
    }
  });

  test('SIGKILL during a MOVE of a 5,000-file folder: all under the old name or all under the new', async () => {
    let name = 'bulk';
    for (const delay of [20, 120, 2000]) {
      const s = await serve(configPath);
      // warm the connection and the credential cache so the MOVE starts at once
      assert.equal((await request(s.url, 'PROPFIND', '/remote.php/dav/files/alice/', { as: ALICE, headers: { depth: '0' } })).status, 207);
      const next = name === 'bulk' ? 'bulk-moved' : 'bulk';
      const p = request(s.url, 'MOVE', `/remote.php/dav/files/alice/${name}`, {
        as: ALICE, headers: { destination: `${s.url}/remote.php/dav/files/alice/${next}` },
      }).catch((e: Error) => e);
      await sleep(delay);
      await kill(s);
      const r = await p;
      const app = await openLocal(configPath);
      try {
        const [a, b] = [await countUnder(app, ALICE.uid, name), await countUnder(app, ALICE.uid, next)];
        assert.ok((a === 5000 && b === 0) || (a === 0 && b === 5000), `half-moved: ${a} under ${name}, ${b} under ${next}`);
        assert.equal((await app.files.tryStat(ALICE.uid, name)) === undefined, a === 0);
        assert.equal((await app.files.tryStat(ALICE.uid, next)) === undefined, b === 0);
        if (!(r instanceof Error) && r.status < 300) assert.equal(b, 5000);
        crashes.push(`5,000-file MOVE killed after ${delay} ms (${b === 5000 ? 'moved' : 'not moved'})`);
        if (b === 5000) name = next;
      } finally { await app.close(); }
    }
  });

  test('files:cleanup removes every orphaned blob and temp file the crashes left, and nothing live', async () => {
    let app = await openLocal(configPath);
    const before = await snapshotTree(app, ALICE.uid, ['bulk', 'bulk-moved']);
    await app.close();
    const r = await occ(['files:cleanup', '--grace-seconds', '0', '--output=json'], env());
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, number>;
    assert.equal(typeof report.orphanedBlobs, 'number');
    app = await openLocal(configPath);
    try {
      assert.deepEqual(await unreferencedBlobs(app), []);
      assert.deepEqual(await snapshotTree(app, ALICE.uid, ['bulk', 'bulk-moved']), before);
    } finally { await app.close(); }
    assert.deepEqual(readdirSync(join(dataDir, 'blobs', '.tmp')), []);
    const again = JSON.parse((await occ(['files:cleanup', '--grace-seconds', '0', '--output=json'], env())).stdout) as Record<string, number>;
    assert.equal(again.orphanedBlobs, 0);
  });
});
