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

/**
 * `withReader` when `needed` resolves true, else just `fn`. Adapters pass "per-user-key mode": only
 * that mode reads the grant. In Node 20 the first AsyncLocalStorage.run turns on promise hooks for
 * the whole process for good, which costs every later request a fifth or more of its CPU (measured
 * on small PUTs), so master-key and unencrypted instances must never enter it.
 * Rethrows what `needed` or `fn` throws.
 */
export async function withReaderWhen<T>(needed: Promise<boolean> | boolean, grant: ReaderGrant, fn: () => Promise<T>): Promise<T> {
  return (await needed) ? withReader(grant, fn) : fn();
}

/** The ambient reader grant, or undefined outside `withReader`. */
export function currentReader(): ReaderGrant | undefined {
  return als.getStore();
}
