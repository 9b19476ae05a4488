/**
 * A PUT whose client goes away mid-body (the content stream goes straight to the blob store when
 * there is no checksum to verify) must fail cleanly: no file, no temp file left, and the path can
 * be written afterwards.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';

describe('PUT with a client that goes away', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(() => t.stop());

  for (const checksum of [undefined, 'SHA1:0000000000000000000000000000000000000000']) {
    it(`leaves nothing behind (${checksum ? 'with' : 'without'} OC-Checksum)`, async () => {
      const name = checksum ? 'gone-sum.bin' : 'gone.bin';
      const url = new URL(t.url);
      const sock = net.connect(Number(url.port), url.hostname);
      await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
      const auth = Buffer.from(`${ADMIN.uid}:${ADMIN.password}`).toString('base64');
      sock.write(`PUT /remote.php/dav/files/${ADMIN.uid}/${name} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Basic ${auth}\r\n`
        + `Content-Length: 3000000\r\n${checksum ? `OC-Checksum: ${checksum}\r\n` : ''}\r\n`);
      // more than LocalBlobStore's SMALL_BLOB (1 MiB), so the blob streams into a temp file (a
      // smaller upload is buffered whole before any file is made: nothing to leave behind)
      sock.write(Buffer.alloc(1_200_000, 1));
      // let the server start writing the blob, then vanish
      const tmp = join(t.dataDir, 'blobs', '.tmp');
      for (let i = 0; i < 500 && readdirSync(tmp).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(readdirSync(tmp).length > 0, 'the blob write had started');
      sock.destroy();
      let left = readdirSync(tmp);
      for (let i = 0; i < 250 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        left = readdirSync(tmp);
      }
      assert.deepEqual(left, [], 'the temp file of the abandoned write is removed');
      const head = await t.fetch(`/remote.php/dav/files/${ADMIN.uid}/${name}`, { method: 'HEAD' });
      assert.equal(head.status, 404);
      const put = await t.fetch(`/remote.php/dav/files/${ADMIN.uid}/${name}`, { method: 'PUT', body: 'fine' });
      assert.equal(put.status, 201);
      const get = await t.fetch(`/remote.php/dav/files/${ADMIN.uid}/${name}`);
      assert.equal(await get.text(), 'fine');
    });
  }
});
