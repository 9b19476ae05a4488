/**
 * Version expiry pages through a user's versions (issue #15: memory flat whatever the count).
 * With more files than one page and more versions than one oldest-first page, it decides as the
 * all-at-once rule does: the automatic thinning per file, then, over the space, the oldest across
 * the user first except the two newest. The expected set comes from that rule applied here to the
 * whole list.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { autoThinning } from '../../src/versions/retention-policy.ts';
import { VersionRepository } from '../../src/versions/version-repository.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';

const DAY = 86_400;
const FILES = 450;
const PER_FILE = 3;
const SIZE = 1000;

interface Row { id: number; fileId: number; version: number; size: number }

/** Inserts PER_FILE versions for each of FILES files of `uid`, spread over days before `now`. */
async function seed(t: TestInstance, uid: string, now: number): Promise<Row[]> {
  const repo = new VersionRepository();
  for (let f = 0; f < FILES; f++) {
    for (let k = 0; k < PER_FILE; k++) {
      // versions of a file a few hours apart (thinning keeps one a day that far back), files interleaved in time
      const version = now - 40 * DAY + f * 600 + k * 3 * 3600;
      assert.ok(await repo.insertImported(t.app.db, {
        fileId: 7_000_000 + f, owner: uid, version, blobId: `${uid}${f}x${k}`.padEnd(32, '0'), blobCodec: 'plain', blobSeal: null, size: SIZE,
        mimetype: 'text/plain', etag: `e${f}.${k}`, checksum: null, author: null, label: null, createdAt: version,
      }));
    }
  }
  const all = await t.app.db.selectFrom('file_versions').select(['id', 'fileid', 'version', 'size']).where('owner', '=', uid).execute();
  return all.map((r) => ({ id: Number(r.id), fileId: Number(r.fileid), version: Number(r.version), size: Number(r.size) }));
}

async function left(t: TestInstance, uid: string): Promise<number[]> {
  return (await t.app.db.selectFrom('file_versions').select('id').where('owner', '=', uid).orderBy('id').execute()).map((r) => Number(r.id));
}

describe('version expiry in pages decides as the whole-list rule', () => {
  let t: TestInstance | undefined;
  after(async () => { await t?.stop(); });

  it('thinning per file across pages of files (obligation auto, no quota limit)', async () => {
    const inst = await startTestInstance();
    try {
      await inst.addUser('carol', 'carol-password-1');
      const now = 2_000_000_000;
      const rows = await seed(inst, 'carol', now);
      const kept = new Set(rows.map((r) => r.id));
      const byFile = new Map<number, Row[]>();
      for (const r of rows) byFile.set(r.fileId, [...(byFile.get(r.fileId) ?? []), r]);
      for (const list of byFile.values()) {
        list.sort((a, b) => b.version - a.version || b.id - a.id);
        for (const i of autoThinning(list.map((r) => r.version), now)) kept.delete(list[i]!.id);
      }
      assert.ok(kept.size < rows.length && kept.size >= FILES, `the thinning has something to do on every page (${kept.size} of ${rows.length} kept)`);
      const r = await inst.app.retention.versions.expireUser('carol', now);
      assert.deepEqual(await left(inst, 'carol'), [...kept].sort((a, b) => a - b));
      assert.equal(r.expired, rows.length - kept.size);
      assert.equal(r.bytes, (rows.length - kept.size) * SIZE);
    } finally { await inst.stop(); }
  });

  it('over the space: the oldest across the user first, over several pages, the two newest kept', async () => {
    // no thinning and nothing old enough for the obligation: only the space rule expires
    t = await startTestInstance({ config: { versions_retention_obligation: '3650, 36500' } });
    const quota = 2 * 200 * SIZE; // versions may take half the free quota: 200 versions
    await t.addUser('dave', 'dave-password-12', { quota });
    const now = 2_000_000_000;
    const rows = await seed(t, 'dave', now);
    const oldestFirst = [...rows].sort((a, b) => a.version - b.version || a.id - b.id);
    const over = rows.length * SIZE - quota / 2;
    const gone = oldestFirst.slice(0, Math.ceil(over / SIZE)).map((r) => r.id);
    assert.ok(gone.length > 1000, 'the walk spans more than one page');
    const r = await t.app.retention.versions.expireUser('dave', now);
    const want = rows.map((x) => x.id).filter((id) => !gone.includes(id)).sort((a, b) => a - b);
    assert.deepEqual(await left(t, 'dave'), want);
    assert.equal(r.expired, gone.length);
  });
});
