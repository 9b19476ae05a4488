import type { Readable, Writable } from 'node:stream';

/**
 * Pipes `source` into `dest` the way a store's writer needs it: an error or an early close of the
 * source (the client went away) fails `dest`; but when `dest` fails (disk full, storage down, a
 * key missing), the source is only unpiped and paused, never destroyed. The source is usually the
 * HTTP request: destroying it destroys the socket, and the client would get no answer at all
 * instead of the 507 or 503 that tells it what happened (the adapter drains the rest).
 * stream.pipeline destroys every stream on any failure, which is why it is not used here.
 */
export function pipeSource(source: Readable, dest: Writable): void {
  const onError = (err: Error) => { detach(); dest.destroy(err); };
  const onClose = () => {
    detach();
    if (!source.readableEnded) dest.destroy(source.errored ?? new Error('the content stream closed before its end'));
  };
  const onDestClose = () => {
    detach();
    source.unpipe(dest);
    if (!source.readableEnded) source.pause();
  };
  function detach(): void {
    source.off('error', onError);
    source.off('close', onClose);
    dest.off('close', onDestClose);
  }
  source.on('error', onError);
  source.once('close', onClose);
  dest.once('close', onDestClose);
  source.pipe(dest);
}
