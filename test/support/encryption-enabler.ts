/**
 * Turns server-side encryption on for a running test instance, the way an admin does
 * (`app:enable encryption`, then `encryption:enable`), through whatever the encryption module
 * exposes: `app.encryption.enable()` (the EncryptionService on the App) when the composition root
 * wires it, else the CLI (`./occ app:enable encryption`, `./occ encryption:enable -n` against the
 * instance's config; the server picks the switch up within its 1 s state cache).
 * Test files call `encryptionSkipReason()` first so the encrypted variants skip with a clear
 * message while the module is not reachable yet.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestInstance } from './test-instance.ts';
import { SETTINGS_MAX_AGE_MS } from '../../src/db/app-config.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const OCC = `${ROOT}/occ`;

interface EncryptionLike { enable(): Promise<unknown> }

function appEncryption(app: unknown): EncryptionLike | undefined {
  const enc = (app as { encryption?: Partial<EncryptionLike> }).encryption;
  return enc && typeof enc.enable === 'function' ? (enc as EncryptionLike) : undefined;
}

function occCommands(): string {
  const r = spawnSync(OCC, ['--help'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, COFFER_CONFIG: '/nonexistent/config.json' } });
  return r.stdout ?? '';
}

let cached: Promise<string | undefined> | undefined;

/** Undefined when encryption can be enabled on a test instance; otherwise why not (for `skip`). */
export function encryptionSkipReason(): Promise<string | undefined> {
  cached ??= (async () => {
    let appTs = '';
    try { appTs = readFileSync(`${ROOT}/src/app.ts`, 'utf8'); } catch { /* none */ }
    if (/EncryptionService/.test(appTs)) return undefined;
    if (/^\s+encryption:enable\b/m.test(occCommands())) return undefined;
    return 'encryption not reachable yet: src/app.ts does not build an EncryptionService (app.encryption) and `./occ encryption:enable` does not exist';
  })();
  return cached;
}

/**
 * Enables the encryption app and server-side encryption so that every later write through `inst`
 * is encrypted.
 * @throws Error naming what is missing or what failed.
 */
export async function enableEncryption(inst: Pick<TestInstance, 'app' | 'configPath'> & { workers?: unknown }): Promise<void> {
  const app = inst.app as unknown as { encryption?: unknown; appConfig: { set(app: string, key: string, value: string): Promise<unknown> } };
  const enc = appEncryption(app);
  if (enc) {
    await app.appConfig.set('encryption', 'enabled', 'yes');
    await enc.enable();
    // Worker processes (./occ serve --workers) see the switch through their settings snapshot:
    // a write in that window would still be stored plain.
    if (inst.workers) await sleep(SETTINGS_MAX_AGE_MS + 200);
    return;
  }
  const env = { ...process.env, COFFER_CONFIG: inst.configPath };
  for (const args of [['app:enable', 'encryption'], ['encryption:enable', '-n']]) {
    const r = spawnSync(OCC, args, { encoding: 'utf8', timeout: 60_000, env });
    if (r.status !== 0) throw new Error(`./occ ${args.join(' ')} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  }
  await sleep(SETTINGS_MAX_AGE_MS + 200); // the server's settings snapshot
}
