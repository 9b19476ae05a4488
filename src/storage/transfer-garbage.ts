import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bytes streamed between two young-generation collections (see noteStreamed). Well below V8's
 * external-memory limit (64 MiB above what the last full GC left), which transfer garbage then never
 * reaches, even encrypted (a counted byte stands for two or three fresh ones there: the body piece,
 * the cipher output, the ciphertext read). 8 rather than 16 MiB: encrypted transfers then peaked
 * at 131–155 MiB RSS instead of 154–167, for the same CPU (a scavenge takes well under 1 ms).
 */
export const YOUNG_GC_EVERY = 8 << 20;

/** V8's gc() of this isolate, taken once (undefined where the runtime refuses it). */
const youngGc: ((o: { type: 'minor' }) => void) | undefined = (() => {
  const own = (globalThis as { gc?: unknown }).gc; // node --expose-gc
  if (typeof own === 'function') return own as (o: { type: 'minor' }) => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? gc as (o: { type: 'minor' }) => void : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc'); // only this module holds the function
  }
})();

let streamed = 0;

/**
 * Counts `bytes` of transfer content that has just passed (and will be garbage soon), and runs a
 * young-generation collection (a scavenge, about 1 ms) every YOUNG_GC_EVERY bytes, process-wide.
 *
 * Why: every piece of a request body is a fresh buffer (Node's HTTP parser copies each body piece
 * into one of its own), and so is every cipher output. The JS objects that hold them are tiny, so
 * the young generation fills slowly and V8 frees them only when their external memory reaches its
 * limit, with a full mark-compact of the whole heap: on Node 26 one every few dozen MiB, 25–35 per
 * GiB, most of a plain PUT's user CPU. A scavenge every 16 MiB frees them while they are still
 * young, for a fraction of that CPU, and bounds the transfer garbage (and the RSS it costs) to a
 * few times YOUNG_GC_EVERY. Measured in docs/PERFORMANCE.md.
 */
export function noteStreamed(bytes: number): void {
  streamed += bytes;
  if (streamed < YOUNG_GC_EVERY) return;
  streamed = 0;
  youngGc?.({ type: 'minor' });
}
