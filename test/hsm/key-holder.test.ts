/**
 * Master key custody on a PKCS#11 token (SoftHSM2), end to end with real `./occ` processes:
 * set, status, restart, missing token, wrong PIN, "the secret + data + keys are not enough",
 * SIGKILL during switching at several points, switching back to the secret.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { writeTestConfig } from '../support/test-instance.ts';
import { createSoftHsm, softhsmSkipReason, type SoftHsmToken } from '../support/softhsm.ts';
import { occ, type RunResult } from '../cli/occ-harness.ts';

const skip = softhsmSkipReason();
if (skip) console.log(`# skipping PKCS#11 tests: ${skip}`);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ARGON = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

async function drain(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p)); else out.push(p);
  }
  return out;
}

describe('PKCS#11 master key custody (SoftHSM2)', { skip }, () => {
  let hsm: SoftHsmToken;
  let dir: string;
  let configPath: string;
  let dataDir: string;
  const content = new Map<string, Buffer>();
  const sysDir = () => join(dataDir, 'files_encryption', 'OC_DEFAULT_MODULE');
  const masterFiles = () => readdirSync(sysDir()).filter((n) => n.startsWith('master_')).sort();
  const keySnapshot = () => new Map(walk(dataDir).filter((f) => f.includes('files_encryption')).map((f) => [f, sha(readFileSync(f))]));
  const run = (args: string[], env: Record<string, string> = {}): Promise<RunResult> =>
    occ(args, { COFFER_CONFIG: configPath, SOFTHSM2_CONF: hsm.conf, PKCS11_PIN: hsm.pin, ...env });
  const ok = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
    const r = await run(args, env);
    assert.equal(r.code, 0, `./occ ${args.join(' ')} exited ${r.code} (${r.signal})\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const setPkcs11 = (env: Record<string, string> = {}) => run(['encryption:key-holder:set', 'pkcs11', '--module', hsm.module, '--token-label', hsm.label, '--pin-from-env'], env);
  const cfg = () => JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown> & { keyHolder?: { type: string } };

  async function open(path = configPath): Promise<App> {
    return openApp(loadConfig(path), { logger: silentLogger(), argon2: ARGON });
  }

  /** Opens the instance as a restarted server would and checks every file's content. */
  async function readable(path = configPath): Promise<App> {
    const app = await open(path);
    try {
      for (const [key, b] of content) {
        const [uid, p] = key.split(':') as [string, string];
        assert.equal(sha(await drain((await app.files.openRead(uid, p)).stream)), sha(b), key);
      }
    } catch (err) { await app.close(); throw err; }
    return app;
  }

  before(async () => {
    hsm = createSoftHsm('coffer-test', '87654321');
    process.env.SOFTHSM2_CONF = hsm.conf;
    process.env.PKCS11_PIN = hsm.pin;
    ({ dir, configPath } = await writeTestConfig());
    const app = await open();
    dataDir = app.config.datadirectory;
    await app.appConfig.set('encryption', 'enabled', 'yes');
    await app.encryption.enable();
    for (const uid of ['alice', 'bob']) {
      await app.users.create({ uid, password: `${uid}-password-1`, isAdmin: false, quota: null });
      const b = randomBytes(150_000 + uid.length);
      content.set(`${uid}:/f.bin`, b);
      await app.files.writeFile(uid, '/f.bin', Readable.from([b]));
    }
    await app.close();
    assert.deepEqual(masterFiles().filter((n) => n.endsWith('.masterKey')).length, 1);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    hsm?.cleanup();
  });

  test('set pkcs11: the master key is re-wrapped on the token, the secret wrapping removed, no PIN in the config', async () => {
    const before = masterFiles();
    assert.deepEqual(before.map((n) => /^master_[0-9a-f]{32}\.masterKey$/.test(n)), [true]);
    const r = await setPkcs11();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Key holder is now pkcs11:coffer-test \(was secret\)/);
    const c = cfg();
    assert.deepEqual(c.keyHolder, { type: 'pkcs11', module: hsm.module, tokenLabel: 'coffer-test', pinEnv: 'PKCS11_PIN' });
    assert.ok(!readFileSync(configPath, 'utf8').includes(hsm.pin), 'the PIN is not in the config file');
    const after = masterFiles();
    assert.equal(after.length, 1);
    assert.match(after[0]!, /^master_[0-9a-f]{32}\.p11-[0-9a-f]{16}\.masterKey$/);
    const f = JSON.parse(readFileSync(join(sysDir(), after[0]!), 'utf8'));
    assert.equal(f.holder, 'pkcs11:coffer-test');
    assert.equal(f.wrap, 'pkcs11-aes256');
    assert.ok(!existsSync(join(sysDir(), 'key-holder-switch.json')));
  });

  test('status --output=json names the holder, token and wrapping', async () => {
    const s = JSON.parse(await ok(['encryption:key-holder:status', '--output=json']));
    assert.equal(s.holder.id, 'pkcs11:coffer-test');
    assert.equal(s.holder.module, hsm.module);
    assert.equal(s.holder.pinSource, 'env:PKCS11_PIN');
    assert.equal(s.holder.connected, true);
    assert.equal(s.holder.mechanism, 'CKM_AES_GCM');
    assert.equal(s.wrappings.length, 1);
    assert.equal(s.wrappings[0].holder, 'pkcs11:coffer-test');
    assert.equal(s.interruptedSwitch, null);
    assert.ok(!JSON.stringify(s).includes(hsm.pin));
    const plain = await ok(['encryption:key-holder:status']);
    assert.match(plain, /Key holder: pkcs11:coffer-test/);
  });

  test('restart: files readable; the token is used once at start, never per file', async () => {
    const app = await readable();
    try {
      assert.equal(app.keyHolder.describe().tokenOperations, 1, 'one unwrap at start');
      await app.users.create({ uid: 'carol', password: 'carol-password-1', isAdmin: false, quota: null });
      const b = randomBytes(70_000);
      await app.files.writeFile('carol', '/c.bin', Readable.from([b]));
      assert.equal(sha(await drain((await app.files.openRead('carol', '/c.bin')).stream)), sha(b));
      content.set('carol:/c.bin', b);
      await app.files.writeFile('alice', '/g.bin', Readable.from([b]));
      assert.equal(app.keyHolder.describe().tokenOperations, 1, 'writes and reads (and a new user key) never touch the token');
      content.set('alice:/g.bin', b);
    } finally { await app.close(); }
  });

  test('wrong PIN and missing token: commands, server and openApp refuse naming the cause; nothing rewritten', async () => {
    const keys = keySnapshot();
    const config = readFileSync(configPath, 'utf8');
    const wrong = await run(['encryption:status'], { PKCS11_PIN: '11112222' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /PKCS#11 login failed: wrong PIN/);
    const srv = await run(['serve', '--port', '0'], { PKCS11_PIN: '11112222' });
    assert.notEqual(srv.code, 0, 'the server must not start');
    assert.match(srv.stderr, /PKCS#11 login failed: wrong PIN/);
    assert.ok(!srv.stdout.includes('listening'));
    const other = createSoftHsm('someone-else', '87654321');
    try {
      const missing = await run(['encryption:status'], { SOFTHSM2_CONF: other.conf });
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, new RegExp(`PKCS#11 token 'coffer-test' not found in module ${hsm.module.replace(/[.]/g, '\\.')}`));
      const set = await run(['encryption:key-holder:set', 'secret'], { SOFTHSM2_CONF: other.conf });
      assert.notEqual(set.code, 0, 'cannot switch away without the token');
      assert.match(set.stderr, /not found/);
    } finally { other.cleanup(); }
    const noPin = await run(['encryption:status'], { PKCS11_PIN: '' });
    assert.notEqual(noPin.code, 0);
    assert.match(noPin.stderr, /PKCS11_PIN is not set/);
    process.env.PKCS11_PIN = '11112222';
    try {
      await assert.rejects(open(), /PKCS#11 login failed: wrong PIN/);
    } finally { process.env.PKCS11_PIN = hsm.pin; }
    assert.deepEqual(keySnapshot(), keys, 'key files unchanged');
    assert.equal(readFileSync(configPath, 'utf8'), config, 'config unchanged');
    (await readable()).close();
  });

  test('the config secret + data directory + key storage are not enough without the token', async () => {
    const copy = join(dir, 'stolen');
    cpSync(join(dir, 'data'), join(copy, 'data'), { recursive: true });
    const c = cfg() as Record<string, unknown> & { database: { path: string } };
    const stolen = { ...c, datadirectory: join(copy, 'data'), database: { ...c.database, path: join(copy, 'data', 'coffer.db') } };
    const asSecret = join(copy, 'secret.json');
    writeFileSync(asSecret, JSON.stringify({ ...stolen, keyHolder: { type: 'secret' } }));
    const asPkcs11 = join(copy, 'pkcs11.json');
    writeFileSync(asPkcs11, JSON.stringify(stolen));
    const empty = createSoftHsm('not-the-token', '87654321');
    try {
      const s = await occ(['encryption:status'], { COFFER_CONFIG: asSecret });
      assert.notEqual(s.code, 0);
      assert.match(s.stderr, /held by 'pkcs11:coffer-test'.*keyHolder is 'secret'/);
      await assert.rejects(open(asSecret), /held by 'pkcs11:coffer-test'/);
      const p = await occ(['encryption:status'], { COFFER_CONFIG: asPkcs11, SOFTHSM2_CONF: empty.conf, PKCS11_PIN: '87654321' });
      assert.notEqual(p.code, 0);
      assert.match(p.stderr, /token 'coffer-test' not found/);
      const blobs = walk(join(copy, 'data', 'blobs'));
      assert.ok(blobs.length >= 2);
      for (const conf of [asSecret, asPkcs11]) {
        const out = join(copy, `out-${conf.endsWith('secret.json') ? 's' : 'p'}`);
        const d = await occ(['encryption:decrypt-blob', blobs[0]!, '--out', out], { COFFER_CONFIG: conf, SOFTHSM2_CONF: empty.conf });
        assert.notEqual(d.code, 0, `decrypt-blob must be refused: ${d.stdout}`);
        assert.ok(!existsSync(out), 'no plaintext written');
      }
      // No plaintext anywhere in the copy.
      for (const [, b] of content) {
        const probe = b.subarray(1000, 1032);
        for (const f of walk(copy)) assert.ok(!readFileSync(f).includes(probe), `plaintext in ${f}`);
      }
    } finally { empty.cleanup(); rmSync(copy, { recursive: true, force: true }); }
  });

  for (const point of ['after-write', 'after-verify', 'after-switch'] as const) {
    test(`SIGKILL while switching pkcs11 → secret ${point}: a working key remains; a rerun converges`, async () => {
      assert.equal(cfg().keyHolder?.type, 'pkcs11');
      const r = await run(['encryption:key-holder:set', 'secret'], { COFFER_TEST_CRASH_AT: point });
      assert.equal(r.signal, 'SIGKILL', `${r.code} ${r.stderr}`);
      const committed = point === 'after-switch';
      assert.equal(cfg().keyHolder?.type, committed ? 'secret' : 'pkcs11');
      assert.equal(masterFiles().length, 2, 'both wrappings exist at the crash');
      // Restart: the configured holder opens the key; files readable.
      const app = await readable();
      await app.close();
      // A committed switch is finished at start (the pkcs11 wrapping removed); an uncommitted one waits.
      assert.equal(masterFiles().length, committed ? 1 : 2);
      if (committed) {
        assert.match(masterFiles()[0]!, /^master_[0-9a-f]{32}\.masterKey$/);
        const s = JSON.parse(await ok(['encryption:key-holder:status', '--output=json'], { SOFTHSM2_CONF: '/nonexistent' }));
        assert.equal(s.holder.id, 'secret');
        assert.equal(s.interruptedSwitch, null);
      } else {
        const s = JSON.parse(await ok(['encryption:key-holder:status', '--output=json']));
        assert.equal(s.interruptedSwitch.to, 'secret');
      }
      // Back to the token (rolls the interrupted switch back first when it was not committed).
      const back = await setPkcs11();
      assert.equal(back.code, 0, back.stderr);
      if (!committed) assert.match(back.stdout, /rolled back/);
      assert.equal(cfg().keyHolder?.type, 'pkcs11');
      assert.deepEqual(masterFiles().map((n) => /\.p11-/.test(n)), [true]);
      (await readable()).close();
    });
  }

  test('rotate-master-key under the token: the new master key is wrapped by the token, the old one removed', async () => {
    assert.equal(cfg().keyHolder?.type, 'pkcs11');
    const before = masterFiles();
    await ok(['encryption:rotate-master-key']);
    const after = masterFiles();
    assert.equal(after.length, 1);
    assert.notEqual(after[0], before[0]);
    assert.match(after[0]!, /\.p11-[0-9a-f]{16}\.masterKey$/);
    (await readable()).close();
  });

  test('SIGKILL while switching secret → pkcs11 after the commit: restart removes the secret wrapping', async () => {
    await ok(['encryption:key-holder:set', 'secret']);
    assert.deepEqual(masterFiles().map((n) => /^master_[0-9a-f]{32}\.masterKey$/.test(n)), [true]);
    const r = await setPkcs11({ COFFER_TEST_CRASH_AT: 'after-switch' });
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(cfg().keyHolder?.type, 'pkcs11');
    assert.equal(masterFiles().length, 2);
    const app = await readable();
    await app.close();
    assert.deepEqual(masterFiles().map((n) => /\.p11-/.test(n)), [true], 'the secret-wrapped copy is gone after the start');
  });

  test('switching back to the secret: files readable without any token', async () => {
    const out = await ok(['encryption:key-holder:set', 'secret']);
    assert.match(out, /Key holder is now secret \(was pkcs11:coffer-test\)/);
    assert.deepEqual(cfg().keyHolder, { type: 'secret' });
    assert.deepEqual(masterFiles().map((n) => /^master_[0-9a-f]{32}\.masterKey$/.test(n)), [true]);
    const s = JSON.parse(await ok(['encryption:key-holder:status', '--output=json'], { SOFTHSM2_CONF: '/nonexistent', PKCS11_PIN: '' }));
    assert.equal(s.holder.id, 'secret');
    delete process.env.SOFTHSM2_CONF;
    try { (await readable()).close(); } finally { process.env.SOFTHSM2_CONF = hsm.conf; }
  });
});
