/**
 * The BlobStore contract on EncryptedBlobStore, the store every caller uses, in both key modes:
 * master key (the server acting), and per-user keys (the owner acting with her unlocked key).
 * Built by openApp on a real instance (SQLite, local disk), as the server builds it.
 */
import { readdirSync, rmSync } from 'node:fs';
import { userActor, SYSTEM } from '../../src/actor.ts';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { FORMAT_ID } from '../../src/crypto/format.ts';
import { silentLogger } from '../../src/logger.ts';
import type { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { runBlobStoreConformance, type ConformanceTarget } from '../storage/blob-store-conformance.ts';
import { writeTestConfig } from '../support/test-instance.ts';

const PASSWORD = 'alice-password-1';
const KDF = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

/** An app with encryption enabled in `mode`, and alice (unlocked in per-user mode). */
async function encryptedTarget(mode: 'master-key' | 'per-user'): Promise<ConformanceTarget> {
  const { dir, configPath, drop } = await writeTestConfig();
  const config = loadConfig(configPath);
  const open = () => openApp(config, { logger: silentLogger(), argon2: KDF, userKeyKdf: KDF });
  let app: App = await open();
  await app.users.create({ uid: 'alice', password: PASSWORD });
  await app.appConfig.set('encryption', 'enabled', 'yes');
  await app.encryption.enable();
  if (mode === 'per-user') {
    await app.userKeys.setPerUserMode(true, 0);
    await app.close();
    app = await open(); // the key policy is chosen when the app opens
    await app.userKeys.onLogin('alice', 'password', PASSWORD); // her key pair, unlocked
  }
  const raw = app.rawBlobs as LocalBlobStore;
  return {
    store: app.blobs,
    codec: FORMAT_ID,
    ctx: { fileId: 1, owner: 'alice', actor: mode === 'per-user' ? userActor('alice', 'password') : SYSTEM },
    async leftovers(blobId: string) {
      return readdirSync(raw.tempDir).filter((f) => f.startsWith(`${blobId}.`)).map((f) => `temp file ${f}`);
    },
    async close() {
      await app.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}



runBlobStoreConformance('EncryptedBlobStore, master-key mode', () => encryptedTarget('master-key'), { light: true });
runBlobStoreConformance('EncryptedBlobStore, per-user-key mode', () => encryptedTarget('per-user'), { light: true });
