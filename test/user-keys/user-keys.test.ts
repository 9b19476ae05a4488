import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { ForbiddenError } from '../../src/errors.ts';
import { silentLogger } from '../../src/logger.ts';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { UserKeyLockedError } from '../../src/encryption/user-keys/user-key-errors.ts';
import { ADMIN } from '../support/test-instance.ts';
import { get, ocs, occ, perUserInstance, plaintextOnDisk, put } from './helpers.ts';
import { SYSTEM } from '../../src/actor.ts';

const ALICE = { uid: 'alice', password: 'alice-password-1' };

test('per-user keys: seed layout, no plaintext on disk, undecryptable with config + key storage alone, password change keeps access', async () => {
  const inst = await perUserInstance();
  try {
    await inst.addUser(ALICE.uid, ALICE.password);
    const marker = 'ALICE-SECRET-';
    const data = Buffer.concat([Buffer.from(marker.repeat(3000)), randomBytes(70_000)]);
    assert.equal((await put(inst, ALICE, 'secret.bin', data)).status, 201);

    // Key pair created at the first password login, at the seed's layout.
    const dir = join(inst.dataDir, 'alice', 'files_encryption', 'OC_DEFAULT_MODULE');
    assert.ok(existsSync(join(dir, 'alice.privateKey')));
    assert.ok(existsSync(join(dir, 'alice.publicKey')));
    const priv = JSON.parse(readFileSync(join(dir, 'alice.privateKey'), 'utf8'));
    assert.equal(priv.kdf.alg, 'argon2id');
    assert.ok(priv.kdf.m >= 19456 && priv.kdf.t >= 2);
    const rootFiles = readdirSync(dir).filter((n) => /^rootKey_[0-9a-f]{32}\.key$/.test(n));
    assert.equal(rootFiles.length, 1);
    const root = JSON.parse(readFileSync(join(dir, rootFiles[0]!), 'utf8'));
    assert.equal(root.wrappedBy.type, 'user-x25519');
    assert.equal(plaintextOnDisk(inst.dataDir, marker), undefined);

    const r = await get(inst, ALICE, 'secret.bin');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, data);

    // A second process with the config (secret) and the key storage, but no password: cannot decrypt.
    const node = await inst.app.db.selectFrom('nodes').select(['fileid', 'blob_id', 'blob_codec']).where('name', '=', 'secret.bin').executeTakeFirstOrThrow();
    const other = await openApp(loadConfig(inst.configPath), { logger: silentLogger(), migrate: false });
    try {
      await assert.rejects(other.blobs.get(node.blob_id!, node.blob_codec!, { fileId: node.fileid, owner: 'alice', actor: SYSTEM }), (e) => e instanceof UserKeyLockedError && /log in with the password again/.test(e.message));
      assert.ok(hasLocalPaths(inst.app.rawBlobs));
      await assert.rejects(other.encryption.decryptBlob(inst.app.rawBlobs.pathOf(node.blob_id!), join(inst.dir, 'out.bin')), UserKeyLockedError);
    } finally {
      await other.close();
    }

    // Locked in this server too (session dropped): a clear typed error, 403 over the read path.
    inst.app.userKeys.session.lockAll();
    await assert.rejects(inst.app.blobs.get(node.blob_id!, node.blob_codec!, { fileId: node.fileid, owner: 'alice', actor: SYSTEM }), ForbiddenError);
    // Logging in again unlocks it.
    assert.equal((await get(inst, ALICE, 'secret.bin')).status, 200);

    // The user changes their password over OCS: the private key is re-wrapped, files stay readable.
    const NEW = { uid: 'alice', password: 'alice-password-2' };
    const ch = await ocs(inst, ALICE, 'PUT', 'cloud/users/alice', { key: 'password', value: NEW.password });
    assert.equal(ch.status, 200, ch.body);
    inst.app.userKeys.session.lockAll();
    inst.app.auth.clearCache();
    assert.equal((await get(inst, ALICE, 'secret.bin')).status, 401);
    const after = await get(inst, NEW, 'secret.bin');
    assert.equal(after.status, 200);
    assert.deepEqual(after.body, data);
    const priv2 = JSON.parse(readFileSync(join(dir, 'alice.privateKey'), 'utf8'));
    assert.notEqual(priv2.kdf.salt, priv.kdf.salt);
    assert.equal(priv2.id, priv.id);
  } finally {
    await inst.stop();
  }
});

