/**
 * `./occ encryption:encrypt-all` killed with SIGKILL at three moments (~10 %, ~50 %, ~80 % of a few
 * hundred files of mixed sizes, detected by polling the database), while the server runs and takes
 * writes, then run to the end: every file intact at every kill, no plaintext left, no orphaned blob
 * or temp file.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';
import { OCC, ROOT } from '../cli/occ-harness.ts';
import { blobFiles, davPut, filesContaining, markedContent, mixedSizes, occFor, sha256, tempFiles } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const MARKER = 'COFFER-KILLTEST-PLAINTEXT-5be2';
const N = 300;

async function readAll(t: TestInstance, uid: string, path: string): Promise<Buffer> {
  const c = await t.app.files.openRead(userActor(uid, 'password'), uid, path);
  const parts: Buffer[] = [];
  for await (const x of c.stream) parts.push(x as Buffer);
  return Buffer.concat(parts);
}

describe('encrypt-all killed with SIGKILL and run again', () => {
  let t: TestInstance;
  const expected = new Map<string, string>(); // path → sha256
  const outputs: string[] = [];

  before(async () => {
    t = await startTestInstance();
    await t.app.files.mkdir(ADMIN.uid, 'a');
    await t.app.files.mkdir(ADMIN.uid, 'a/b');
    await t.addUser('bob', 'bob-password-123');
    const sizes = mixedSizes(N, 7);
    for (let i = 0; i < N; i++) {
      const uid = i % 5 === 0 ? 'bob' : ADMIN.uid;
      const path = uid === 'bob' ? `f${i}.bin` : `${i % 3 === 0 ? 'a/b/' : i % 3 === 1 ? 'a/' : ''}f${i}.bin`;
      const b = markedContent(MARKER, sizes[i]!);
      await t.app.files.writeFile(userActor(uid, 'password'), uid, path, Readable.from([b]));
      expected.set(`${uid}:${path}`, sha256(b));
    }
    await t.app.appConfig.set('encryption', 'enabled', 'yes');
    await t.app.encryption.enable();
  });
  after(async () => { await t?.stop(); });

  async function checkAllIntact(label: string): Promise<void> {
    for (const [key, sum] of expected) {
      const [uid, path] = key.split(':') as [string, string];
      assert.equal(sha256(await readAll(t, uid, path)), sum, `${label}: ${key} is not intact`);
    }
  }

  const countFiles = async (): Promise<number> => Number((await t.app.db.selectFrom('nodes')
    .select((eb) => eb.fn.countAll().as('n')).where('kind', '=', 'file').executeTakeFirstOrThrow()).n);

  /**
   * Starts encrypt-all and SIGKILLs it once at least `fraction` of the files are encrypted. Row
   * switches commit up to 32 files at a time (ConvertBatcher), so a kill point needs more than one
   * batch still to go after it, or the count can jump from below it straight to all done.
   */
  async function runAndKill(fraction: number): Promise<number> {
    const total = await countFiles();
    // two conversions in flight (default 8): a slower run, so polls see more of its commits
    const child = spawn(OCC, ['encryption:encrypt-all', '-n', '--jobs', '2'], {
      cwd: ROOT, env: { ...process.env, NODE_OPTIONS: undefined, NODE_TEST_CONTEXT: undefined, COFFER_CONFIG: t.configPath }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.stdout.setEncoding('utf8').on('data', (d: string) => { outputs.push(d); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let done = false;
    void exited.then(() => { done = true; });
    let atKill = -1;
    while (!done) {
      const n = await t.app.encryption.countEncrypted();
      if (n >= Math.ceil(total * fraction)) {
        child.kill('SIGKILL');
        atKill = n;
        break;
      }
      await sleep(5);
    }
    await exited;
    assert.ok(atKill >= 0, `encrypt-all finished before the ${fraction * 100} % kill point (stderr: ${err})`);
    assert.ok(atKill < total, `kill at ${fraction * 100} % came too late (${atKill}/${total}, stderr: ${err})`);
    return atKill;
  }

  test('three SIGKILLs at ~10 %, ~50 %, ~80 %, then a full run: all intact, nothing plain, no orphans', async (ctx) => {
    const kills: number[] = [];
    kills.push(await runAndKill(0.1));
    await checkAllIntact('after the kill at ~10 %');
    // The server keeps taking writes while encrypt-all runs: a new file and an overwrite.
    const extra = markedContent(MARKER, 200_000);
    const during = runAndKill(0.5);
    await davPut(t, ADMIN.uid, 'during-run.bin', extra);
    const over = markedContent(MARKER, 90_000);
    await davPut(t, ADMIN.uid, 'a/f1.bin', over);
    expected.set(`${ADMIN.uid}:during-run.bin`, sha256(extra));
    expected.set(`${ADMIN.uid}:a/f1.bin`, sha256(over));
    kills.push(await during);
    await checkAllIntact('after the kill at ~50 %');
    // 80 % of 300 leaves 60 files, two batches: the kill lands before the last commit
    kills.push(await runAndKill(0.8));
    await checkAllIntact('after the kill at ~80 %');
    assert.ok(kills[0]! < kills[1]! && kills[1]! < kills[2]!, `kills at ${kills.join(', ')}`);

    const r = await occFor(t, ['encryption:encrypt-all', '-n']);
    assert.equal(r.code, 0, r.stderr);
    const cleaned = [...outputs, r.stdout].join('').match(/Cleaned up (\d+) conversions/g) ?? [];
    ctx.diagnostic(`killed at ${kills.join(', ')} of ${expected.size} files encrypted; ${cleaned.join('; ') || 'no unfinished conversions found'}; final: ${r.stdout.split('\n').find((l) => l.startsWith('Encrypted'))}`);
    assert.match(r.stdout, /Encrypted \d+ files/);
    await checkAllIntact('after the final run');

    const s = await t.app.db.selectFrom('nodes').select(['blob_codec']).where('kind', '=', 'file').execute();
    assert.equal(s.length, expected.size);
    assert.ok(s.every((x) => x.blob_codec === 'cfe1'), 'every file is encrypted');
    assert.deepEqual(filesContaining(t.dataDir, MARKER), [], 'plaintext left under the data directory');
    // the overwrite during the run kept the old content as a version (its blob converted too)
    const versions = await t.app.db.selectFrom('file_versions').select('blob_id').execute();
    assert.equal(versions.length, 1, 'the overwrite left one version');
    assert.equal(blobFiles(t.dataDir).length, expected.size + versions.length, 'one blob per file and version (no orphans)');
    assert.deepEqual(tempFiles(t.dataDir), [], 'no temp files left');
    assert.ok(!existsSync(join(t.dataDir, '.encryption-convert.journal')), 'journal removed');
    assert.ok(!existsSync(join(t.dataDir, '.encryption-convert.lock')), 'lock released');
  });
});
