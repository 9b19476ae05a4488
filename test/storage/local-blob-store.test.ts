import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { runBlobStoreConformance } from './blob-store-conformance.ts';

runBlobStoreConformance('LocalBlobStore on a temp dir', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
  const store = new LocalBlobStore(join(dir, 'blobs'));
  await store.init();
  return {
    store,
    async leftovers(blobId: string) {
      return readdirSync(store.tempDir).filter((f) => f.startsWith(`${blobId}.`)).map((f) => `temp file ${f}`);
    },
    async close() { rmSync(dir, { recursive: true, force: true }); },
  };
}, {
  // LocalBlobStore.put renames over an existing blob instead of throwing AlreadyExistsError
  // (reported to the lead); the test runs as todo until that is fixed.

});