test('admin reset without recovery: refused without confirmation, then reads fail naming the cause; new files work', async () => {
  const inst = await perUserInstance();
  try {
    await inst.addUser(ALICE.uid, ALICE.password);
    assert.equal((await put(inst, ALICE, 'old.txt', 'OLD-CONTENT')).status, 201);

    // OCS admin edit without confirmation: refused, password unchanged.
    const refused = await ocs(inst, ADMIN, 'PUT', 'cloud/users/alice', { key: 'password', value: 'new-password-9' });
    assert.equal(refused.status, 409, refused.body);
    assert.match(refused.body, /permanently unreadable/);
    // CLI with -n: refused too (exit 5), with the warning.
    const cli = occ(inst, ['user:resetpassword', '--password-from-env', '-n', 'alice'], { OC_PASS: 'new-password-9' });
    assert.equal(cli.status, 5, cli.stderr);
    assert.match(cli.stderr, /has not opted into recovery: resetting the password makes all of their encrypted files permanently unreadable/);
    assert.equal((await get(inst, ALICE, 'old.txt')).status, 200);

    // Confirmed (CLI --force): the reset happens; old files fail with an error that names the cause.
    const forced = occ(inst, ['user:resetpassword', '--password-from-env', '-n', '--force', 'alice'], { OC_PASS: 'new-password-9' });
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stderr, /keys of alice were reset/);
    const NEW = { uid: 'alice', password: 'new-password-9' };
    const r = await inst.fetch('/remote.php/dav/files/alice/old.txt', { as: NEW });
    assert.equal(r.status, 403);
    assert.match(await r.text(), /reset by an administrator .* cannot be decrypted/);
    // New files are written under new keys and readable.
    assert.equal((await put(inst, NEW, 'new.txt', 'NEW-CONTENT')).status, 201);
    assert.equal((await get(inst, NEW, 'new.txt')).body.toString(), 'NEW-CONTENT');
  } finally {
    await inst.stop();
  }
});

test('recovery key: opt-in covers existing files; admin reset with recovery and recover-user keep access', async () => {
  const inst = await perUserInstance();
  try {
    await inst.addUser(ALICE.uid, ALICE.password);
    const en = occ(inst, ['encryption:enable-recovery-key', '--password-from-env'], { OC_RECOVERY_PASS: 'recovery-pw-1' });
    assert.equal(en.status, 0, en.stderr);
    assert.ok(readdirSync(join(inst.dataDir, 'files_encryption', 'OC_DEFAULT_MODULE')).some((n) => /^recovery_[0-9a-f]{32}\.privateKey$/.test(n)));
    for (let i = 0; i < 3; i++) assert.equal((await put(inst, ALICE, `f${i}.txt`, `content ${i}`)).status, 201);

    const opt = await ocs(inst, ALICE, 'POST', 'apps/encryption/api/v1/recovery', { enabled: '1' });
    assert.equal(opt.status, 200, opt.body);

    // Admin reset over OCS with the recovery password: files stay readable.
    const wrong = await ocs(inst, ADMIN, 'PUT', 'cloud/users/alice', { key: 'password', value: 'second-pw-2', recoveryPassword: 'nope' });
    assert.equal(wrong.status, 403, wrong.body);
    const ok = await ocs(inst, ADMIN, 'PUT', 'cloud/users/alice', { key: 'password', value: 'second-pw-2', recoveryPassword: 'recovery-pw-1' });
    assert.equal(ok.status, 200, ok.body);
    const SECOND = { uid: 'alice', password: 'second-pw-2' };
    for (let i = 0; i < 3; i++) assert.equal((await get(inst, SECOND, `f${i}.txt`)).body.toString(), `content ${i}`);

    // recover-user from the CLI (another process): new login password, files readable.
    const rec = occ(inst, ['encryption:recover-user', '--password-from-env', 'alice'], { OC_RECOVERY_PASS: 'recovery-pw-1', OC_PASS: 'third-pw-3' });
    assert.equal(rec.status, 0, rec.stderr);
    const THIRD = { uid: 'alice', password: 'third-pw-3' };
    for (let i = 0; i < 3; i++) assert.equal((await get(inst, THIRD, `f${i}.txt`)).body.toString(), `content ${i}`);
    assert.equal((await put(inst, THIRD, 'later.txt', 'later')).status, 201);

    // Recovery password change, then opt-out.
    const chg = occ(inst, ['encryption:change-recovery-key-password', '--password-from-env'], { OC_RECOVERY_PASS: 'recovery-pw-1', OC_RECOVERY_NEW_PASS: 'recovery-pw-2' });
    assert.equal(chg.status, 0, chg.stderr);
    assert.equal((await inst.app.userKeys.recovery.unlock('recovery-pw-2')).privateKey.length, 32);
    assert.equal((await ocs(inst, THIRD, 'POST', 'apps/encryption/api/v1/recovery', { enabled: '0' })).status, 200);
    assert.equal((await inst.app.userKeys.resetImpact('alice')).optedIn, false);
  } finally {
    await inst.stop();
  }
});

