import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { writeTestConfig } from '../support/test-instance.ts';
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { EXIT, reportError } from '../../src/cli/cli-support.ts';
import * as userAdd from '../../src/cli/commands/user-add.command.ts';
import * as userDelete from '../../src/cli/commands/user-delete.command.ts';
import * as userList from '../../src/cli/commands/user-list.command.ts';
import * as userInfo from '../../src/cli/commands/user-info.command.ts';
import * as userResetPassword from '../../src/cli/commands/user-resetpassword.command.ts';
import * as userSetting from '../../src/cli/commands/user-setting.command.ts';
import * as userEnable from '../../src/cli/commands/user-enable.command.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = join(ROOT, 'test/auth/user-cli-entry.ts');

/** Runs the CLI as a real process (slow under load: used once). */
function occProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const e = { ...process.env, ...env };
    delete e.NODE_OPTIONS;
    delete e.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/**
 * Runs the same commander program in this process with stdout/stderr captured and the given
 * environment (stdin is not a TTY here, as in the process case).
 */
async function occ(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const saved: Record<string, string | undefined> = {};
  for (const k of ['COFFER_CONFIG', 'OC_PASS', ...Object.keys(env)]) { saved[k] = process.env[k]; delete process.env[k]; }
  Object.assign(process.env, env);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  // Commands write strings; the test runner's own reports (binary, serialised) pass through.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return out.call(process.stdout, chunk, ...rest);
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return err.call(process.stderr, chunk, ...rest);
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  let code = 0;
  try {
    const program = buildProgram();
    if (!program.commands.some((c) => c.name() === 'user:add')) {
      for (const m of [userAdd, userDelete, userList, userInfo, userResetPassword, userSetting, userEnable]) m.register(program);
      for (const c of program.commands) c.exitOverride();
    }
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    code = e instanceof CommanderError ? (e.exitCode === 0 ? 0 : EXIT.USAGE) : reportError(e);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  return { code, stdout, stderr };
}

describe('./occ user:* commands', () => {
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let configPath: string;
  let drop: () => Promise<void>;
  before(async () => {
    ({ dir, configPath, drop } = await writeTestConfig());
    env = { COFFER_CONFIG: configPath };
  });
  after(async () => { await drop(); rmSync(dir, { recursive: true, force: true }); });

  it('user:add with --password-from-env, display name and admin group; duplicate refused', async () => {
    // one real process: OC_PASS through the environment, exit code through process.exit
    let r = await occProcess(['user:add', '--password-from-env', '--display-name', 'Alice A', '--group', 'admin', 'alice'], { ...env, OC_PASS: 'alice-secret' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /The user "alice" was created successfully/);
    r = await occ(['user:add', '--password-from-env', 'alice'], { ...env, OC_PASS: 'x' });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /already exists/);
    r = await occ(['user:add', '--password-from-env', 'bob'], { ...env, OC_PASS: '' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /OC_PASS is empty/);
    r = await occ(['-n', 'user:add', 'bob'], env);
    assert.equal(r.code, 2, 'no password source without a terminal');
    assert.match(r.stderr, /--password-from-env/);
    r = await occ(['user:add', '--password-from-env', 'bad/name'], { ...env, OC_PASS: 'x' });
    assert.equal(r.code, 2);
    r = await occ(['user:add', '--password-from-env', 'bob'], { ...env, OC_PASS: 'bob-secret' });
    assert.equal(r.code, 0, r.stderr);

    const app = await openApp(loadConfig(configPath), { logger: silentLogger() });
    try {
      const alice = await app.users.verifyPassword('alice', 'alice-secret');
      assert.equal(alice.displayName, 'Alice A');
      assert.equal(alice.isAdmin, true);
      assert.equal((await app.users.get('bob')).isAdmin, false);
    } finally {
      await app.close();
    }
  });

  it('user:list and user:info in plain and JSON', async () => {
    let r = await occ(['user:list', '--output=json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { alice: 'Alice A', bob: 'bob' });
    r = await occ(['user:list'], env);
    assert.equal(r.stdout, '  - alice: Alice A\n  - bob: bob\n'.replace(/^  /gm, ' '));
    r = await occ(['user:info', 'alice', '--output=json'], env);
    const info = JSON.parse(r.stdout);
    assert.equal(info.user_id, 'alice');
    assert.equal(info.display_name, 'Alice A');
    assert.deepEqual(info.groups, ['admin']);
    assert.equal(info.quota, 'none');
    assert.equal(info.enabled, true);
    r = await occ(['user:info', 'nobody'], env);
    assert.equal(r.code, 4);
  });

  it('user:setting sets, reads, lists and deletes; settings/email maps to the account', async () => {
    let r = await occ(['user:setting', 'alice', 'core', 'lang', 'de'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await occ(['user:setting', 'alice', 'core', 'lang'], env);
    assert.equal(r.stdout, 'de\n');
    r = await occ(['user:setting', 'alice', 'settings', 'email', 'alice@example.org'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await occ(['user:setting', 'alice', '--output=json'], env);
    assert.deepEqual(JSON.parse(r.stdout), { core: { lang: 'de' }, settings: { display_name: 'Alice A', email: 'alice@example.org' } });
    r = await occ(['user:setting', 'alice', 'core', 'lang', '--delete'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await occ(['user:setting', 'alice', 'core', 'lang'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not exist/);
    r = await occ(['user:setting', 'alice', 'core', 'lang', '--default-value', 'en'], env);
    assert.equal(r.stdout, 'en\n');
    r = await occ(['user:setting', 'alice', 'core', 'lang', '--delete', '--error-if-not-exists'], env);
    assert.equal(r.code, 4);
    r = await occ(['user:setting', 'nobody', 'core', 'lang', 'x'], env);
    assert.equal(r.code, 4);
  });

  it('user:resetpassword, user:disable/enable and user:delete; actions are audited', async () => {
    let r = await occ(['user:resetpassword', '--password-from-env', 'bob'], { ...env, OC_PASS: 'bob-new' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Successfully reset password for bob/);
    r = await occ(['user:resetpassword', '--password-from-env', 'nobody'], { ...env, OC_PASS: 'x' });
    assert.equal(r.code, 4);
    r = await occ(['user:disable', 'bob'], env);
    assert.equal(r.code, 0, r.stderr);
    const app = await openApp(loadConfig(configPath), { logger: silentLogger() });
    try {
      await assert.rejects(app.users.verifyPassword('bob', 'bob-new'), /Authentication/);
      await app.users.setEnabled('bob', true);
      assert.equal((await app.users.verifyPassword('bob', 'bob-new')).uid, 'bob');
    } finally {
      await app.close();
    }
    r = await occ(['user:delete', 'bob'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /User "bob" deleted/);
    r = await occ(['user:delete', 'bob'], env);
    assert.equal(r.code, 4);
    const audit = readFileSync(join(loadConfig(configPath).datadirectory, 'audit.log'), 'utf8');
    const events = audit.trim().split('\n').map((l) => JSON.parse(l).event);
    for (const e of ['user.created', 'user.password_reset', 'user.disabled', 'user.deleted', 'user.setting_changed']) assert.ok(events.includes(e), e);
    assert.ok(!audit.includes('bob-new') && !audit.includes('alice-secret'));
  });
});
