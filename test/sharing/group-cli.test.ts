import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { openApp } from '../../src/app.ts';
import { runCli } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { occ as occProcess } from '../cli/occ-harness.ts';
import { writeTestConfig } from '../support/test-instance.ts';
import { userActor } from '../../src/actor.ts';

/** Runs `./occ args…` in this process (same commander program as ./occ) with output captured. */
async function occ(args: string[], configPath: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = process.env.COFFER_CONFIG;
  process.env.COFFER_CONFIG = configPath;
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
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
  try {
    const code = await runCli(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    if (saved === undefined) delete process.env.COFFER_CONFIG; else process.env.COFFER_CONFIG = saved;
    process.exitCode = undefined;
  }
}

describe('./occ group:* commands', () => {
  let dir: string;
  let configPath: string;
  let drop: () => Promise<void>;
  before(async () => {
    ({ dir, configPath, drop } = await writeTestConfig());
    const app = await openApp(loadConfig(configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
    for (const uid of ['alice', 'bob', 'carol']) await app.users.create({ uid, password: `${uid}-pw-123` });
    await app.close();
  });
  after(async () => { await drop(); rmSync(dir, { recursive: true, force: true }); });

  it('group:add, adduser, list (Nextcloud JSON shape), removeuser, delete, with exit codes', async () => {
    let r = await occ(['group:add', 'team'], configPath);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Created group "team"/);
    assert.equal((await occ(['group:add', 'team'], configPath)).code, 5, 'exists');
    assert.equal((await occ(['group:add', 'bad/name'], configPath)).code, 2);
    assert.equal((await occ(['group:add', 'empty', '--display-name', 'Empty group'], configPath)).code, 0);
    for (const u of ['bob', 'alice']) assert.equal((await occ(['group:adduser', 'team', u], configPath)).code, 0);
    assert.equal((await occ(['group:adduser', 'team', 'alice'], configPath)).code, 0, 'idempotent');
    assert.equal((await occ(['group:adduser', 'team', 'nobody'], configPath)).code, 4);
    assert.equal((await occ(['group:adduser', 'nogroup', 'bob'], configPath)).code, 4);

    r = await occ(['group:list', '--output=json'], configPath);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { empty: [], team: ['alice', 'bob'] });
    r = await occ(['group:list'], configPath);
    assert.match(r.stdout, /- team:\n\s+- alice\n\s+- bob\n/);
    r = await occ(['group:list', '--info', '--output=json'], configPath);
    assert.deepEqual(JSON.parse(r.stdout).empty, { displayName: 'Empty group', users: [] });

    assert.equal((await occ(['group:removeuser', 'team', 'bob'], configPath)).code, 0);
    assert.equal((await occ(['group:removeuser', 'team', 'bob'], configPath)).code, 4, 'not a member');
    assert.deepEqual(JSON.parse((await occ(['group:list', '--output=json'], configPath)).stdout).team, ['alice']);

    r = await occ(['group:delete', 'empty'], configPath);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await occ(['group:delete', 'empty'], configPath)).code, 4);
    assert.deepEqual(Object.keys(JSON.parse((await occ(['group:list', '--output=json'], configPath)).stdout)), ['team']);
  });

  it('deleting a group ends the shares to it', async () => {
    const app = await openApp(loadConfig(configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
    try {
      await app.groups.addUser('team', 'carol');
      await app.files.mkdir('bob', 'Docs');
      await app.shares.create(userActor('bob', 'password'), { uid: 'bob', path: 'Docs', shareType: 1, shareWith: 'team' });
      assert.equal((await app.shareResolver.mountsOf('carol')).length, 1);
    } finally {
      await app.close();
    }
    assert.equal((await occ(['group:delete', 'team'], configPath)).code, 0);
    const again = await openApp(loadConfig(configPath), { logger: silentLogger() });
    try {
      assert.equal((await again.shareResolver.mountsOf('carol')).length, 0);
      assert.equal((await again.db.selectFrom('shares').selectAll().execute()).length, 0);
    } finally {
      await again.close();
    }
  });

  it('runs as a real ./occ process', async () => {
    const r = await occProcess(['group:list', '--output=json'], { COFFER_CONFIG: configPath });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {});
  });
});
