/**
 * End to end, as the seed how-to enables encryption: `./occ app:enable encryption`,
 * `./occ encryption:enable`, uploads over WebDAV, then `encrypt-all` and `decrypt-all` as real
 * processes while the server runs.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';
import {
  blobFiles, davGet, davMkcol, davPut, filesContaining, markedContent, occFor, occOk, sha256, tempFiles, walkPaths,
} from './helpers.ts';

const OLD_MARKER = 'COFFER-OLD-PLAINTEXT-7f3a9c';
const NEW_MARKER = 'COFFER-NEW-PLAINTEXT-c41d0e';
const DIR_NAME = 'Private-Folder-q8z';
const OLD_NAMES = ['old-notes-k2v.txt', 'old-photo-m7w.bin'];
const NEW_NAMES = ['new-report-x5j.txt', 'new-big-video-r9t.bin', 'new-empty-h3p.txt', 'new-chunkedge-p1b.bin'];

describe('encryption enabled as the seed does', () => {
  let t: TestInstance;
  const content = new Map<string, Buffer>();

  before(async () => {
    t = await startTestInstance();
    await davMkcol(t, ADMIN.uid, DIR_NAME);
    // Files written before encryption is enabled.
    content.set(`${DIR_NAME}/${OLD_NAMES[0]}`, markedContent(OLD_MARKER, 5000));
    content.set(OLD_NAMES[1]!, markedContent(OLD_MARKER, 300_000));
    for (const [p, b] of content) await davPut(t, ADMIN.uid, p, b);
  });
  after(async () => { await t?.stop(); });

  test('status before: disabled; encryption:enable refuses until the app is enabled', async () => {
    const st = JSON.parse(await occOk(t, ['encryption:status', '--output=json']));
    assert.equal(st.enabled, false);
    assert.equal(st.defaultModule, 'OC_DEFAULT_MODULE');
    const r = await occFor(t, ['encryption:enable']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /app:enable encryption/);
    const mods = JSON.parse(await occOk(t, ['encryption:list-modules', '--output=json']));
    assert.deepEqual(mods, { OC_DEFAULT_MODULE: { displayName: 'Default encryption module', default: true } });
    assert.match(await occOk(t, ['encryption:list-modules']), /OC_DEFAULT_MODULE: Default encryption module \[default\*\]/);
    assert.match(await occOk(t, ['encryption:set-default-module', 'OC_DEFAULT_MODULE']), /already the default module/);
    assert.equal((await occFor(t, ['encryption:set-default-module', 'NOPE'])).code, 4);
  });

  test('app:enable encryption + encryption:enable: new uploads leave no plaintext and no names on disk', async () => {
    await occOk(t, ['app:enable', 'encryption']);
    const out = await occOk(t, ['encryption:enable']);
    assert.match(out, /Encryption enabled/);
    assert.match(out, /encrypt-all/);
    assert.match(out, /Only files written from now on are encrypted/);
    const st = JSON.parse(await occOk(t, ['encryption:status', '--output=json']));
    assert.equal(st.enabled, true);
    assert.equal(st.keysBackedUp, false);
    const plainStatus = await occFor(t, ['encryption:status']);
    assert.match(plainStatus.stderr, /not been backed up/);
    await sleep(1200); // the server's 1 s state cache

    const sizes = [70_000, 3 * 1024 * 1024 + 17, 0, 2 * 65536 + 1];
    for (let i = 0; i < NEW_NAMES.length; i++) {
      const p = i % 2 === 0 ? `${DIR_NAME}/${NEW_NAMES[i]}` : NEW_NAMES[i]!;
      const b = markedContent(NEW_MARKER, sizes[i]!);
      content.set(p, b);
      await davPut(t, ADMIN.uid, p, b);
    }
    assert.deepEqual(filesContaining(t.dataDir, NEW_MARKER), [], 'new plaintext found under the data directory');
    const paths = walkPaths(t.dataDir).join('\n');
    for (const n of [DIR_NAME, ...OLD_NAMES, ...NEW_NAMES]) assert.ok(!paths.includes(n), `name ${n} appears in a data directory path`);

    // Downloads and ranges are identical; old files stay readable.
    for (const [p, b] of content) {
      const r = await davGet(t, ADMIN.uid, p);
      assert.equal(r.status, 200, p);
      assert.equal(sha256(r.body!), sha256(b), p);
      if (b.length > 10) {
        for (const [s, e] of [[0, 0], [1, 65536], [65535, 65536], [b.length - 5, b.length - 1], [Math.floor(b.length / 3), Math.floor(b.length / 2)]] as const) {
          if (s > e || e >= b.length) continue;
          const rr = await davGet(t, ADMIN.uid, p, `bytes=${s}-${e}`);
          assert.equal(rr.status, 206, `${p} ${s}-${e}`);
          assert.ok(rr.body!.equals(b.subarray(s, e + 1)), `${p} range ${s}-${e}`);
        }
        const suffix = await davGet(t, ADMIN.uid, p, 'bytes=-7');
        assert.ok(suffix.body!.equals(b.subarray(b.length - 7)), `${p} suffix range`);
      }
    }
    const info = JSON.parse(await occOk(t, ['info:file', `admin/files/${NEW_NAMES[1]}`, '--output=json']));
    assert.equal(info.encrypted, true);
    const oldInfo = JSON.parse(await occOk(t, ['info:file', `admin/files/${OLD_NAMES[1]}`, '--output=json']));
    assert.equal(oldInfo.encrypted, false);
    assert.ok(filesContaining(t.dataDir, OLD_MARKER).length > 0, 'the files written before stay as they were');
  });

  test('disable refuses while files are encrypted and names decrypt-all; --force disables, files stay readable', async () => {
    const r = await occFor(t, ['encryption:disable']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /encryption:decrypt-all/);
    assert.equal(JSON.parse(await occOk(t, ['encryption:status', '--output=json'])).enabled, true);
    const out = await occOk(t, ['encryption:disable', '--force']);
    assert.match(out, /Encryption disabled/);
    assert.equal(JSON.parse(await occOk(t, ['encryption:status', '--output=json'])).enabled, false);
    const p = `${DIR_NAME}/${NEW_NAMES[0]}`;
    const g = await davGet(t, ADMIN.uid, p);
    assert.equal(sha256(g.body!), sha256(content.get(p)!));
    await occOk(t, ['encryption:enable']);
    await sleep(1200);
  });

  test('encrypt-all -n: warning, progress, summary; then every file is encrypted and identical', async () => {
    const r = await occFor(t, ['encryption:encrypt-all', '-n']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /may take some time/);
    assert.match(r.stdout, /backup-keys/);
    assert.match(r.stdout, /Encrypted 2 files .* MiB\/s, .* files\/s/);
    assert.match(r.stderr, /encrypt-all: \d+\/2 files/);
    assert.deepEqual(filesContaining(t.dataDir, OLD_MARKER), []);
    assert.deepEqual(filesContaining(t.dataDir, NEW_MARKER), []);
    for (const [p, b] of content) {
      const g = await davGet(t, ADMIN.uid, p);
      if (g.status !== 200) {
        const row = await t.app.db.selectFrom('nodes').select(['blob_id', 'blob_codec']).where('path', '=', p).executeTakeFirst();
        assert.fail(`${p}: status ${g.status} ${g.body?.toString('latin1').slice(0, 300)}; the server's connection sees ${JSON.stringify(row)}`);
      }
      assert.equal(sha256(g.body!), sha256(b), p);
      const info = JSON.parse(await occOk(t, ['info:file', `admin/files/${p}`, '--output=json']));
      assert.equal(info.encrypted, true, p);
    }
    assert.equal(blobFiles(t.dataDir).length, content.size);
    assert.deepEqual(tempFiles(t.dataDir), []);
    const again = await occOk(t, ['encryption:encrypt-all', '-n']);
    assert.match(again, /Every file is already encrypted/);
    const v = await occFor(t, ['encryption:verify']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /no damage found/);
  });

  test('decrypt-all round-trips byte-identically and disables encryption for new files', async () => {
    const r = await occFor(t, ['encryption:decrypt-all', '-n']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Server-side encryption disabled for new files/);
    assert.match(r.stdout, new RegExp(`Decrypted ${content.size} files`));
    const st = JSON.parse(await occOk(t, ['encryption:status', '--output=json']));
    assert.equal(st.enabled, false);
    assert.equal(st.encryptedFiles, 0);
    for (const [p, b] of content) {
      const g = await davGet(t, ADMIN.uid, p);
      assert.equal(sha256(g.body!), sha256(b), p);
      const info = JSON.parse(await occOk(t, ['info:file', `admin/files/${p}`, '--output=json']));
      assert.equal(info.encrypted, false, p);
    }
    assert.ok(filesContaining(t.dataDir, NEW_MARKER).length > 0);
    assert.equal(blobFiles(t.dataDir).length, content.size);
    // disable now has nothing to refuse
    assert.match(await occOk(t, ['encryption:disable']), /already disabled/);
  });
});
