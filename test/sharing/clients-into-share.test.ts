/**
 * Real sync clients writing into a received share (plain and encrypted instance): nextcloudcmd
 * syncs a folder with a chunked big file into the share (chunking v2 assembled into the sharer's
 * tree), rclone copies a tree in, checks it by SHA1, and moves a file server-side from the user's
 * own files into the share (one cross-owner MOVE, no re-upload).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  clientSkip, contentFor, dataDirCheck, describeRun, requireBinary, run, sha1File, snapshotTree,
  startClientInstance, variantSkip, VARIANTS, writeFileP, type ClientInstance,
} from '../clients/support.ts';
import { share } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

const MARKER = 'COFFER-INTO-SHARE-PLAINTEXT-3e1f';
const A = { uid: 'alice', password: 'alice-password-1' };
const B = { uid: 'bob', password: 'bob-password-12' };
const BIG = 24 * 1024 * 1024 + 5;

for (const variant of VARIANTS) {
  const skip = clientSkip('nextcloudcmd') || clientSkip('rclone') || await variantSkip(variant);
  describe(`sync clients writing into a received share (${variant})`, { skip, timeout: 300_000 }, () => {
    let inst: ClientInstance;
    let tmp: string;
    const names = new Set<string>();
    const ownerSha1 = async (p: string) => {
      const h = createHash('sha1');
      for await (const c of (await inst.app.files.openRead(userActor(A.uid, 'password'), A.uid, p)).stream) h.update(c as Buffer);
      return h.digest('hex');
    };

    before(async () => {
      requireBinary('nextcloudcmd');
      requireBinary('rclone');
      tmp = mkdtempSync(join(tmpdir(), 'coffer-into-share-'));
      inst = await startClientInstance(variant);
      for (const u of [A, B]) await inst.addUser(u.uid, u.password);
      await inst.app.files.mkdir(A.uid, 'Team');
      await share(inst, A, { path: '/Team', shareType: 0, shareWith: B.uid, permissions: 31 });
    });
    after(async () => {
      await inst?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    test('nextcloudcmd --path /Team: files and a chunked big file land in the sharer\'s tree', async () => {
      const L = join(tmp, 'nc');
      const files: Record<string, Buffer> = {
        'big file.bin': contentFor('big', BIG, MARKER),
        'notes.txt': Buffer.from(`${MARKER} notes\n`),
        'sub/deeper/leaf.md': contentFor('leaf', 7000, MARKER),
      };
      for (const [rel, data] of Object.entries(files)) { writeFileP(join(L, rel), data); rel.split('/').forEach((s) => names.add(s)); }
      inst.clearRequests();
      const r = await run('nextcloudcmd', ['--non-interactive', '--max-sync-retries', '1', '-u', B.uid, '-p', B.password, '--trust', '--path', '/Team', L, inst.url], {
        env: { ...process.env, HOME: tmp, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, timeoutMs: 180_000,
      });
      assert.equal(r.code, 0, `nextcloudcmd failed: ${describeRun(r, 25)}\n${inst.requests.slice(-15).map((q) => `${q.method} ${q.url} → ${q.status}`).join('\n')}`);
      const chunkPuts = inst.requests.filter((q) => q.method === 'PUT' && q.url.includes('/remote.php/dav/uploads/'));
      assert.ok(chunkPuts.length >= 2, `the big file went up in chunks (saw ${chunkPuts.length} chunk PUTs)`);
      assert.ok(inst.requests.some((q) => q.method === 'MOVE' && q.url.endsWith('/.file') && q.status === 201), 'the chunked upload was assembled');
      for (const [rel, data] of Object.entries(files)) {
        const node = await inst.app.files.stat(A.uid, `Team/${rel}`);
        assert.equal(node.owner, A.uid);
        assert.equal(await ownerSha1(`Team/${rel}`), createHash('sha1').update(data).digest('hex'), rel);
      }
      assert.equal(await inst.app.files.tryStat(B.uid, 'Team'), undefined, 'nothing in bob\'s own tree named like the mount');
      // a second run has nothing to do
      const again = await run('nextcloudcmd', ['--non-interactive', '--max-sync-retries', '1', '-u', B.uid, '-p', B.password, '--trust', '--path', '/Team', L, inst.url], {
        env: { ...process.env, HOME: tmp, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, timeoutMs: 120_000,
      });
      assert.equal(again.code, 0, describeRun(again, 20));
      const local = await snapshotTree(L, (n) => n.startsWith('.sync_') || n.startsWith('.nextcloudsync') || n === '.owncloudsync.log');
      for (const rel of Object.keys(files)) assert.equal(local.get(rel)?.sha1, await ownerSha1(`Team/${rel}`));
    });

    test('rclone: copy into the share, check by SHA1, server-side MOVE from own files into the share', async () => {
      const L = join(tmp, 'rc');
      mkdirSync(L, { recursive: true });
      for (const [rel, size] of [['a.txt', 300], ['dir/b.bin', 200_000], ['dir/c d.txt', 50]] as const) {
        writeFileP(join(L, rel), contentFor(rel, size, MARKER));
        rel.split('/').forEach((s) => names.add(s));
      }
      writeFileSync(join(tmp, 'rclone.conf'), '');
      const obscured = await run('rclone', ['obscure', B.password]);
      const env = {
        ...process.env, HOME: tmp, RCLONE_CONFIG: join(tmp, 'rclone.conf'),
        RCLONE_CONFIG_C_TYPE: 'webdav', RCLONE_CONFIG_C_URL: `${inst.url}/remote.php/dav/files/${B.uid}`,
        RCLONE_CONFIG_C_VENDOR: 'nextcloud', RCLONE_CONFIG_C_USER: B.uid, RCLONE_CONFIG_C_PASS: obscured.stdout.trim(),
      };
      const rclone = async (args: string[]) => {
        const r = await run('rclone', [...args, '--low-level-retries', '1', '--retries', '1'], { env, timeoutMs: 90_000 });
        assert.equal(r.code, 0, `rclone ${args.join(' ')}: ${describeRun(r, 30)}\n${inst.requests.slice(-10).map((q) => `${q.method} ${q.url} → ${q.status}`).join('\n')}`);
        return r;
      };
      await rclone(['copy', L, 'C:Team/rc']);
      const check = await rclone(['check', L, 'C:Team/rc']);
      assert.match(check.stderr, /0 differences found/);
      assert.equal(await ownerSha1('Team/rc/dir/b.bin'), await sha1File(join(L, 'dir/b.bin')));

      await rclone(['copyto', join(L, 'a.txt'), 'C:mine/own.txt']);
      inst.clearRequests();
      await rclone(['moveto', 'C:mine/own.txt', 'C:Team/rc/moved-in.txt']);
      assert.ok(inst.requests.some((q) => q.method === 'MOVE' && q.status === 201), 'rclone used MOVE');
      assert.ok(!inst.requests.some((q) => q.method === 'PUT'), 'no re-upload');
      assert.equal(await ownerSha1('Team/rc/moved-in.txt'), await sha1File(join(L, 'a.txt')));
      assert.equal(await inst.app.files.tryStat(B.uid, 'mine/own.txt'), undefined);
      const sums = await rclone(['sha1sum', 'C:Team/rc', '--max-depth', '1']);
      assert.match(sums.stdout, new RegExp(`^${await sha1File(join(L, 'a.txt'))}  moved-in\\.txt$`, 'm'));
    });

    test('encrypted: no plaintext or file name under the data directory (plain: the scanner finds the marker)', async () => {
      const leak = await dataDirCheck(inst, MARKER, names);
      assert.equal(leak, undefined, leak);
    });
  });
}
