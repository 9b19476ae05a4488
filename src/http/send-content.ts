import type { ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CryptoError } from '../errors.ts';
import { STREAM_BUFFER } from '../storage/buffer-sizes.ts';
import { FileRangeStream } from '../storage/file-range-stream.ts';
import { noteStreamed } from '../storage/transfer-garbage.ts';

/**
 * Sends file content as a response body whose Content-Length (`expected`) is already set, and ends
 * it. A local plain blob (FileRangeStream) goes out through the stream's two reused buffers (sendTo:
 * no allocation per byte, hence no GC and a flat RSS); any other stream through exactLength. Either
 * way content shorter or longer than announced destroys the socket instead of ending the response,
 * so a client never takes a cut file for a complete one.
 * @throws CryptoError('size-mismatch') when the content is shorter or longer; read and write errors.
 */
export async function sendContent(content: NodeJS.ReadableStream, res: ServerResponse, expected: number): Promise<void> {
  if (!(content instanceof FileRangeStream && content.sendable)) {
    await pipeline(content, exactLength(expected), res);
    return;
  }
  try {
    const sent = await content.sendTo(res);
    if (sent !== expected) throw new CryptoError('size-mismatch', `content shorter than its recorded size (${sent} < ${expected})`);
  } catch (err) {
    res.destroy(err as Error);
    throw err;
  }
  res.end();
}

/**
 * Passes bytes through and fails the pipeline (so the socket is destroyed rather than the response
 * ended) when the content is shorter or longer than announced in Content-Length.
 * Its buffers hold STREAM_BUFFER like the response's: with the default 16 KiB the
 * pipe pauses after every 64 KiB piece of decrypted content, which then reaches the socket as a
 * write syscall of its own instead of one writev per MiB.
 */
function exactLength(expected: number): Transform {
  let seen = 0;
  return new Transform({
    highWaterMark: STREAM_BUFFER,
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      noteStreamed(chunk.length); // decrypted pieces are fresh buffers
      if (seen > expected) cb(new CryptoError('size-mismatch', `content longer than its recorded size (${expected})`));
      else cb(null, chunk);
    },
    flush(cb) {
      cb(seen === expected ? null : new CryptoError('size-mismatch', `content shorter than its recorded size (${seen} < ${expected})`));
    },
  });
}
