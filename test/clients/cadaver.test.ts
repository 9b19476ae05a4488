/**
 * cadaver (neon-based command-line WebDAV client), scripted through stdin with credentials from a
 * ~/.netrc in a temp HOME, against a plain and an encrypted instance: ls, mkcol, put, get, mv, rm,
 * propset/propget, lock/unlock.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN } from '../support/test-instance.ts';
import {
  clientSkip, contentFor, davList, describeRun, dataDirCheck, requireBinary, run, startClientInstance, variantSkip,
  VARIANTS, type ClientInstance,
} from './support.ts';

const MARKER = 'COFFER-CADAVER-PLAINTEXT-MARKER-c0ffee';

for (const variant of VARIANTS) {
  const skip = clientSkip('cadaver') || await variantSkip(variant);
  describe(`cadaver against a ${variant} instance`, { skip, timeout: 120_000 }, () => {
    let inst: ClientInstance;
    let tmp: string;
    let small: Buffer;
    let big: Buffer;

    /** Runs one cadaver session with `lines` on stdin; returns its output. */
    const cadaver = async (lines: string[]) => {
      const r = await run('cadaver', [`${inst.url}/remote.php/dav/files/${ADMIN.uid}/`], {
        env: { ...process.env, HOME: tmp, LANG: 'C.UTF-8' }, input: [...lines, 'quit', ''].join('\n'), timeoutMs: 60_000, cwd: tmp,
      });
      assert.equal(r.code, 0, describeRun(r));
      assert.doesNotMatch(r.stdout + r.stderr, /Username:|Authentication required|Could not access/i, describeRun(r));
      return r.stdout + r.stderr;
    };
    const get = async (path: string) => {
      const res = await inst.fetch(`/remote.php/dav/files/${ADMIN.uid}/${path.split('/').map(encodeURIComponent).join('/')}`);
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    };

    before(async () => {
      requireBinary('cadaver');
      tmp = mkdtempSync(join(tmpdir(), 'coffer-cadaver-'));
      inst = await startClientInstance(variant);
      writeFileSync(join(tmp, '.netrc'), `machine 127.0.0.1 login ${ADMIN.uid} password ${ADMIN.password}\n`, { mode: 0o600 });
      small = Buffer.from(`${MARKER} hello from cadaver\n`);
      big = contentFor('cadaver-big', 2 * 1024 * 1024 + 5, MARKER);
      writeFileSync(join(tmp, 'small.txt'), small);
      writeFileSync(join(tmp, 'big.bin'), big);
    });
    after(async () => {
      await inst?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    test('mkcol, put, ls', async () => {
      const out = await cadaver([
        'mkcol cadfolder',
        `put ${join(tmp, 'small.txt')} cadfolder/small.txt`,
        `put ${join(tmp, 'big.bin')} "cadfolder/big file.bin"`,
        'ls cadfolder',
      ]);
      assert.match(out, /small\.txt/);
      assert.match(out, /big file\.bin/);
      assert.deepEqual((await get('cadfolder/small.txt')).body, small);
      assert.deepEqual((await get('cadfolder/big file.bin')).body, big);
    });

    test('get returns the same bytes', async () => {
      await cadaver([
        `get cadfolder/small.txt ${join(tmp, 'small.back')}`,
        `get "cadfolder/big file.bin" ${join(tmp, 'big.back')}`,
      ]);
      assert.deepEqual(readFileSync(join(tmp, 'small.back')), small);
      assert.deepEqual(readFileSync(join(tmp, 'big.back')), big);
    });

    test('mv renames on the server', async () => {
      await cadaver(['mv cadfolder/small.txt cadfolder/renamed.txt']);
      assert.equal((await get('cadfolder/small.txt')).status, 404);
      assert.deepEqual((await get('cadfolder/renamed.txt')).body, small);
    });

    test('propset then propget round-trips a dead property', async () => {
      const out = await cadaver([
        'propset cadfolder/renamed.txt colour vermilion-42',
        'propget cadfolder/renamed.txt colour',
      ]);
      assert.match(out, /vermilion-42/, out);
    });

    test('lock, put while locked (token sent), unlock', async () => {
      const out = await cadaver([
        'lock cadfolder/renamed.txt',
        `put ${join(tmp, 'small.txt')} cadfolder/renamed.txt`,
        'unlock cadfolder/renamed.txt',
      ]);
      assert.match(out, /Locking .*succeeded/i, out);
      assert.match(out, /Unlocking .*succeeded/i, out);
      assert.doesNotMatch(out, /423|Locked/, out);
      // unlocked: a PUT without a token works again
      const res = await inst.fetch(`/remote.php/dav/files/${ADMIN.uid}/cadfolder/renamed.txt`, { method: 'PUT', body: new Uint8Array(small) });
      assert.ok(res.status === 204 || res.status === 201, `PUT after unlock → ${res.status}`);
    });

    test(variant === 'encrypted' ? 'no plaintext marker and no file or folder name under the data dir' : 'control: the plaintext marker is found under a plain data dir', async () => {
      assert.equal(await dataDirCheck(inst, MARKER, ['cadfolder', 'renamed.txt', 'big file.bin']), undefined);
    });

    test('rm deletes', async () => {
      await cadaver(['rm cadfolder/renamed.txt', 'rm "cadfolder/big file.bin"']);
      assert.equal((await get('cadfolder/renamed.txt')).status, 404);
      assert.deepEqual((await davList(inst, ADMIN.uid, 'cadfolder')).map((e) => e.path), ['cadfolder']);
    });
  });
}
