/**
 * Throw-away SoftHSM2 tokens for the PKCS#11 tests (Debian package `softhsm2`): each token lives in
 * its own temp dir with its own SOFTHSM2_CONF, initialised with `softhsm2-util --init-token`.
 * Under CI=true a missing softhsm2 is a failure; elsewhere the tests skip with a message.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'];

/** Path of the SoftHSM2 PKCS#11 library, or undefined. */
export function softhsmModule(): string | undefined {
  return MODULES.find((m) => existsSync(m));
}

/**
 * Undefined when SoftHSM2 is usable; otherwise why not (for `skip`).
 * @throws Error under CI=true when softhsm2 is missing (CI must run these tests).
 */
export function softhsmSkipReason(): string | undefined {
  const util = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  const reason = util.error ? 'softhsm2-util not found (apt-get install -y softhsm2)'
    : !softhsmModule() ? 'libsofthsm2.so not found (apt-get install -y softhsm2)' : undefined;
  if (reason && process.env.CI === 'true') throw new Error(`CI=true and SoftHSM2 is missing: ${reason}`);
  return reason;
}

export interface SoftHsmToken {
  readonly dir: string;
  /** SOFTHSM2_CONF of this token's store. */
  readonly conf: string;
  readonly module: string;
  readonly label: string;
  readonly pin: string;
  /** Env for child processes: SOFTHSM2_CONF and PKCS11_PIN. */
  readonly env: Record<string, string>;
  /** Adds another initialised token to the same store. */
  addToken(label: string, pin: string): void;
  cleanup(): void;
}

function initToken(conf: string, label: string, pin: string): void {
  const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '12345678', '--pin', pin], {
    encoding: 'utf8', env: { ...process.env, SOFTHSM2_CONF: conf },
  });
  if (r.status !== 0) throw new Error(`softhsm2-util --init-token failed: ${r.stderr || r.stdout}`);
}

/** A fresh token store with one token `label` (user PIN `pin`). */
export function createSoftHsm(label = 'coffer-test', pin = '87654321'): SoftHsmToken {
  const module = softhsmModule();
  if (!module) throw new Error('SoftHSM2 is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'coffer-hsm-'));
  const conf = join(dir, 'softhsm2.conf');
  mkdirSync(join(dir, 'tokens'), { mode: 0o700 });
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  initToken(conf, label, pin);
  return {
    dir, conf, module, label, pin,
    env: { SOFTHSM2_CONF: conf, PKCS11_PIN: pin },
    addToken: (l, p) => initToken(conf, l, p),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
