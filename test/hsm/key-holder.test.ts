/**
 * Master key custody on a PKCS#11 token (SoftHSM2), end to end with real `./occ` processes:
 * set (and its refusals), status, restart (openApp and a real server), the token used once at start
 * (operation count; the token removed after start), missing token, wrong PIN, "the secret + data +
 * keys are not enough", offline decrypt-blob through the token, rotation under the token, another key
 * label with CKM_AES_KEY_WRAP_PAD, switching back to the secret. Crashes: key-holder-crash.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { createSoftHsm, softhsmSkipReason } from '../support/softhsm.ts';
import { OCC, occ, spawnServer } from '../cli/occ-harness.ts';
import { HsmInstance, drain, sha, walk } from './hsm-instance.ts';
import { userActor } from '../../src/actor.ts';

const skip = softhsmSkipReason();
if (skip) console.log(`# skipping PKCS#11 tests: ${skip}`);

describe('PKCS#11 master key custody (SoftHSM2)', { skip }, () => {
  const t = new HsmInstance();
  const { content, run, ok, setPkcs11, open, readable, cfg, masterFiles, keySnapshot, sysDir } = t;

  before(() => t.setup());
  after(() => t.cleanup());

  test('set refuses bad usage, a wrong PIN and a missing token: config and key files unchanged', async () => {
    const keys = keySnapshot();
    const config = readFileSync(t.configPath, 'utf8');
    const usage: [string[], RegExp][] = [
      [['encryption:key-holder:set', 'pkcs11', '--token-label', t.hsm.label, '--pin-from-env'], /pkcs11 needs --module PATH and --token-label LABEL/],
      [['encryption:key-holder:set', 'pkcs11', '--module', t.hsm.module, '--token-label', t.hsm.label], /give the PIN source/],
      [['encryption:key-holder:set', 'pkcs11', '--module', t.hsm.module, '--token-label', t.hsm.label, '--pin-from-env', '87654321'], /name of an environment variable, not a PIN/],
      [['encryption:key-holder:set', 'pkcs11', '--module', t.hsm.module, '--token-label', t.hsm.label, '--pin-from-env', '--mechanism', 'des'], /--mechanism must be one of auto, aes-gcm, aes-key-wrap-pad, aes-cbc/],
      [['encryption:key-holder:set', 'vault'], /unknown key holder type 'vault'/],
    ];
    // Usage errors change nothing, so they can run side by side.
    const results = await Promise.all(usage.map(([args]) => run(args)));
    for (const [i, [args, re]] of usage.entries()) {
      assert.equal(results[i]!.code, 2, `${args.join(' ')}: ${results[i]!.code} ${results[i]!.stderr}`);
      assert.match(results[i]!.stderr, re);
    }
    const wrong = await setPkcs11({ PKCS11_PIN: '11112222' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /PKCS#11 login failed: wrong PIN for token 'coffer-test'/);
    const missing = await run(['encryption:key-holder:set', 'pkcs11', '--module', t.hsm.module, '--token-label', 'no-such-token', '--pin-from-env']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /PKCS#11 token 'no-such-token' not found in module/);
    const noModule = await run(['encryption:key-holder:set', 'pkcs11', '--module', join(t.dir, 'no-such-lib.so'), '--token-label', t.hsm.label, '--pin-from-env']);
    assert.notEqual(noModule.code, 0);
    assert.match(noModule.stderr, /PKCS#11 module .*no-such-lib\.so could not be loaded/);
    assert.deepEqual(keySnapshot(), keys, 'key files unchanged');
    assert.equal(readFileSync(t.configPath, 'utf8'), config, 'config unchanged');
  });

  test('set pkcs11: the master key is re-wrapped on the token, the secret wrapping removed, no PIN in the config', async () => {
    const before = masterFiles();
    assert.deepEqual(before.map((n) => /^master_[0-9a-f]{32}\.masterKey$/.test(n)), [true]);
    const r = await setPkcs11();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Key holder is now pkcs11:coffer-test \(was secret\)/);
    const c = cfg();
    assert.deepEqual(c.keyHolder, { type: 'pkcs11', module: t.hsm.module, tokenLabel: 'coffer-test', pinEnv: 'PKCS11_PIN' });
    assert.ok(!readFileSync(t.configPath, 'utf8').includes(t.hsm.pin), 'the PIN is not in the config file');
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
    assert.equal(s.holder.module, t.hsm.module);
    assert.equal(s.holder.pinSource, 'env:PKCS11_PIN');
    assert.equal(s.holder.connected, true);
    assert.equal(s.holder.mechanism, 'CKM_AES_GCM');
    assert.equal(s.wrappings.length, 1);
    assert.equal(s.wrappings[0].holder, 'pkcs11:coffer-test');
    assert.equal(s.interruptedSwitch, null);
    assert.ok(!JSON.stringify(s).includes(t.hsm.pin));
    const plain = await ok(['encryption:key-holder:status']);
    assert.match(plain, /Key holder: pkcs11:coffer-test/);
  });

  test('restart: files readable; the token is used once at start, never per file', async () => {
    const app = await readable();
    try {
      assert.equal(app.keyHolder.describe().tokenOperations, 1, 'one unwrap at start');
      await app.users.create({ uid: 'carol', password: 'carol-password-1', isAdmin: false, quota: null });
      const b = randomBytes(70_000);
      await app.files.writeFile(userActor('carol', 'password'), 'carol', '/c.bin', Readable.from([b]));
      assert.equal(sha(await drain((await app.files.openRead(userActor('carol', 'password'), 'carol', '/c.bin')).stream)), sha(b));
      content.set('carol:/c.bin', b);
      await app.files.writeFile(userActor('alice', 'password'), 'alice', '/g.bin', Readable.from([b]));
      assert.equal(app.keyHolder.describe().tokenOperations, 1, 'writes and reads (and a new user key) never touch the token');
      content.set('alice:/g.bin', b);
    } finally { await app.close(); }
  });

  test('the token removed after start: the open instance keeps reading and writing files without it', async () => {
    const app = await open();
    const tokens = join(t.hsm.dir, 'tokens');
    const away = join(t.hsm.dir, 'tokens-away');
    try {
      assert.equal(app.keyHolder.describe().tokenOperations, 1);
      // Pull the token: close the PKCS#11 session (the module is finalized), hide the token store, drop
      // the PIN. Any later token use would have to log in again and fail.
      await app.keyHolder.close();
      renameSync(tokens, away);
      delete process.env.PKCS11_PIN;
      for (const [key, b] of content) {
        const [uid, p] = key.split(':') as [string, string];
        assert.equal(sha(await drain((await app.files.openRead(userActor(uid, 'password'), uid, p)).stream)), sha(b), key);
      }
      const b = randomBytes(40_000);
      await app.users.create({ uid: 'dave', password: 'dave-password-1', isAdmin: false, quota: null });
      await app.files.writeFile(userActor('dave', 'password'), 'dave', '/d.bin', Readable.from([b]));
      assert.equal(sha(await drain((await app.files.openRead(userActor('dave', 'password'), 'dave', '/d.bin')).stream)), sha(b));
      content.set('dave:/d.bin', b);
      assert.equal(app.keyHolder.describe().connected, false, 'nothing reopened the token');
      assert.equal(app.keyHolder.describe().tokenOperations, 1);
    } finally {
      if (existsSync(away)) renameSync(away, tokens);
      process.env.PKCS11_PIN = t.hsm.pin;
      await app.close();
    }
  });

  test('a real server started with the token serves files over WebDAV after the token store is gone', async () => {
    const srv = await spawnServer(OCC, ['serve', '--port', '0'], { COFFER_CONFIG: t.configPath, SOFTHSM2_CONF: t.hsm.conf, PKCS11_PIN: t.hsm.pin });
    const tokens = join(t.hsm.dir, 'tokens');
    const away = join(t.hsm.dir, 'tokens-away');
    try {
      renameSync(tokens, away);
      const auth = 'Basic ' + Buffer.from('alice:alice-password-1').toString('base64');
      const res = await fetch(`${srv.url}/remote.php/webdav/f.bin`, { headers: { Authorization: auth } });
      assert.equal(res.status, 200);
      assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(content.get('alice:/f.bin')!));
      const put = randomBytes(30_000);
      const w = await fetch(`${srv.url}/remote.php/webdav/p.bin`, { method: 'PUT', headers: { Authorization: auth }, body: put });
      assert.ok(w.status === 201 || w.status === 204, String(w.status));
      content.set('alice:/p.bin', put);
    } finally {
      if (existsSync(away)) renameSync(away, tokens);
      srv.child.kill('SIGTERM');
      await srv.exited;
    }
  });

  test('wrong PIN and missing token: commands, server and openApp refuse naming the cause; nothing rewritten', async () => {
    const keys = keySnapshot();
    const config = readFileSync(t.configPath, 'utf8');
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
      assert.match(missing.stderr, new RegExp(`PKCS#11 token 'coffer-test' not found in module ${t.hsm.module.replace(/[.]/g, '\\.')}`));
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
    } finally { process.env.PKCS11_PIN = t.hsm.pin; }
    assert.deepEqual(keySnapshot(), keys, 'key files unchanged');
    assert.equal(readFileSync(t.configPath, 'utf8'), config, 'config unchanged');
    (await readable()).close();
  });

  test('the config secret + data directory + key storage are not enough without the token', async () => {
    const copy = join(t.dir, 'stolen');
    cpSync(join(t.dir, 'data'), join(copy, 'data'), { recursive: true });
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

  test('decrypt-blob (offline, no database) opens the master key through the token; a wrong PIN is refused', async () => {
    const app = await open();
    let blob: string;
    let fileId: number;
    try {
      const node = await app.files.stat('alice', '/f.bin');
      assert.ok(hasLocalPaths(app.rawBlobs));
      blob = app.rawBlobs.pathOf(node.blobId!);
      fileId = node.fileId;
    } finally { await app.close(); }
    // The database is not used: decrypt-blob reads the blob file, the key storage and the token.
    const plain = join(t.dir, 'plain-f.bin');
    const d = await run(['encryption:decrypt-blob', blob, '--out', plain, '--file-id', String(fileId)]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, new RegExp(`Decrypted 150005 bytes of file id ${fileId}`));
    assert.equal(sha(readFileSync(plain)), sha(content.get('alice:/f.bin')!));
    rmSync(plain);
    const out = join(t.dir, 'plain-wrong');
    const w = await run(['encryption:decrypt-blob', blob, '--out', out], { PKCS11_PIN: '11112222' });
    assert.notEqual(w.code, 0);
    assert.match(w.stderr, /PKCS#11 login failed: wrong PIN/);
    assert.ok(!existsSync(out), 'no plaintext written');
  });

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

  for (const [mechanism, label, format, ckm, as] of [
    ['aes-key-wrap-pad', 'coffer-kwp', 2, 'CKM_AES_KEY_WRAP_PAD', 'a token without GCM'],
    ['aes-cbc', 'coffer-cbc', 3, 'CKM_AES_CBC', 'a YubiHSM 2 or Nitrokey HSM'],
  ] as const) test(`pkcs11 → pkcs11: another key label with ${ckm} (as on ${as}), restart, and back`, async () => {
    const r = await run(['encryption:key-holder:set', 'pkcs11', '--module', t.hsm.module, '--token-label', t.hsm.label, '--pin-from-env', '--key-label', label, '--mechanism', mechanism]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Key holder is now pkcs11:coffer-test/${label} \\(was pkcs11:coffer-test\\)`));
    assert.deepEqual(cfg().keyHolder, { type: 'pkcs11', module: t.hsm.module, tokenLabel: 'coffer-test', pinEnv: 'PKCS11_PIN', keyLabel: label, mechanism });
    const files = masterFiles();
    assert.equal(files.length, 1);
    const f = JSON.parse(readFileSync(join(sysDir(), files[0]!), 'utf8'));
    assert.equal(f.holder, `pkcs11:coffer-test/${label}`);
    assert.equal(Buffer.from(f.wrapped, 'base64')[0], format, `${mechanism} format`);
    const app = await readable();
    try {
      assert.equal(app.keyHolder.describe().mechanism, ckm);
      assert.equal(app.keyHolder.describe().tokenOperations, 1);
    } finally { await app.close(); }
    const s = JSON.parse(await ok(['encryption:key-holder:status', '--output=json']));
    assert.equal(s.holder.keyLabel, label);
    assert.equal(s.holder.mechanism, ckm);
    const back = await setPkcs11();
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, new RegExp(`Key holder is now pkcs11:coffer-test \\(was pkcs11:coffer-test/${label}\\)`));
    const g = JSON.parse(readFileSync(join(sysDir(), masterFiles()[0]!), 'utf8'));
    assert.equal(masterFiles().length, 1);
    assert.equal(Buffer.from(g.wrapped, 'base64')[0], 1, 'GCM format again');
    (await readable()).close();
  });

  test('switching back to the secret: files readable without any token', async () => {
    const out = await ok(['encryption:key-holder:set', 'secret']);
    assert.match(out, /Key holder is now secret \(was pkcs11:coffer-test\)/);
    assert.deepEqual(cfg().keyHolder, { type: 'secret' });
    assert.deepEqual(masterFiles().map((n) => /^master_[0-9a-f]{32}\.masterKey$/.test(n)), [true]);
    const s = JSON.parse(await ok(['encryption:key-holder:status', '--output=json'], { SOFTHSM2_CONF: '/nonexistent', PKCS11_PIN: '' }));
    assert.equal(s.holder.id, 'secret');
    delete process.env.SOFTHSM2_CONF;
    try { (await readable()).close(); } finally { process.env.SOFTHSM2_CONF = t.hsm.conf; }
  });
});
