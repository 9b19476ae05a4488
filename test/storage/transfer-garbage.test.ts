import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { test } from 'node:test';
import { noteStreamed, YOUNG_GC_EVERY } from '../../src/storage/transfer-garbage.ts';

/**
 * Streams `total` bytes of fresh 64 KiB buffers, each kept until the next few arrived (as a body
 * piece waits for its write batch), through `note`; returns the peak of memoryUsage().arrayBuffers
 * and the young and full collections seen meanwhile.
 */
async function stream(total: number, note: (n: number) => void): Promise<{ peak: number; minor: number; major: number }> {
  let minor = 0;
  let major = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  let peak = 0;
  const window: Buffer[] = [];
  for (let sent = 0; sent < total; sent += 65_536) {
    const b = Buffer.allocUnsafeSlow(65_536);
    b[0] = sent & 0xff;
    window.push(b);
    if (window.length > 16) window.shift();
    note(b.length);
    if ((sent & 0xfffff) === 0) {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      await new Promise((r) => setImmediate(r)); // let V8's background threads free what it released
    }
  }
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return { peak, minor, major };
}

test('transfer garbage: fresh transfer buffers are collected young, so their memory stays bounded', async () => {
  const r = await stream(512 << 20, noteStreamed);
  assert.ok(r.minor >= (512 << 20) / YOUNG_GC_EVERY - 2, `young collections: ${r.minor}`);
  // without noteStreamed, V8 (Node 26) let the same loop's buffers pile up to 83–118 MiB before a full collection
  assert.ok(r.peak < 6 * YOUNG_GC_EVERY, `array buffer memory peaked at ${r.peak >> 20} MiB`);
});
