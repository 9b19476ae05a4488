/**
 * Keys and the config secret, end to end with real `./occ` processes: a wrong or missing secret is
 * refused by the commands and the server with the cause named and nothing rewritten; backup and
 * restore of the keys; master key rotation rewrites no content; the key storage root moves and
 * files stay readable; decrypt-blob recovers a file with the keys alone, the database gone.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { blobFiles, davGet, davPut, markedContent, occ, occFor, occOk, sha256, walkFiles } from './helpers.ts';

const PW = { COFFER_BACKUP_PASSWORD: 'backup-password-42' };

function snapshot(files: string[]): Map<string, string> {
  return new Map(files.map((f) => [f, sha256(readFileSync(f))]));
}

describe('keys and the config secret', () => {
  let t: TestInstance;
  let stopped = false;
  const content = new Map<string, Buffer>();
  const keyFiles = (root: string) => walkFiles(root).filter((f) => f.includes('/files_encryption/'));

  before(async () => {
    t = await startTestInstance({ keep: true });
    await t.app.appConfig.set('encryption', 'enabled', 'yes');
    await t.app.encryption.enable();
    await t.addUser('carol', 'carol-password-1');
    for (const [uid, p, n] of [[ADMIN.uid, 'one.bin', 100_000], [ADMIN.uid, 'two.txt', 3000], ['carol', 'c.bin', 70_000]] as const) {
      const b = markedContent(`keys-${p}`, n);
      content.set(`${uid}:${p}`, b);
      await davPut(t, uid, p, b, uid === 'carol' ? { uid: 'carol', password: 'carol-password-1' } : undefined);
    }
  });
  after(async () => {
    if (!t) return;
    if (!stopped) await t.stop();
    rmSync(t.dir, { recursive: true, force: true });
  });

  async function readable(): Promise<void> {
    for (const [key, b] of content) {
      const [uid, p] = key.split(':') as [string, string];
      const r = await davGet(t, uid, p, undefined, uid === 'carol' ? { uid: 'carol', password: 'carol-password-1' } : undefined);
      assert.equal(r.status, 200, key);
      assert.equal(sha256(r.body!), sha256(b), key);
    }
  }

  test('a wrong or missing secret: commands and server refuse, naming the cause; nothing is rewritten', async () => {
    const cfg = JSON.parse(readFileSync(t.configPath, 'utf8'));
    const before = snapshot(keyFiles(t.dataDir));
    const dbBefore = await t.app.db.selectFrom('app_config').selectAll().orderBy('app').orderBy('key').execute();
    const wrongPath = join(t.dir, 'config', 'wrong.json');
    writeFileSync(wrongPath, JSON.stringify({ ...cfg, secret: 'x'.repeat(64) }));
    const s = await occ(['encryption:status'], { COFFER_CONFIG: wrongPath });
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /config secret does not match the key storage/);
    const e = await occ(['encryption:encrypt-all', '-n'], { COFFER_CONFIG: wrongPath });
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /secret/);
    const srv = await occ(['serve', '--port', '0'], { COFFER_CONFIG: wrongPath });
    assert.notEqual(srv.code, 0, 'the server must not start');
    assert.match(srv.stderr, /config secret does not match the key storage/);
    assert.ok(!srv.stdout.includes('listening'));
    const missingPath = join(t.dir, 'config', 'missing.json');
    const { secret: _drop, ...noSecret } = cfg;
    writeFileSync(missingPath, JSON.stringify(noSecret));
    const m = await occ(['encryption:status'], { COFFER_CONFIG: missingPath });
    assert.equal(m.code, 3);
    assert.match(m.stderr, /secret/);
    assert.deepEqual(snapshot(keyFiles(t.dataDir)), before, 'key files unchanged');
    assert.deepEqual(await t.app.db.selectFrom('app_config').selectAll().orderBy('app').orderBy('key').execute(), dbBefore, 'app config unchanged');
    await readable();
  });

  test('backup-keys clears the warning; after losing the keys, restore-keys brings every file back', async () => {
    const st0 = await occFor(t, ['encryption:status', '--output=json']);
    assert.equal(JSON.parse(st0.stdout).keysBackedUp, false);
    assert.match(st0.stderr, /not been backed up/);
    const archive = join(t.dir, 'keys.backup');
    assert.match(await occOk(t, ['encryption:backup-keys', archive], PW), /Backed up \d+ key files/);
    const st1 = await occFor(t, ['encryption:status', '--output=json']);
    assert.equal(JSON.parse(st1.stdout).keysBackedUp, true);
    assert.doesNotMatch(st1.stderr, /not been backed up/);
    assert.ok(!readFileSync(archive).includes(Buffer.from('user-root')), 'the archive is encrypted');

    // Lose every key file: a fresh process cannot read anything (and says why).
    const before = snapshot(keyFiles(t.dataDir));
    for (const f of before.keys()) rmSync(f);
    const lost = await occFor(t, ['encryption:verify']);
    assert.equal(lost.code, 7, 'without the keys nothing decrypts');
    assert.match(lost.stdout, /admin\/files\/one\.bin: .*not in the key storage|admin\/files\/one\.bin: .*missing/);
    const wrong = await occFor(t, ['encryption:restore-keys', archive, '-n'], { COFFER_BACKUP_PASSWORD: 'not-the-password' });
    assert.equal(wrong.code, 7);
    assert.match(wrong.stderr, /wrong password/);
    const r = await occFor(t, ['encryption:restore-keys', archive, '-n'], PW);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Restored \d+ key files/);
    assert.deepEqual(snapshot(keyFiles(t.dataDir)), before, 'every key file is back');
    await readable();
  });

  test('rotate-master-key re-wraps user keys only (no blob changes) and files stay readable', async () => {
    const masterPtr = join(t.dataDir, 'files_encryption', 'OC_DEFAULT_MODULE', 'master.json');
    const oldMaster = JSON.parse(readFileSync(masterPtr, 'utf8')).current;
    const blobs = snapshot(blobFiles(t.dataDir));
    const out = await occOk(t, ['encryption:rotate-master-key']);
    assert.match(out, /2 user keys re-wrapped/);
    assert.match(out, /no file content was rewritten/);
    const newMaster = JSON.parse(readFileSync(masterPtr, 'utf8')).current;
    assert.notEqual(newMaster, oldMaster);
    assert.ok(!existsSync(join(t.dataDir, 'files_encryption', 'OC_DEFAULT_MODULE', `master_${oldMaster}.masterKey`)), 'old master key removed');
    assert.deepEqual(snapshot(blobFiles(t.dataDir)), blobs, 'no blob was rewritten');
    await readable();
  });

  test('change-key-storage-root moves the keys; files stay readable (server and a fresh process)', async () => {
    const dir = join(t.dir, 'keys-elsewhere');
    mkdirSync(dir);
    const r = await occFor(t, ['encryption:change-key-storage-root', dir, '-n']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Key storage root changed/);
    assert.match(await occOk(t, ['encryption:show-key-storage-root']), new RegExp(`Current key storage root: ${dir}`));
    assert.deepEqual(keyFiles(t.dataDir), [], 'no key file left in the data directory');
    assert.ok(keyFiles(dir).length >= 3);
    await readable();
    const b = markedContent('after-move', 80_000);
    content.set(`${ADMIN.uid}:after-move.bin`, b);
    await davPut(t, ADMIN.uid, 'after-move.bin', b);
    const v = await occFor(t, ['encryption:verify']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  test('decrypt-blob recovers a file from its blob and the keys alone, with the database gone', async () => {
    const node = await t.app.files.stat(ADMIN.uid, 'one.bin');
    assert.ok(hasLocalPaths(t.app.rawBlobs));
    const blob = t.app.rawBlobs.pathOf(node.blobId!);
    const keysRoot = join(t.dir, 'keys-elsewhere');
    await t.server.close(1000);
    await t.app.close();
    stopped = true;
    const db = join(t.dataDir, 'coffer.db');
    renameSync(db, `${db}.gone`);
    assert.ok(!existsSync(db));
    const out = join(t.dir, 'recovered.bin');
    const r = await occ(['encryption:decrypt-blob', blob, '--out', out, '--keys-root', keysRoot], { COFFER_CONFIG: t.configPath });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no database used/);
    assert.equal(sha256(readFileSync(out)), sha256(content.get(`${ADMIN.uid}:one.bin`)!));
    assert.ok(!existsSync(db), 'the database was not recreated');
    // A blob claimed for another file id is refused.
    const w = await occ(['encryption:decrypt-blob', blob, '--out', join(t.dir, 'x.bin'), '--keys-root', keysRoot, '--file-id', String(node.fileId + 1)], { COFFER_CONFIG: t.configPath });
    assert.equal(w.code, 7);
    assert.ok(!existsSync(join(t.dir, 'x.bin')));
  });
});
