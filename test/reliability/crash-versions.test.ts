/**
 * Crash safety of versions and the trash bin (issue #15, part 7): a real `./occ serve` process
 * (encrypted instance, SQLite) is SIGKILLed in the middle of an overwrite of a big file, a delete
 * of a 2,000-file folder to the trash, a trash restore of that folder, a version restore; and
 * `./occ versions:expire` / `./occ trashbin:expire` are SIGKILLed mid-run. After each kill every
 * file is its old or its new state, whole; no version is lost, none is orphaned (a version row
 * without its blob or its file, a trash item without its nodes); the blobs no row references are
 * exactly what `./occ files:cleanup --dry-run` reports, and the real cleanup removes them and
 * nothing live: every file, version and trashed file still reads and decrypts afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeTestConfig } from '../support/test-instance.ts';
import { encryptionSkipReason } from '../support/encryption-enabler.ts';
import { OCC, ROOT, occ } from '../cli/occ-harness.ts';
import { ALICE, countUnder, kill, openLocal, seedFlatFolder, serve } from './crash-support.ts';
import { pattern, request, sha256, unreferencedBlobs } from './support.ts';
import type { App } from '../../src/app.ts';
import { userActor } from '../../src/actor.ts';
import type { FileNode } from '../../src/files/types.ts';

const skip = await encryptionSkipReason();
const AS = userActor(ALICE.uid, 'password');
const DAY = 86_400;
const BIG_FILES = 2000;
const REAL_FILES = 3;

async function hashOf(app: App, node: FileNode): Promise<string> {
  const c = await app.files.openNode(AS, node);
  const h = (await import('node:crypto')).createHash('sha256');
  for await (const x of c.stream) h.update(x as Buffer);
  return h.digest('hex');
}

/** Content hash of a file and of each of its versions (newest first). */
async function fileState(app: App, path: string): Promise<{ fileId: number; current: string; versions: string[] }> {
  const node = await app.files.stat(ALICE.uid, path);
  const versions = [];
  for (const v of await app.versions.repo.list(app.db, node.fileId)) versions.push(await hashOf(app, app.versions.asNode(node, v)));
  return { fileId: node.fileId, current: await hashOf(app, node), versions };
}

const sorted = (a: string[]) => [...a].sort();

/**
 * The invariants the rows must keep whatever the crash: every blob a file, a version or a trashed
 * file names exists; every version belongs to a file in the tree or in the trash; every trash item
 * has its root node and every trashed node its item. @returns the referenced blob ids
 */
