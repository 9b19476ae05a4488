/**
 * nextcloudcmd (the Nextcloud desktop client's command-line sync, 3.7.x) against a real instance,
 * plain and encrypted: a 150+ file tree with spaces, unicode (NFC and NFD), `+;&` and a 50 MiB
 * file (chunked upload) goes up from A, down into an empty B, edits and deletes/renames travel
 * both ways, and a sync with nothing changed is a single PROPFIND. The encrypted run is repeated
 * against `./occ serve --workers 2`, whose two workers must both have answered.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN } from '../support/test-instance.ts';
import {
  clientSkip, contentFor, davWalk, describeRun, diffTrees, listFolders, dataDirCheck, requireBinary, run,
  snapshotTree, startClientInstance, variantSkip, VARIANTS, writeFileP, type ClientInstance,
} from './support.ts';

const MARKER = 'COFFER-NCCMD-PLAINTEXT-MARKER-4d1e7b';
const BIG = 50 * 1024 * 1024;
/** The client's own files in a sync folder: never compared. */
const clientFile = (name: string) => name.startsWith('.sync_') || name.startsWith('._sync_') || /^\.(owncloud|nextcloud)sync\.log$/.test(name);

/** Builds the local tree; returns every file and folder name used. */
function buildTree(root: string): string[] {
  const names = new Set<string>();
  const folders = [
    'Documents', 'Documents/Reports 2026', 'Documents/Reports 2026/Q1 draft',
    'Photos', 'Photos/Été à Zürich', 'Música clásica',
    'plus+semi;amp&', 'plus+semi;amp&/deep one/deeper two',
    'Ünïcödé NFC', 'Me\u0301lange nfd folder',
  ];
  let n = 0;
  for (const f of folders) {
    f.split('/').forEach((s) => names.add(s));
    for (let i = 0; i < 15; i++) {
      const kinds = [`file ${String(n).padStart(3, '0')}.txt`, `nöte-${n}.md`, `r+${n};x&y.bin`];
      const name = kinds[i % kinds.length];
      names.add(name);
      const size = 1 + ((n * 7919) % 20000);
      writeFileP(join(root, f, name), contentFor(`${f}/${name}`, Math.max(size, MARKER.length + 1), MARKER));
      n++;
    }
  }
  const extra = ['a+b;c&d.txt', 'Cafe\u0301 nfd.txt', 'Caf\u00e9 nfc.txt', 'spaces  in  name .txt', '日本語のファイル.txt', 'emoji 🎉.txt'];
  for (const name of extra) {
    names.add(name);
    writeFileP(join(root, name), `${MARKER} ${name}\n`);
  }
  writeFileP(join(root, 'Documents', 'notes.txt'), `${MARKER} first version\n`);
  names.add('notes.txt');
  writeFileP(join(root, 'Photos', 'big file.bin'), contentFor('big', BIG, MARKER));
  names.add('big file.bin');
  return [...names];
}

const RUNS: { variant: (typeof VARIANTS)[number]; workers?: number }[] = [...VARIANTS.map((variant) => ({ variant })), { variant: 'encrypted', workers: 2 }];

