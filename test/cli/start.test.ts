import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openApp } from '../../src/app.ts';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { UserService } from '../../src/auth/user-service.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { ROOT, spawnServer, tempInstance, TSX_LOADER } from './occ-harness.ts';

const START = join(ROOT, 'src/cli/start.ts');
const inst = tempInstance();
after(() => inst.cleanup());

async function verify(configPath: string, uid: string, password: string): Promise<boolean> {
  const app = await openApp(loadConfig(configPath), { logger: silentLogger() });
  try {
    await new UserService({ db: app.db, hasher: new PasswordHasher() }).verifyPassword(uid, password);
    return true;
  } catch {
    return false;
  } finally {
    await app.close();
  }
}

test('npm start: the first run in an empty directory installs (config/, data/), prints the generated admin password once, and serves', async () => {
  const env = { COFFER_CONFIG: undefined, COFFER_ADMIN_PASSWORD: undefined, PORT: '0' };
  const s = await spawnServer(process.execPath, ['--import', TSX_LOADER, START], env, { cwd: inst.dir });
  let password: string;
  const configPath = join(inst.dir, 'config', 'config.json');
  try {
    const m = /admin password: (\S+)/.exec(s.stdout());
    assert.ok(m, s.stdout());
    password = m[1]!;
    assert.ok(password.length >= 16);
    assert.ok(!s.stderr().includes(password), 'the password never reaches the logs');
    assert.ok(existsSync(configPath));
    const cfg = loadConfig(configPath);
    assert.equal(cfg.datadirectory, join(inst.dir, 'data'));
    assert.equal(cfg.database.type, 'sqlite');
    const res = await fetch(`${s.url}/status.php`);
    assert.equal(res.status, 200);
    assert.equal((await res.json() as { installed: boolean }).installed, true);
    s.child.kill('SIGTERM');
    assert.equal((await s.exited).code, 0);
  } finally {
    s.child.kill('SIGKILL');
  }
  assert.equal(await verify(configPath, 'admin', password), true);

  // second start: no install, no password printed, same config
  const before = readFileSync(configPath, 'utf8');
  const s2 = await spawnServer(process.execPath, ['--import', TSX_LOADER, START], env, { cwd: inst.dir });
  try {
    assert.doesNotMatch(s2.stdout(), /password/);
    assert.equal(readFileSync(configPath, 'utf8'), before);
  } finally {
    s2.child.kill('SIGTERM');
    await s2.exited;
  }
});

test('npm start with COFFER_ADMIN_PASSWORD and COFFER_CONFIG uses them and prints no password', async () => {
  const other = tempInstance();
  try {
    const s = await spawnServer(process.execPath, ['--import', TSX_LOADER, START], { ...other.env, COFFER_ADMIN_PASSWORD: 'chosen-pass-123', PORT: '0' }, { cwd: other.dir });
    try {
      assert.doesNotMatch(s.stdout(), /chosen-pass-123/);
      assert.match(s.stdout(), /COFFER_ADMIN_PASSWORD/);
      assert.ok(existsSync(other.configPath));
    } finally {
      s.child.kill('SIGTERM');
      assert.equal((await s.exited).code, 0);
    }
    assert.equal(await verify(other.configPath, 'admin', 'chosen-pass-123'), true);
  } finally {
    other.cleanup();
  }
});