async function assertConsistent(app: App): Promise<Set<string>> {
  const present = new Set<string>();
  for await (const b of app.rawBlobs.list()) present.add(b.blobId);
  const named = new Map<string, string>();
  for (const r of await app.db.selectFrom('nodes').select(['blob_id', 'path']).where('blob_id', 'is not', null).execute()) named.set(r.blob_id!, `file ${r.path}`);
  for (const r of await app.db.selectFrom('file_versions').select(['blob_id', 'fileid', 'version']).execute()) named.set(r.blob_id, `version ${r.fileid}.v${r.version}`);
  for (const r of await app.db.selectFrom('trash_nodes').select(['blob_id', 'rel_path']).where('blob_id', 'is not', null).execute()) named.set(r.blob_id!, `trashed ${r.rel_path}`);
  const missing = [...named].filter(([b]) => !present.has(b)).map(([, what]) => what);
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} row(s) name a blob that is gone`);
  const orphanVersions = await app.db.selectFrom('file_versions as v')
    .leftJoin('nodes as n', 'n.fileid', 'v.fileid').leftJoin('trash_nodes as t', 't.fileid', 'v.fileid')
    .select('v.id').where('n.fileid', 'is', null).where('t.fileid', 'is', null).execute();
  assert.equal(orphanVersions.length, 0, 'versions whose file is neither in the tree nor in the trash');
  const itemsWithoutRoot = await app.db.selectFrom('trash_items as i')
    .leftJoin('trash_nodes as n', (j) => j.onRef('n.item_id', '=', 'i.id').on('n.rel_path', '=', ''))
    .select('i.id').where('n.item_id', 'is', null).execute();
  assert.equal(itemsWithoutRoot.length, 0, 'trash items without their nodes');
  const nodesWithoutItem = await app.db.selectFrom('trash_nodes as n').leftJoin('trash_items as i', 'i.id', 'n.item_id')
    .select('n.fileid').where('i.id', 'is', null).execute();
  assert.equal(nodesWithoutItem.length, 0, 'trashed nodes without their item');
  return new Set(named.keys());
}

/** Spawns `./occ args…` so that it can be killed mid-run. */
function spawnOcc(args: string[], configPath: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, COFFER_CONFIG: configPath };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(OCC, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => out };
}

describe('crash safety of versions and the trash bin (SIGKILL)', { skip, timeout: 600_000 }, () => {
  let configPath = '';
  let dir = '';
  let drop: () => Promise<void> = async () => {};
  const env = () => ({ COFFER_CONFIG: configPath });
  const crashes: string[] = [];
  const OLD = pattern(1, 2 << 20);
  const T0 = Math.floor(Date.now() / 1000);

  before(async () => {
    // maxima, so that versions:expire and trashbin:expire run (items older than a day)
    ({ configPath, dir, drop } = await writeTestConfig({ config: { versions_retention_obligation: 'auto, 1', trashbin_retention_obligation: 'auto, 1' } as never }));
    const app = await openLocal(configPath);
    try {
      await app.users.create({ uid: ALICE.uid, password: ALICE.password });
      await app.files.ensureHome(ALICE.uid);
      await app.appConfig.set('encryption', 'enabled', 'yes');
      await app.encryption.enable();
      // doc.bin: two versions already (recent: expiry leaves them)
      await app.files.writeFile(AS, ALICE.uid, 'doc.bin', Readable.from([pattern(2, 100_000)]), { mtime: T0 - 30 });
      await app.files.writeFile(AS, ALICE.uid, 'doc.bin', Readable.from([pattern(3, 150_000)]), { mtime: T0 - 20 });
      await app.files.writeFile(AS, ALICE.uid, 'doc.bin', Readable.from([OLD]), { mtime: T0 - 10 });
      // restore.bin: five versions to swap around
      for (let i = 0; i < 6; i++) await app.files.writeFile(AS, ALICE.uid, 'restore.bin', Readable.from([pattern(20 + i, 200_000 + i)]), { mtime: T0 - 100 + i });
      // big/: 2,000 files, and a few with content and versions
      await seedFlatFolder(app, ALICE.uid, 'big', BIG_FILES);
      for (let i = 0; i < REAL_FILES; i++) {
        for (let j = 0; j < 3; j++) await app.files.writeFile(AS, ALICE.uid, `big/real${i}.bin`, Readable.from([pattern(40 + i * 10 + j, 30_000)]), { mtime: T0 - 50 + j });
      }
      // expire.bin: 400 versions older than a day (versions:expire deletes them)
      for (let i = 0; i < 401; i++) await app.files.writeFile(AS, ALICE.uid, 'expire.bin', Readable.from([pattern(1000 + i, 1000)]), { mtime: T0 - 10 * DAY + i });
      // 150 items in the trash, deleted ten days ago (trashbin:expire deletes them)
      await app.files.mkdir(ALICE.uid, 'old');
      for (let i = 0; i < 150; i++) {
        for (let j = 0; j < 2; j++) await app.files.writeFile(AS, ALICE.uid, `old/t${i}.bin`, Readable.from([pattern(5000 + i * 2 + j, 2000)]), { mtime: T0 - 60 + j });
        await app.trash.moveToTrash(AS, ALICE.uid, `old/t${i}.bin`);
      }
      await app.db.updateTable('trash_items').set({ deleted_at: T0 - 10 * DAY }).where('owner', '=', ALICE.uid).execute();
      // distinct deletion times (Nextcloud's <name>.d<time> is unique per name and time)
      const items = await app.trash.repo.ofOwner(app.db, ALICE.uid);
      for (const [i, it] of items.entries()) await app.db.updateTable('trash_items').set({ deleted_at: T0 - 10 * DAY + i }).where('id', '=', it.id).execute();
      await assertConsistent(app);
    } finally {
      await app.close();
    }
  });
  after(async () => {
    console.log(`# crashes tried and survived: ${crashes.length}: ${crashes.join('; ')}`);
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SIGKILL during an overwrite of a big file: old content with its versions, or new content with the old one as a version', async () => {
    // each attempt sends other bytes: a second PUT of the same bytes would look lost when it is not
    const newContent = (attempt: number) => pattern(9 + attempt, 8 << 20);
    const check = async (before: { current: string; versions: string[] }, sentContent: Buffer, acknowledged: boolean, what: string) => {
      const app = await openLocal(configPath);
      try {
        await assertConsistent(app);
        const now = await fileState(app, 'doc.bin');
        if (now.current === before.current) {
          assert.ok(!acknowledged, `${what}: acknowledged PUT lost`);
          assert.deepEqual(now.versions, before.versions, `${what}: the versions changed though the content did not`);
        } else {
          assert.equal(now.current, sha256(sentContent), `${what}: doc.bin is neither the old nor the new content`);
          assert.deepEqual(now.versions, [before.current, ...before.versions], `${what}: the old content is not the newest version`);
        }
        crashes.push(`${what} (${now.current === before.current ? 'old' : 'new'})`);
        return now;
      } finally { await app.close(); }
    };
    let app = await openLocal(configPath);
    let state = await fileState(app, 'doc.bin');
    await app.close();
    assert.equal(state.current, sha256(OLD));
    assert.equal(state.versions.length, 2);
    // mid-body: after N bytes of a streamed body
    for (const killAfter of [1 << 20, 6 << 20]) {
      const NEW = newContent(killAfter >> 20);
      const s = await serve(configPath);
      let sent = 0;
      const killed = (async () => { while (sent < killAfter) await sleep(2); await kill(s); })();
      async function* body(): AsyncGenerator<Buffer> {
        for (let off = 0; off < NEW.length; off += 64 * 1024) { sent += 64 * 1024; yield NEW.subarray(off, off + 64 * 1024); if (off % (1 << 20) === 0) await sleep(1); }
      }
      const r = await request(s.url, 'PUT', '/remote.php/dav/files/alice/doc.bin', { as: ALICE, body: body() }).catch((e: Error) => e);
      await killed;
      assert.ok(r instanceof Error, 'the PUT cannot have completed');
      const now = await check(state, NEW, false, `overwrite killed after ${killAfter >> 20} MiB`);
      assert.equal(now.current, state.current);
    }
    // around the commit: at delays after the whole body was handed over
    for (const [attempt, delay] of [0, 60, 250, 1500, 4000].entries()) {
      const NEW = newContent(10 + attempt);
      const s = await serve(configPath);
      const p = request(s.url, 'PUT', '/remote.php/dav/files/alice/doc.bin', { as: ALICE, body: NEW }).catch((e: Error) => e);
      await sleep(delay + 20);
      await kill(s);
      const r = await p;
      state = await check(state, NEW, !(r instanceof Error) && r.status < 300, `overwrite killed ${delay + 20} ms after send`);
    }
    app = await openLocal(configPath);
    try { assert.ok((await fileState(app, 'doc.bin')).versions.length >= 2); } finally { await app.close(); }
  });

  test('SIGKILL during a delete of a 2,000-file folder to the trash, and during its restore: all in the tree or all in the trash', async () => {
    const realIds: number[] = [];
    let app = await openLocal(configPath);
    try {
      for (let i = 0; i < REAL_FILES; i++) realIds.push((await app.files.stat(ALICE.uid, `big/real${i}.bin`)).fileId);
    } finally { await app.close(); }
    const total = BIG_FILES + REAL_FILES;
    /** Where big/ is: 'tree' (and not in the trash) or the trash item's DAV name. */
    const where = async (what: string): Promise<string> => {
      const a = await openLocal(configPath);
      try {
        await assertConsistent(a);
        const inTree = await countUnder(a, ALICE.uid, 'big');
        const items = (await a.trash.repo.ofOwner(a.db, ALICE.uid)).filter((i) => i.originalLocation === 'big');
        const trashed = items.length === 1 ? await a.trash.repo.subtree(a.db, items[0]!.id, '') : [];
        if (inTree === total) {
          assert.equal(items.length, 0, `${what}: big/ is in the tree and in the trash`);
        } else {
          assert.equal(inTree, 0, `${what}: half-deleted: ${inTree} files left under big/`);
          assert.equal(items.length, 1, `${what}: big/ is neither in the tree nor in the trash`);
          assert.equal(trashed.length, total + 1, `${what}: the trash item holds ${trashed.length} nodes`);
          assert.equal(await a.files.tryStat(ALICE.uid, 'big'), undefined);
        }
        // the versions of its files went along (by file id), whole
        for (const id of realIds) assert.equal((await a.versions.repo.list(a.db, id)).length, 2, `${what}: versions of file ${id}`);
        return inTree === total ? 'tree' : `big.d${items[0]!.deletedAt}`;
      } finally { await a.close(); }
    };
    let at: string = await where('before');
    assert.equal(at, 'tree');
    for (const delay of [5, 40, 150, 2000, 10, 80, 400]) {
      const s = await serve(configPath);
      // warm the connection and the credential cache so the request starts at once
      assert.equal((await request(s.url, 'PROPFIND', '/remote.php/dav/files/alice/', { as: ALICE, headers: { depth: '0' } })).status, 207);
      const restoring: boolean = at !== 'tree';
      const p = restoring
        ? request(s.url, 'MOVE', `/remote.php/dav/trashbin/alice/trash/${at}`, { as: ALICE, headers: { destination: `${s.url}/remote.php/dav/trashbin/alice/restore/big` } })
        : request(s.url, 'DELETE', '/remote.php/dav/files/alice/big', { as: ALICE });
      const q = p.catch((e: Error) => e);
      await sleep(delay);
      await kill(s);
      const res = await q;
      const what: string = `${restoring ? 'trash restore' : 'delete'} of big/ killed after ${delay} ms`;
      const next = await where(what);
      if (!(res instanceof Error) && res.status < 300) assert.equal(next === 'tree', restoring, `${what}: acknowledged but not done`);
      crashes.push(`${what} (${(next === 'tree') === restoring ? 'done' : 'not done'})`);
      at = next;
    }
  });

  test('SIGKILL during a version restore: the same contents, one of them current', async () => {
    let app = await openLocal(configPath);
    let state = await fileState(app, 'restore.bin');
    const all = sorted([state.current, ...state.versions]);
    await app.close();
    for (const [i, delay] of [0, 3, 10, 30, 120].entries()) {
      app = await openLocal(configPath);
      const list = await app.versions.repo.list(app.db, state.fileId);
      await app.close();
      const pick = list[(i * 2 + 1) % list.length]!;
      const pickHash = state.versions[list.indexOf(pick)]!;
      const s = await serve(configPath);
      assert.equal((await request(s.url, 'PROPFIND', '/remote.php/dav/files/alice/', { as: ALICE, headers: { depth: '0' } })).status, 207);
      const p = request(s.url, 'MOVE', `/remote.php/dav/versions/alice/versions/${state.fileId}/${pick.version}`, {
        as: ALICE, headers: { destination: `${s.url}/remote.php/dav/versions/alice/restore/target` },
      }).catch((e: Error) => e);
      await sleep(delay);
      await kill(s);
      const r = await p;
      app = await openLocal(configPath);
      try {
        await assertConsistent(app);
        const now = await fileState(app, 'restore.bin');
        assert.equal(now.fileId, state.fileId);
        assert.deepEqual(sorted([now.current, ...now.versions]), all, 'a version was lost or duplicated');
        assert.ok(now.current === state.current || now.current === pickHash, 'restore.bin is neither the old content nor the version');
        if (!(r instanceof Error) && r.status < 300) assert.equal(now.current, pickHash, 'acknowledged restore lost');
        crashes.push(`version restore killed after ${delay} ms (${now.current === pickHash && pickHash !== state.current ? 'restored' : 'not restored'})`);
        state = now;
      } finally { await app.close(); }
    }
  });

  test('SIGKILL of versions:expire and trashbin:expire mid-run: what is gone is gone whole, the rest is intact', async () => {
    let app = await openLocal(configPath);
    const fileId = (await app.files.stat(ALICE.uid, 'expire.bin')).fileId;
    const versionsBefore = await app.versions.repo.list(app.db, fileId);
    const trashBefore = (await app.trash.repo.ofOwner(app.db, ALICE.uid)).filter((i) => i.originalLocation.startsWith('old/'));
    await app.close();
    assert.equal(versionsBefore.length, 400);
    assert.equal(trashBefore.length, 150);
    const blobFile = (id: string) => join(dir, 'data', 'blobs', id.slice(0, 2), id.slice(2, 4), id);

    const runs: Array<{ args: string[]; killWhen: string; firstBlob: () => Promise<string[] | undefined> }> = [
      // killed once before it could do anything, once as soon as a blob is gone (the rows are committed, blobs half deleted)
      { args: ['versions:expire', ALICE.uid], killWhen: 'start', firstBlob: async () => undefined },
      { args: ['versions:expire', ALICE.uid], killWhen: 'first blob deleted', firstBlob: async () => [versionsBefore[0]!.blobId, versionsBefore.at(-1)!.blobId] },
      { args: ['trashbin:expire', ALICE.uid], killWhen: 'start', firstBlob: async () => undefined },
      {
        args: ['trashbin:expire', ALICE.uid], killWhen: 'first blob deleted', firstBlob: async () => {
          const a = await openLocal(configPath);
          try {
            const first = (await a.trash.repo.ofOwner(a.db, ALICE.uid)).find((i) => i.originalLocation.startsWith('old/'));
            const blob = first ? (await a.trash.repo.node(a.db, first.id, ''))?.blobId : undefined;
            return blob ? [blob] : undefined;
          } finally { await a.close(); }
        },
      },
    ];
    for (const run of runs) {
      const watch = await run.firstBlob();
      const o = spawnOcc(run.args, configPath);
      if (watch) {
        const t0 = Date.now();
        while (watch.every((b) => existsSync(blobFile(b)))) {
          assert.ok(Date.now() - t0 < 60_000, `${run.args[0]} never deleted its first blob: ${o.output()}`);
          await sleep(1);
        }
      }
      o.child.kill('SIGKILL');
      const exit = await o.exited;
      app = await openLocal(configPath);
      try {
        await assertConsistent(app);
        if (run.args[0] === 'versions:expire') {
          const left = await app.versions.repo.list(app.db, fileId);
          // all or nothing: one transaction removes the rows; every remaining version still reads
          assert.ok(left.length === 0 || left.length === versionsBefore.length, `versions half expired: ${left.length}`);
          for (const v of left.slice(0, 20)) await hashOf(app, app.versions.asNode(await app.files.stat(ALICE.uid, 'expire.bin'), v));
          const blobsLeft = versionsBefore.filter((v) => existsSync(blobFile(v.blobId))).length;
          if (watch) assert.equal(left.length, 0, 'a blob was deleted before its version row was');
          crashes.push(`versions:expire killed at ${run.killWhen} (${left.length === 0 ? `expired, ${blobsLeft} blobs left to cleanup` : 'kept'}, exit ${exit.signal ?? exit.code})`);
        } else {
          const left = (await app.trash.repo.ofOwner(app.db, ALICE.uid)).filter((i) => i.originalLocation.startsWith('old/'));
          // item by item, oldest first: the rest are whole, with their versions
          assert.deepEqual(left.map((i) => i.id), trashBefore.slice(trashBefore.length - left.length).map((i) => i.id));
          for (const it of left) {
            const n = (await app.trash.repo.node(app.db, it.id, ''))!;
            assert.equal((await app.versions.repo.list(app.db, n.fileId)).length, 1, `versions of trashed ${it.name}`);
          }
          for (const it of left.slice(0, 10)) await hashOf(app, (await app.trash.repo.node(app.db, it.id, ''))!);
          crashes.push(`trashbin:expire killed at ${run.killWhen} (${trashBefore.length - left.length} of ${trashBefore.length} expired, exit ${exit.signal ?? exit.code})`);
        }
      } finally { await app.close(); }
    }
    // run to the end: everything past the maximum goes
    assert.equal((await occ(['versions:expire', ALICE.uid], env())).code, 0);
    assert.equal((await occ(['trashbin:expire', ALICE.uid], env())).code, 0);
    app = await openLocal(configPath);
    try {
      assert.equal((await app.versions.repo.list(app.db, fileId)).length, 0);
      assert.equal((await app.trash.repo.ofOwner(app.db, ALICE.uid)).filter((i) => i.originalLocation.startsWith('old/')).length, 0);
      await assertConsistent(app);
    } finally { await app.close(); }
  });

  test('files:cleanup reports exactly the blobs no row references, removes them, and nothing live', async () => {
    let app = await openLocal(configPath);
    const orphans = await unreferencedBlobs(app);
    const live = await assertConsistent(app);
    await app.close();
    const dry = await occ(['files:cleanup', '--grace-seconds', '0', '--dry-run', '--output=json'], env());
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal((JSON.parse(dry.stdout) as Record<string, number>).orphanedBlobs, orphans.length, 'the dry run counts exactly the unreferenced blobs');
    const r = await occ(['files:cleanup', '--grace-seconds', '0', '--output=json'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as Record<string, number>).orphanedBlobs, orphans.length);
    crashes.push(`files:cleanup removed ${orphans.length} orphaned blob(s) of ${live.size + orphans.length}`);
    app = await openLocal(configPath);
    try {
      assert.deepEqual(await unreferencedBlobs(app), []);
      assert.deepEqual(await assertConsistent(app), live, 'cleanup removed a blob a row still names');
      // every file, version and trashed file reads and decrypts
      let read = 0;
      for await (const n of app.files.walk(ALICE.uid, '', Infinity)) {
        if (n.kind !== 'file' || !n.blobId) continue;
        await hashOf(app, n);
        for (const v of await app.versions.repo.list(app.db, n.fileId)) await hashOf(app, app.versions.asNode(n, v));
        read++;
      }
      for (const it of await app.trash.repo.ofOwner(app.db, ALICE.uid)) {
        for (const n of await app.trash.repo.subtree(app.db, it.id, '')) if (n.blobId) { await hashOf(app, n); read++; }
      }
      assert.ok(read > REAL_FILES);
    } finally { await app.close(); }
    const again = JSON.parse((await occ(['files:cleanup', '--grace-seconds', '0', '--dry-run', '--output=json'], env())).stdout) as Record<string, number>;
    assert.equal(again.orphanedBlobs, 0);
  });
});