test('revoking an app password deletes its private-key wrapping; a wrapping with the old name is renamed at unlock', async () => {
  const inst = await perUserInstance();
  const keyDir = join(inst.dataDir, 'alice', 'files_encryption', 'OC_DEFAULT_MODULE');
  const wrappings = () => readdirSync(keyDir).filter((n) => /^appPassword_[0-9a-f]{32}\.privateKey$/.test(n)).sort();
  const newToken = async () => {
    const tok = await inst.fetch('/ocs/v2.php/core/getapppassword?format=json', { as: ALICE, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(tok.status, 200);
    return (await tok.json() as { ocs: { data: { apppassword: string } } }).ocs.data.apppassword;
  };
  try {
    await inst.addUser(ALICE.uid, ALICE.password);
    assert.equal((await put(inst, ALICE, 'a.txt', 'AAA')).status, 201);
    const first = await newToken();
    const second = await newToken();
    const both = wrappings();
    assert.equal(both.length, 2);

    // A wrapping stored under the name used before v2 still unlocks, and is renamed on the way.
    const { appPasswordKeyName, legacyAppPasswordKeyName } = await import('../../src/encryption/user-keys/user-key-files.ts');
    renameSync(join(keyDir, appPasswordKeyName(second)), join(keyDir, legacyAppPasswordKeyName(second)));
    inst.app.userKeys.session.lockAll();
    inst.app.auth.clearCache();
    assert.equal((await get(inst, { uid: 'alice', password: second }, 'a.txt')).body.toString(), 'AAA');
    assert.deepEqual(wrappings(), both);

    // The client revokes its own app password (as the desktop client does at logout): its wrapping goes.
    const del = await inst.fetch('/ocs/v2.php/core/apppassword?format=json', { method: 'DELETE', as: { uid: 'alice', password: first }, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(del.status, 200);
    assert.deepEqual(wrappings(), [appPasswordKeyName(second)]);
    // An admin ending every session and app password of the user removes the rest.
    assert.equal(await inst.app.appPasswords.revokeAll('alice'), 1);
    assert.deepEqual(wrappings(), []);
    inst.app.userKeys.session.lockAll();
    inst.app.auth.clearCache();
    assert.equal((await get(inst, { uid: 'alice', password: second }, 'a.txt')).status, 401);
  } finally {
    await inst.stop();
  }
});

test('app passwords unlock the key; mode switch refused while encrypted files exist; master-key mode resets need no confirmation', async () => {
  const inst = await perUserInstance();
  try {
    await inst.addUser(ALICE.uid, ALICE.password);
    assert.equal((await put(inst, ALICE, 'a.txt', 'AAA')).status, 201);
    const tok = await inst.fetch('/ocs/v2.php/core/getapppassword?format=json', { as: ALICE, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(tok.status, 200);
    const token = (await tok.json() as { ocs: { data: { apppassword: string } } }).ocs.data.apppassword;
    inst.app.userKeys.session.lockAll();
    inst.app.auth.clearCache();
    const r = await get(inst, { uid: 'alice', password: token }, 'a.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'AAA');

    const sw = occ(inst, ['encryption:enable-master-key', '-n']);
    assert.equal(sw.status, 5);
    assert.match(sw.stderr, /only be changed while no encrypted file exists/);
  } finally {
    await inst.stop();
  }

  const m = await perUserInstance({ perUser: false });
  try {
    await m.addUser(ALICE.uid, ALICE.password);
    assert.equal((await put(m, ALICE, 'a.txt', 'MMM')).status, 201);
    assert.ok(!existsSync(join(m.dataDir, 'alice', 'files_encryption', 'OC_DEFAULT_MODULE', 'alice.privateKey')));
    const res = await ocs(m, ADMIN, 'PUT', 'cloud/users/alice', { key: 'password', value: 'pw-master-2' });
    assert.equal(res.status, 200, res.body);
    assert.equal((await get(m, { uid: 'alice', password: 'pw-master-2' }, 'a.txt')).body.toString(), 'MMM');
  } finally {
    await m.stop();
  }
});
