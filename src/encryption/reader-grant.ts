import { AsyncLocalStorage } from 'node:async_hooks';
import type { ReaderGrant } from '../storage/blob-store.ts';

const als = new AsyncLocalStorage<ReaderGrant>();

/**
 * Runs `fn` with `grant` as the ambient reader: blob reads and writes started inside it (and the
 * streams they return) pick per-user-mode keys for that principal unless their BlobContext names
 * another `reader`. Adapters call it where the request's principal is known (DAV after
 * authentication, public links with the token). Rethrows what `fn` throws.
 */
export function withReader<T>(grant: ReaderGrant, fn: () => Promise<T>): Promise<T> {
  return als.run(grant, fn);
}

/** The ambient reader grant, or undefined outside `withReader`. */
export function currentReader(): ReaderGrant | undefined {
  return als.getStore();
}
