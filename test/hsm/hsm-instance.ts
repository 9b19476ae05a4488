/**
 * Shared fixture of the PKCS#11 end-to-end tests: a SoftHSM2 token and an instance with encryption on
 * and two users' files, plus helpers to run `./occ` against it and to check every file after a restart.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { writeTestConfig } from '../support/test-instance.ts';
import { createSoftHsm, type SoftHsmToken } from '../support/softhsm.ts';
import { occ, type RunResult } from '../cli/occ-harness.ts';
import { userActor } from '../../src/actor.ts';

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const ARGON = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

export async function drain(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p)); else out.push(p);
  }
  return out;
}

/** The instance; call `setup()` in `before` and `cleanup()` in `after`. */
export class HsmInstance {
  hsm!: SoftHsmToken;
  dir!: string;
  configPath!: string;
  dataDir!: string;
  /** `uid:path` → content of every file the instance must keep readable. */
  readonly content = new Map<string, Buffer>();

  async setup(): Promise<void> {
    this.hsm = createSoftHsm('coffer-test', '87654321');
    process.env.SOFTHSM2_CONF = this.hsm.conf;
    process.env.PKCS11_PIN = this.hsm.pin;
    ({ dir: this.dir, configPath: this.configPath } = await writeTestConfig());
    const app = await this.open();
    this.dataDir = app.config.datadirectory;
    await app.appConfig.set('encryption', 'enabled', 'yes');
    await app.encryption.enable();
    for (const uid of ['alice', 'bob']) {
      await app.users.create({ uid, password: `${uid}-password-1`, isAdmin: false, quota: null });
      const b = randomBytes(150_000 + uid.length);
      this.content.set(`${uid}:/f.bin`, b);
      await app.files.writeFile(userActor(uid, 'password'), uid, '/f.bin', Readable.from([b]));
    }
    await app.close();
    assert.equal(this.masterFiles().length, 1);
  }

  cleanup(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.hsm?.cleanup();
  }

  // Arrow fields, so that tests can destructure them: `const { run, ok } = t`.
  readonly sysDir = (): string => join(this.dataDir, 'files_encryption', 'OC_DEFAULT_MODULE');
  /** Every master key wrapping file, sorted. */
  readonly masterFiles = (): string[] => readdirSync(this.sysDir()).filter((n) => n.startsWith('master_')).sort();
  /** File → SHA-256 of every key file. */
  readonly keySnapshot = (): Map<string, string> => new Map(walk(this.dataDir).filter((f) => f.includes('files_encryption')).map((f) => [f, sha(readFileSync(f))]));
  readonly cfg = (): Record<string, unknown> & { keyHolder?: { type: string } } => JSON.parse(readFileSync(this.configPath, 'utf8'));

  /** `./occ args` with the token's SOFTHSM2_CONF and PIN unless `env` overrides them. */
  readonly run = (args: string[], env: Record<string, string> = {}): Promise<RunResult> =>
    occ(args, { COFFER_CONFIG: this.configPath, SOFTHSM2_CONF: this.hsm.conf, PKCS11_PIN: this.hsm.pin, ...env });

  /** Runs and asserts exit 0; returns stdout. */
  readonly ok = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
    const r = await this.run(args, env);
    assert.equal(r.code, 0, `./occ ${args.join(' ')} exited ${r.code} (${r.signal})\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  readonly setPkcs11 = (env: Record<string, string> = {}): Promise<RunResult> =>
    this.run(['encryption:key-holder:set', 'pkcs11', '--module', this.hsm.module, '--token-label', this.hsm.label, '--pin-from-env'], env);

  readonly open = (path = this.configPath): Promise<App> => openApp(loadConfig(path), { logger: silentLogger(), argon2: ARGON });

  /** Opens the instance as a restarted server would and checks every file's content. */
  readonly readable = async (path = this.configPath): Promise<App> => {
    const app = await this.open(path);
    try {
      for (const [key, b] of this.content) {
        const [uid, p] = key.split(':') as [string, string];
        assert.equal(sha(await drain((await app.files.openRead(userActor(uid, 'password'), uid, p)).stream)), sha(b), key);
      }
    } catch (err) { await app.close(); throw err; }
    return app;
  };
}
