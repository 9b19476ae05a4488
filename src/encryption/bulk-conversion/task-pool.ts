/**
 * Runs `worker` over the items of an async iterable with at most `concurrency` in flight. Pulls
 * lazily (never more than `concurrency` items buffered), so memory stays flat for any number of items.
 * Stops pulling once `shouldStop()` returns true; in-flight work always finishes.
 * @throws the first error a worker throws (after the in-flight workers have settled).
 */
export async function runPool<T>(
  items: AsyncIterable<T>,
  concurrency: number,
  worker: (item: T) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  const it = items[Symbol.asyncIterator]();
  let failure: { err: unknown } | undefined;
  let pulling: Promise<IteratorResult<T>> | undefined;
  // One puller at a time: async iterators are not safe for concurrent next() calls.
  const next = async (): Promise<IteratorResult<T>> => {
    while (pulling) await pulling.catch(() => undefined);
    const p = it.next();
    pulling = p;
    try { return await p; } finally { pulling = undefined; }
  };
  const lane = async (): Promise<void> => {
    for (;;) {
      if (failure || shouldStop()) return;
      const r = await next();
      if (r.done) return;
      try {
        await worker(r.value);
      } catch (err) {
        failure ??= { err };
        return;
      }
    }
  };
  const n = Math.max(1, Math.floor(concurrency));
  await Promise.all(Array.from({ length: n }, lane));
  await it.return?.();
  if (failure) throw failure.err;
}
