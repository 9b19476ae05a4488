/**
 * Crash safety of `./occ import:nextcloud`: SIGKILL at three moments of the import, then a run to
 * completion, gives what an uninterrupted run gives: every file once, with its id, etag and content;
 * Coffer stays in maintenance mode until the import has completed, and then has the mode it had
 * before, also when the first run was killed right after switching it on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { OCC, ROOT } from '../cli/occ-harness.ts';
import { basic, davUrl, installCoffer, propfind, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';
import { checkImportedHistory, type HistoryManifest } from './nc-history-checks.ts';

/** Starts the import and SIGKILLs it `ms` after its first progress line (or its start when ms < 0). */
function importKilledAfter(coffer: Coffer, args: string[], ms: number): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...coffer.env };
    delete env.NODE_OPTIONS;
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(OCC, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let timer: NodeJS.Timeout | undefined;
    const arm = (delay: number) => { timer ??= setTimeout(() => child.kill('SIGKILL'), delay); };
    if (ms < 0) arm(-ms);
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (ms >= 0 && /files \(/.test(d)) arm(ms); });
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ killed: signal === 'SIGKILL', code }); });
  });
}

describe('import:nextcloud survives SIGKILL and continues', { timeout: 900_000 }, () => {
  let nc: Unpacked;
  let coffer: Coffer;
  const args = () => ['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data];

  before(async () => {
    nc = unpack('master-key');
    coffer = await installCoffer();
  });
  after(() => {
    coffer?.cleanup();
    nc?.cleanup();
  });

  test('killed while writing users and folders, twice while writing files; then completed', async () => {
    // SIGKILL after growing delays from the start until a run gets to finish: however fast the
    // machine, some runs die mid-import and later ones resume. After each kill that landed once
    // the import had begun (its marker written), maintenance mode must be on.
    const db = () => new SQLite(join(coffer.dir, 'config', 'coffer.db'), { readonly: true });
    const setting = (app: string, key: string): string | undefined => {
      const d = db();
      try {
        return (d.prepare('select value from app_config where app = ? and key = ?').get(app, key) as { value: string } | undefined)?.value;
      } finally {
        d.close();
      }
    };
    let midImport = 0;
    let completed = false;
    const delays: number[] = [];
    // Small steps: a resumed run of this fixture finishes about 0.2 s after its start-up here, so
    // steps of 0.1 s (what this took before) landed only one kill inside the import on a quiet machine.
    for (let d = 300; d < 10_000; d = Math.round(d * 1.04 + 15)) delays.push(d);
    for (const delay of delays) {
      const k = await importKilledAfter(coffer, args(), -delay);
      if (!k.killed) {
        assert.equal(k.code, 0, 'the run that was not killed completed the import');
        completed = true;
        break;
      }
      if (setting('import_nextcloud', 'instanceid') !== undefined && setting('import_nextcloud', 'completed') === undefined) {
        midImport++;
        assert.equal(setting('core', 'maintenance'), '1', 'maintenance mode on while an import is unfinished');
      }
    }
    if (!completed) {
      const r = await coffer.occ(args());
      assert.equal(r.code, 0, r.stderr + r.stdout);
    }
    assert.ok(midImport >= 2, `at least two runs were killed mid-import (${midImport})`);

    const d2 = db();
    const files = d2.prepare("select fileid, owner, path, etag from nodes where kind = 'file' order by fileid").all() as { fileid: number; owner: string; path: string; etag: string }[];
    const after = d2.prepare("select value from app_config where app = 'core' and key = 'maintenance'").get() as { value: string } | undefined;
    // versions and trash items once each, whole (a trash item's nodes come with it in one transaction)
    const versions = d2.prepare('select fileid, version from file_versions order by fileid, version').all() as { fileid: number; version: number }[];
    const trashItems = d2.prepare('select owner, name, deleted_at from trash_items order by deleted_at').all() as { owner: string; name: string; deleted_at: number }[];
    const trashNodes = d2.prepare('select fileid from trash_nodes order by fileid').all() as { fileid: number }[];
    d2.close();
    const hm = nc.manifest as unknown as HistoryManifest;
    assert.deepEqual(versions.map((v) => `${v.fileid}.v${v.version}`), [
      ...hm.versions.map((v) => `${v.fileid}.v${v.version_timestamp}`),
      ...hm.trash.flatMap((t) => (t.versions ?? []).map((v) => `${t.trash_fileid}.v${v.version_timestamp}`)),
    ].sort());
    assert.deepEqual(trashItems.map((t) => `${t.owner}/${t.name}.d${t.deleted_at}`).sort(), hm.trash.map((t) => `${t.owner}/${t.trash_name}`).sort());
    assert.deepEqual(trashNodes.map((n) => n.fileid), hm.trash.flatMap((t) => [t.trash_fileid, ...(t.children ?? []).map((c) => c.fileid)]).sort((a, b) => a - b));
    assert.equal(after?.value, '0', 'maintenance mode lifted at completion');
    assert.deepEqual(files.map((f) => `${f.fileid} ${f.owner}/${f.path} ${f.etag}`),
      [...nc.manifest.files].sort((a, b) => a.fileid - b.fileid).map((f) => `${f.fileid} ${f.owner}/${f.path} ${f.etag}`));

    const srv = await coffer.serve();
    try {
      for (const f of nc.manifest.files) {
        const pw = nc.manifest.users.find((u) => u.uid === f.owner)?.password ?? nc.manifest.admin.password;
        const g = await fetch(davUrl(srv.url, f.owner, f.path), { headers: { authorization: basic(f.owner, pw) } });
        assert.equal(createHash('sha256').update(Buffer.from(await g.arrayBuffer())).digest('hex'), f.sha256, f.path);
      }
      const alice = nc.manifest.users.find((u) => u.uid === 'alice')!;
      const root = nc.manifest.folders.find((x) => x.owner === 'alice' && x.path === 'files')!;
      const p = await propfind(srv.url, 'alice', alice.password, '');
      assert.equal(p.fileid, String(root.fileid));
      assert.equal(p.etag, root.etag);
      await checkImportedHistory(srv.url, nc);
    } finally {
      await srv.stop();
    }
  });
});

describe('import:nextcloud killed between switching maintenance mode on and writing its marker', { timeout: 300_000 }, () => {
  test('the rerun keeps the mode recorded before the first run and restores it at completion', async () => {
    const nc = unpack('master-key');
    const coffer = await installCoffer();
    try {
      // the state such a kill leaves: the mode Coffer had recorded (off), the mode switched on, no marker
      const db = new SQLite(join(coffer.dir, 'config', 'coffer.db'));
      try {
        db.prepare("insert into app_config (app, key, value) values ('import_nextcloud', 'maintenance_before', '0')").run();
        db.prepare("update app_config set value = '1' where app = 'core' and key = 'maintenance'").run();
      } finally {
        db.close();
      }
      const r = await coffer.occ(['import:nextcloud', '--nextcloud-config', nc.configPhp, '--nextcloud-data', nc.data]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const d = new SQLite(join(coffer.dir, 'config', 'coffer.db'), { readonly: true });
      try {
        assert.equal((d.prepare("select value from app_config where app = 'core' and key = 'maintenance'").get() as { value: string }).value, '0', 'off again, as before the first run');
      } finally {
        d.close();
      }
    } finally {
      coffer.cleanup();
      nc.cleanup();
    }
  });
});