for (const { variant, workers } of RUNS) {
  const skip = clientSkip('nextcloudcmd') || await variantSkip(variant);
  describe(`nextcloudcmd against a ${variant} instance${workers ? ` (./occ serve --workers ${workers})` : ''}`, { skip, timeout: 400_000 }, () => {
    let inst: ClientInstance;
    let tmp: string;
    let A: string;
    let B: string;
    let names: string[];

    const sync = async (dir: string) => {
      const r = await run('nextcloudcmd', ['--non-interactive', '--max-sync-retries', '1', '-u', ADMIN.uid, '-p', ADMIN.password, '--trust', dir, inst.url], {
        env: { ...process.env, HOME: tmp, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, `nextcloudcmd ${dir} failed: ${describeRun(r, 25)}\nlast server requests:\n${inst.requests.slice(-15).map((q) => `${q.method} ${q.url} → ${q.status}`).join('\n')}`);
      return r;
    };

    before(async () => {
      requireBinary('nextcloudcmd');
      tmp = mkdtempSync(join(tmpdir(), 'coffer-nccmd-'));
      A = join(tmp, 'A');
      B = join(tmp, 'B');
      names = buildTree(A);
      mkdirSync(B);
      inst = await startClientInstance(variant, { workers });
    });
    after(async () => {
      await inst?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    test('syncs the tree up (150+ files, special names, 50 MiB chunked) and the server lists it', async () => {
      const local = await snapshotTree(A, clientFile);
      assert.ok(local.size >= 150, `tree has ${local.size} files`);
      inst.clearRequests();
      await sync(A);
      const chunkPuts = inst.requests.filter((q) => q.method === 'PUT' && q.url.includes('/remote.php/dav/uploads/'));
      assert.ok(chunkPuts.length >= 2, `the 50 MiB file went up in chunks (saw ${chunkPuts.length} chunk PUTs)`);
      // dav.bulkupload is advertised: the small new files go up in bulk POSTs, not one PUT each
      const bulkPosts = inst.requests.filter((q) => q.method === 'POST' && q.url === '/remote.php/dav/bulk');
      const plainPuts = inst.requests.filter((q) => q.method === 'PUT' && q.url.startsWith('/remote.php/dav/files/'));
      assert.ok(bulkPosts.length >= 2 && bulkPosts.every((q) => q.status === 200), `bulk POSTs: ${bulkPosts.map((q) => q.status).join(',')}`);
      assert.ok(plainPuts.length < 10, `${plainPuts.length} plain PUTs despite bulk upload`);
      const remote = await davWalk(inst, ADMIN.uid);
      const remoteFiles = remote.filter((e) => !e.dir).map((e) => e.path).sort();
      assert.deepEqual(remoteFiles, [...local.keys()].sort());
      const remoteDirs = remote.filter((e) => e.dir).map((e) => e.path).sort();
      assert.deepEqual(remoteDirs, listFolders(A, clientFile).sort());
    });

    test('an empty folder syncs down identical, byte for byte', async () => {
      await sync(B);
      const a = await snapshotTree(A, clientFile);
      const b = await snapshotTree(B, clientFile);
      assert.deepEqual(diffTrees(a, b), []);
      assert.equal(b.get('Photos/big file.bin')?.size, BIG);
    });

    test('an edit on A reaches B', async () => {
      const p = join(A, 'Documents', 'notes.txt');
      writeFileSync(p, `${MARKER} second version, longer than the first\n`);
      await sync(A);
      await sync(B);
      const b = await snapshotTree(B, clientFile);
      const a = await snapshotTree(A, clientFile);
      assert.equal(b.get('Documents/notes.txt')?.sha1, a.get('Documents/notes.txt')?.sha1);
      assert.deepEqual(diffTrees(a, b), []);
    });

    test('a delete and a folder rename on B reach A (the rename as a server-side MOVE)', async () => {
      unlinkSync(join(B, 'a+b;c&d.txt'));
      renameSync(join(B, 'Documents', 'Reports 2026'), join(B, 'Documents', 'Reports renamed'));
      inst.clearRequests();
      await sync(B);
      const methods = inst.requests.map((q) => q.method);
      assert.ok(methods.includes('DELETE'), 'B sent a DELETE');
      assert.ok(methods.includes('MOVE'), 'B sent a MOVE for the folder rename');
      await sync(A);
      const a = await snapshotTree(A, clientFile);
      const b = await snapshotTree(B, clientFile);
      assert.deepEqual(diffTrees(b, a), []);
      assert.ok(!a.has('a+b;c&d.txt'));
      assert.ok([...a.keys()].some((k) => k.startsWith('Documents/Reports renamed/Q1 draft/')));
      assert.ok(![...a.keys()].some((k) => k.startsWith('Documents/Reports 2026/')));
    });

    test('a second sync with no change is one PROPFIND and no transfer', async () => {
      await sync(A); // settle anything the previous step left in A's journal
      inst.clearRequests();
      await sync(A);
      const dav = inst.requests.filter((q) => q.url.startsWith('/remote.php/'));
      const summary = dav.map((q) => `${q.method} ${q.url} → ${q.status}`).join('\n');
      assert.deepEqual(dav.map((q) => q.method), ['PROPFIND'], `requests of an idle sync:\n${summary}`);
    });

    if (workers) {
      test('every worker answered part of the syncs', () => {
        const pids = new Set(inst.workers!.requests().map((q) => q.pid));
        assert.equal(pids.size, workers, `requests were answered by ${pids.size} worker(s)`);
      });
    }

    test(variant === 'encrypted' ? 'no plaintext marker and no file or folder name under the data dir' : 'control: the plaintext marker is found under a plain data dir', async () => {
      assert.equal(await dataDirCheck(inst, MARKER, names), undefined);
    });
  });
}
