import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { STREAM_BUFFER } from '../../src/storage/buffer-sizes.ts';
import { FileRangeStream } from '../../src/storage/file-range-stream.ts';

const dir = mkdtempSync(join(tmpdir(), 'coffer-range-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const content = randomBytes(3 * STREAM_BUFFER + 777);
const file = join(dir, 'blob');
writeFileSync(file, content);

const isClosed = (fd: number) => { try { fstatSync(fd); return false; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EBADF'; } };

/** Serves one request with `handler`, fetches it over loopback, and returns what the client got (or its error). */
async function serveOnce(handler: (res: http.ServerResponse) => Promise<void>, clientAbortAfter?: number): Promise<{ body: Buffer; handled: Promise<void> }> {
  let handled!: Promise<void>;
  const server = http.createServer((_req, res) => { handled = handler(res); handled.catch(() => {}); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
        const parts: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          parts.push(c);
          n += c.length;
          if (clientAbortAfter !== undefined && n >= clientAbortAfter) { req.destroy(); resolve(Buffer.concat(parts)); }
        });
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    return { body, handled };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

test('file range: sendTo sends exactly the range through its reused buffers and closes the descriptor', async () => {
  for (const [start, end] of [[0, content.length - 1], [3, 2 * STREAM_BUFFER + 10], [STREAM_BUFFER, STREAM_BUFFER]]) {
    const fd = openSync(file, 'r');
    const s = new FileRangeStream(fd, start, end);
    let sent = -1;
    const { body, handled } = await serveOnce(async (res) => { sent = await s.sendTo(res); res.end(); });
    await handled;
    assert.equal(sent, end - start + 1);
    assert.ok(body.equals(content.subarray(start, end + 1)), `range ${start}-${end}`);
    assert.ok(isClosed(fd));
  }
});

test('file range: a file shorter than the range ends early with the bytes it has', async () => {
  const fd = openSync(file, 'r');
  const s = new FileRangeStream(fd, content.length - 10, content.length + STREAM_BUFFER);
  const { body, handled } = await serveOnce(async (res) => { assert.equal(await s.sendTo(res), 10); res.end(); });
  await handled;
  assert.ok(body.equals(content.subarray(content.length - 10)));
  assert.ok(isClosed(fd));
});

test('file range: a client that goes away fails sendTo, and the descriptor is closed', async () => {
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.alloc(64 * STREAM_BUFFER, 1)); // more than the socket buffers hold
  const fd = openSync(big, 'r');
  const s = new FileRangeStream(fd, 0, 64 * STREAM_BUFFER - 1);
  const { handled } = await serveOnce(async (res) => { await s.sendTo(res); res.end(); }, STREAM_BUFFER);
  await assert.rejects(handled);
  assert.ok(isClosed(fd));
});

test('file range: read as a Readable it yields the range; sendTo is then refused', async () => {
  const fd = openSync(file, 'r');
  const s = new FileRangeStream(fd, 10, 2 * STREAM_BUFFER + 20);
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  assert.ok(Buffer.concat(parts).equals(content.subarray(10, 2 * STREAM_BUFFER + 21)));
  assert.equal(s.sendable, false);
  await assert.rejects(s.sendTo(new http.ServerResponse(new http.IncomingMessage(null as never))), /already read/);
  assert.ok(isClosed(fd));
});
