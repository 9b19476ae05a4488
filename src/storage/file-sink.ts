import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { STREAM_BUFFER } from './buffer-sizes.ts';
import { noteStreamed } from './transfer-garbage.ts';

/** Stream chunks are gathered into writev calls of about this many bytes (one syscall per MiB). */
export const WRITE_BATCH = STREAM_BUFFER;
/**
 * Once this many bytes were written since the last flush started, an fdatasync starts in the
 * background (at most one at a time), so that the disk writes while the rest still streams in and
 * the final fsync has only the tail left. Files smaller than this see only the final fsync.
 */
export const EARLY_FLUSH_BYTES = 32 << 20;

/** The buffers left after a partial writev of `written` bytes. */
function skipWritten(bufs: Buffer[], written: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && written >= bufs[i].length) written -= bufs[i++].length;
  if (i === bufs.length) return [];
  return [bufs[i].subarray(written), ...bufs.slice(i + 1)];
}

/** Writes every byte of `bufs` (one writev, more only after a partial write). */
export async function writeAll(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  while (bufs.length) {
    const { bytesWritten } = await fh.writev(bufs);
    bufs = skipWritten(bufs, bytesWritten);
  }
}

/**
 * Writes everything `source` yields to `fh` (from its current end) and resolves with the byte count
 * once the source ended and every write (and background flush) completed. It does not fsync at the
 * end: the caller does, before it makes the file visible.
 *
 * Chunks are not copied: they are gathered as they arrive and written with one writev per
 * WRITE_BATCH while the next batch fills (the source is paused only when a second batch is full),
 * so receiving and writing overlap. Large files are flushed in the background as they grow
 * (EARLY_FLUSH_BYTES) so that the disk works during the transfer rather than all at the end.
 * `head` (from readHead) is written first, as if the source had yielded it.
 * @throws the source's error, Error('… closed before its end') when it closes early, or the write/flush error.
 */
export function writeStreamToFile(fh: FileHandle, source: Readable, head?: SourceHead): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let batch: Buffer[] = head ? [...head.chunks] : [];
    let batched = head?.size ?? 0;
    let size = batched;
    let writing: Promise<void> | undefined;
    let ended = false;
    let failed = false;
    let unflushed = 0;
    let flushing: Promise<void> | undefined;

    const detach = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', fail);
      source.off('close', onClose);
    };
    function fail(err: Error): void {
      if (failed) return;
      failed = true;
      detach();
      // let the write and the flush in flight settle before the caller closes the handle
      void Promise.allSettled([writing, flushing]).then(() => reject(err));
    }
    const startFlush = () => {
      unflushed = 0;
      flushing = fh.datasync().then(() => { flushing = undefined; }, (err: Error) => { flushing = undefined; fail(err); });
    };
    const pump = () => {
      if (writing || failed) return;
      if (batched >= WRITE_BATCH || (ended && batched > 0)) {
        const bufs = batch;
        const n = batched;
        batch = [];
        batched = 0;
        writing = writeAll(fh, bufs).then(() => {
          writing = undefined;
          unflushed += n;
          if (unflushed >= EARLY_FLUSH_BYTES && !flushing && !ended) startFlush();
          if (!ended && source.isPaused()) source.resume();
          pump();
        }, (err: Error) => { writing = undefined; fail(err); });
        return;
      }
      if (ended) {
        detach();
        void (flushing ?? Promise.resolve()).then(() => { if (!failed) resolve(size); });
      }
    };
    function onData(chunk: Buffer): void {
      size += chunk.length;
      noteStreamed(chunk.length);
      batch.push(chunk);
      batched += chunk.length;
      if (batched < WRITE_BATCH) return;
      pump();
      if (writing && batched >= WRITE_BATCH) source.pause();
    }
    function onEnd(): void {
      ended = true;
      pump();
    }
    function onClose(): void {
      if (!ended) fail(new Error('the content stream closed before its end'));
    }
    // A source that already ended (readHead saw its last chunk; 'end' may have fired since) is
    // done, even when autoDestroy destroyed it meanwhile.
    if (source.readableEnded || head?.ended) {
      onEnd();
      return;
    }
    if (source.destroyed) { // e.g. the client went away while the file was being opened
      reject(source.errored ?? new Error('the content stream closed before its end'));
      return;
    }
    source.on('data', onData);
    source.once('end', onEnd);
    source.on('error', fail);
    source.once('close', onClose);
    source.off('error', ignoreError);
    if (batched >= WRITE_BATCH) pump(); // readHead's chunks fill a batch: write it, then resume
    else if (source.isPaused()) source.resume();
  });
}

function ignoreError(): void { /* see readHead */ }

/** The first bytes of a source, read by readHead. */
export interface SourceHead {
  readonly chunks: Buffer[];
  readonly size: number;
  /** The source ended within `limit`: `chunks` is all of it. */
  readonly ended: boolean;
}

/**
 * Reads `source` until it ends or `limit` bytes arrived (whichever comes first), without copying.
 * When it did not end, the source is left paused with no listener: hand it and the head to
 * writeStreamToFile, which writes the head first and resumes the source.
 * @throws the source's error, or Error('… closed before its end') when it closes early.
 */
export function readHead(source: Readable, limit: number): Promise<SourceHead> {
  return new Promise<SourceHead>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
    };
    function onData(chunk: Buffer): void {
      chunks.push(chunk);
      size += chunk.length;
      if (size < limit) return;
      source.pause();
      detach();
      // Until writeStreamToFile listens, an error (client gone) must not be an unhandled 'error'
      // event: writeStreamToFile finds it in source.errored.
      source.on('error', ignoreError);
      resolve({ chunks, size, ended: false });
    }
    function onEnd(): void { detach(); resolve({ chunks, size, ended: true }); }
    function onError(err: Error): void { detach(); reject(err); }
    function onClose(): void { detach(); reject(source.errored ?? new Error('the content stream closed before its end')); }
    if (source.readableEnded) { resolve({ chunks, size, ended: true }); return; }
    if (source.destroyed) { reject(source.errored ?? new Error('the content stream closed before its end')); return; }
    source.on('data', onData);
    source.once('end', onEnd);
    source.on('error', onError);
    source.once('close', onClose);
  });
}
