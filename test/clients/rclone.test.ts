/**
 * rclone (webdav backend, vendor = nextcloud) against a real instance, plain and encrypted:
 * copy, check (SHA1 through oc:checksums), check --download, lsjson mtimes, moveto, copyto keeping
 * the hash, sync of a changed tree, about, purge.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN } from '../support/test-instance.ts';
import {
  clientSkip, contentFor, davList, describeRun, dataDirCheck, requireBinary, run, sha1File, snapshotTree,
  startClientInstance, variantSkip, VARIANTS, writeFileP, type ClientInstance,
} from './support.ts';

const MARKER = 'COFFER-RCLONE-PLAINTEXT-MARKER-93ab0c';
const FILES: Record<string, number> = {
  'top level.txt': 1200,
  'a+b;c&d.txt': 300,
  'Ünïcödé/nöte.md': 5000,
  'Ünïcödé/Cafe\u0301 nfd.txt': 70,
  'docs/report 2026.pdf': 200_000,
  'docs/deep/er/leaf.json': 4096,
  'docs/deep/er/empty-ish.txt': 40,
  'media/clip.bin': 3 * 1024 * 1024 + 17,
  'media/photo.jpg': 65536,
  'media/photo2.jpg': 65537,
};

interface LsEntry { Path: string; Name: string; Size: number; ModTime: string; IsDir: boolean }

for (const variant of VARIANTS) {
  const skip = clientSkip('rclone') || await variantSkip(variant);
  describe(`rclone (vendor nextcloud) against a ${variant} instance`, { skip, timeout: 180_000 }, () => {
    let inst: ClientInstance;
    let tmp: string;
    let L: string;
    let env: NodeJS.ProcessEnv;
    const names = new Set<string>();

    const rclone = async (args: string[], ok = true) => {
      const r = await run('rclone', [...args, '--low-level-retries', '1', '--retries', '1'], { env, timeoutMs: 90_000 });
      if (ok) assert.equal(r.code, 0, `rclone ${args.join(' ')}: ${describeRun(r, 30)}\nlast server requests:\n${inst.requests.slice(-10).map((q) => `${q.method} ${q.url} → ${q.status}`).join('\n')}`);
      return r;
    };
    const lsjson = async (target: string): Promise<LsEntry[]> => JSON.parse((await rclone(['lsjson', '-R', target])).stdout) as LsEntry[];

    before(async () => {
      requireBinary('rclone');
      tmp = mkdtempSync(join(tmpdir(), 'coffer-rclone-'));
      L = join(tmp, 'local');
      let t = 1_700_000_000;
      for (const [rel, size] of Object.entries(FILES)) {
        writeFileP(join(L, rel), contentFor(rel, size, MARKER));
        // fractional seconds on purpose: rclone sends whole seconds, the listing must match to the second
        utimesSync(join(L, rel), t + 0.25, t + 0.25);
        t += 86_400 + 3;
        rel.split('/').forEach((s) => names.add(s));
      }
      inst = await startClientInstance(variant);
      const obscured = await run('rclone', ['obscure', ADMIN.password]);
      writeFileSync(join(tmp, 'rclone.conf'), '');
      env = {
        ...process.env, HOME: tmp, RCLONE_CONFIG: join(tmp, 'rclone.conf'),
        RCLONE_CONFIG_C_TYPE: 'webdav', RCLONE_CONFIG_C_URL: `${inst.url}/remote.php/dav/files/${ADMIN.uid}`,
        RCLONE_CONFIG_C_VENDOR: 'nextcloud', RCLONE_CONFIG_C_USER: ADMIN.uid, RCLONE_CONFIG_C_PASS: obscured.stdout.trim(),
      };
    });
    after(async () => {
      await inst?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    test('copy uploads the tree', async () => {
      await rclone(['copy', L, 'C:rc']);
      const remote = (await lsjson('C:rc')).filter((e) => !e.IsDir).map((e) => e.Path.normalize('NFC')).sort();
      assert.deepEqual(remote, Object.keys(FILES).map((k) => k.normalize('NFC')).sort());
    });

    test('check compares SHA1 from oc:checksums: 0 differences', async () => {
      const r = await rclone(['check', L, 'C:rc']);
      assert.match(r.stderr, /0 differences found/);
      assert.match(r.stderr, new RegExp(`${Object.keys(FILES).length} matching files`));
      assert.doesNotMatch(r.stderr, /hash empty|no hashes in common|hashes could not be checked/i);
    });

    test('check --download: 0 differences', async () => {
      const r = await rclone(['check', '--download', L, 'C:rc']);
      assert.match(r.stderr, /0 differences found/);
    });

    test('lsjson mtimes equal the local ones to the second, sizes equal', async () => {
      const local = new Map((await lsjson(L)).filter((e) => !e.IsDir).map((e) => [e.Path.normalize('NFC'), e]));
      const remote = await lsjson('C:rc');
      for (const e of remote.filter((x) => !x.IsDir)) {
        const l = local.get(e.Path.normalize('NFC'));
        assert.ok(l, `local has ${e.Path}`);
        assert.equal(e.Size, l.Size, e.Path);
        assert.equal(Math.floor(Date.parse(e.ModTime) / 1000), Math.floor(Date.parse(l.ModTime) / 1000), `mtime of ${e.Path}: remote ${e.ModTime} local ${l.ModTime}`);
      }
    });

    test('sha1sum of the remote equals the local SHA1s', async () => {
      const r = await rclone(['sha1sum', 'C:rc']);
      const remote = new Map(r.stdout.trim().split('\n').map((line) => { const [h, ...p] = line.split('  '); return [p.join('  ').normalize('NFC'), h]; }));
      for (const rel of Object.keys(FILES)) assert.equal(remote.get(rel.normalize('NFC')), await sha1File(join(L, rel)), rel);
    });

    test('moveto moves server-side (MOVE) and keeps content and hash', async () => {
      const before = await sha1File(join(L, 'media/photo.jpg'));
      inst.clearRequests();
      await rclone(['moveto', 'C:rc/media/photo.jpg', 'C:rc/moved here/photo renamed.jpg']);
      assert.ok(inst.requests.some((q) => q.method === 'MOVE'), 'rclone used MOVE');
      assert.ok(!inst.requests.some((q) => q.method === 'PUT'), 'no re-upload');
      const r = await rclone(['sha1sum', 'C:rc/moved here']);
      assert.match(r.stdout, new RegExp(`^${before}  photo renamed\\.jpg$`, 'm'));
      const media = (await davList(inst, ADMIN.uid, 'rc/media')).map((e) => e.path);
      assert.ok(!media.includes('rc/media/photo.jpg'));
    });

    test('copyto copies server-side (COPY) and the copy keeps the hash', async () => {
      const h = await sha1File(join(L, 'docs/report 2026.pdf'));
      inst.clearRequests();
      await rclone(['copyto', 'C:rc/docs/report 2026.pdf', 'C:rc/docs/report copy.pdf']);
      assert.ok(inst.requests.some((q) => q.method === 'COPY'), 'rclone used COPY');
      const r = await rclone(['sha1sum', 'C:rc/docs', '--max-depth', '1']);
      assert.match(r.stdout, new RegExp(`^${h}  report 2026\\.pdf$`, 'm'));
      assert.match(r.stdout, new RegExp(`^${h}  report copy\\.pdf$`, 'm'), `copy hash:\n${r.stdout}`);
    });

    test('sync of a changed tree (added, modified, deleted) leaves 0 differences', async () => {
      writeFileP(join(L, 'added/new file.txt'), `${MARKER} new\n`);
      names.add('added').add('new file.txt');
      writeFileSync(join(L, 'top level.txt'), contentFor('modified', 2222, MARKER));
      unlinkSync(join(L, 'docs/deep/er/empty-ish.txt'));
      await rclone(['sync', L, 'C:rc']);
      const r = await rclone(['check', L, 'C:rc']);
      assert.match(r.stderr, /0 differences found/);
      const remote = (await lsjson('C:rc')).filter((e) => !e.IsDir).map((e) => e.Path.normalize('NFC')).sort();
      assert.deepEqual(remote, [...(await snapshotTree(L)).keys()].sort());
    });

    test(variant === 'encrypted' ? 'no plaintext marker and no file or folder name under the data dir' : 'control: the plaintext marker is found under a plain data dir', async () => {
      assert.equal(await dataDirCheck(inst, MARKER, names), undefined);
    });

    test('about reports usage', async () => {
      const r = await rclone(['about', 'C:', '--json']);
      const about = JSON.parse(r.stdout) as { used?: number; total?: number; free?: number };
      assert.equal(typeof about.used, 'number', r.stdout);
      assert.ok(about.used! >= 3 * 1024 * 1024, `used ${about.used}`);
    });

    test('purge removes the whole folder', async () => {
      await rclone(['purge', 'C:rc']);
      const root = (await davList(inst, ADMIN.uid, '')).map((e) => e.path);
      assert.ok(!root.includes('rc'), `root still lists rc: ${root.join(', ')}`);
      const r = await rclone(['lsjson', 'C:rc'], false);
      assert.notEqual(r.code, 0);
    });
  });
}
