import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApp } from '../../src/app.ts';
import { loadConfig, saveConfig } from '../../src/config/config.ts';
import { CryptoError } from '../../src/errors.ts';
import { silentLogger } from '../../src/logger.ts';
import { hasLocalPaths } from '../../src/storage/blob-store.ts';
import { HEADER_SIZE } from '../../src/crypto/format.ts';
import { startTestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p)); else out.push(p);
  }
  return out;
}

test('over WebDAV: encrypted uploads leave no plaintext or names on disk; downloads and ranges identical; tampered chunk 0 → 500', async () => {
  const inst = await startTestInstance();
  try {
    const before = Buffer.concat([Buffer.from('PLAIN-BEFORE-'.repeat(100))]);
    assert.equal((await inst.fetch('/remote.php/dav/files/admin/before.txt', { method: 'PUT', body: before })).status, 201);
    await enableEncryption(inst);
    assert.equal((await inst.app.encryption.status()).enabled, true);
    const marker = 'TOP-SECRET-CONTENT-';
    const data = Buffer.concat([Buffer.from(marker.repeat(4000)), randomBytes(200_000)]);
    assert.equal((await inst.fetch('/remote.php/dav/files/admin/Secret%20Folder%20Name.bin', { method: 'PUT', body: data })).status, 201);
    for (const f of walk(inst.dataDir)) {
      assert.ok(!f.includes('Secret Folder Name'), `file name in path ${f}`);
      if (f.endsWith('.db') || f.endsWith('-wal') || f.endsWith('-shm') || f.endsWith('audit.log')) continue;
      assert.ok(!readFileSync(f).includes(marker), `plaintext in ${f}`);
    }
    const got = await inst.fetch('/remote.php/dav/files/admin/Secret%20Folder%20Name.bin');
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-length'), String(data.length));
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
    for (const [a, b] of [[0, 9], [65_530, 65_545], [data.length - 7, data.length - 1]]) {
      const r = await inst.fetch('/remote.php/dav/files/admin/Secret%20Folder%20Name.bin', { headers: { range: `bytes=${a}-${b}` } });
      assert.equal(r.status, 206);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), data.subarray(a, b + 1));
    }
    const old = await inst.fetch('/remote.php/dav/files/admin/before.txt');
    assert.deepEqual(Buffer.from(await old.arrayBuffer()), before);

    // Tamper with the stored blob: the read fails, wrong bytes are never served.
    const node = await inst.app.db.selectFrom('nodes').select(['blob_id', 'blob_codec']).where('name', '=', 'Secret Folder Name.bin').executeTakeFirstOrThrow();
    assert.equal(node.blob_codec, 'cfe1');
    assert.ok(hasLocalPaths(inst.app.rawBlobs));
    const path = inst.app.rawBlobs.pathOf(node.blob_id!);
    const raw = readFileSync(path); raw[HEADER_SIZE + 100]! ^= 1; writeFileSync(path, raw);
    const bad = await inst.fetch('/remote.php/dav/files/admin/Secret%20Folder%20Name.bin');
    assert.equal(bad.status, 500);
    assert.ok(!Buffer.from(await bad.arrayBuffer()).includes(marker));
    // A damaged late chunk of a large file: headers are already sent, so the response is aborted.
    const big = randomBytes(8 << 20);
    assert.equal((await inst.fetch('/remote.php/dav/files/admin/big.bin', { method: 'PUT', body: big })).status, 201);
    const bigNode = await inst.app.db.selectFrom('nodes').select(['blob_id']).where('name', '=', 'big.bin').executeTakeFirstOrThrow();
    const bigPath = inst.app.rawBlobs.pathOf(bigNode.blob_id!);
    const bigRaw = readFileSync(bigPath); bigRaw[bigRaw.length - 20]! ^= 1; writeFileSync(bigPath, bigRaw);
    const late = await inst.fetch('/remote.php/dav/files/admin/big.bin');
    assert.equal(late.status, 200);
    await assert.rejects(late.arrayBuffer());
    // Both refusals are in the audit log, naming the file id and the failure.
    await new Promise((r) => setTimeout(r, 100));
    const events = [];
    for await (const ev of inst.app.audit.read()) if (ev.event === 'integrity.failure') events.push(ev as unknown as Record<string, unknown>);
    assert.ok(events.some((ev) => ev.reason === 'tag-mismatch' && /chunk 0 failed authentication/.test(String(ev.message))), JSON.stringify(events));
    assert.ok(events.some((ev) => ev.reason === 'tag-mismatch' && /chunk 127 failed authentication/.test(String(ev.message))), JSON.stringify(events));
    assert.equal(events.length, 2, 'each refused read is audited once');
  } finally {
    await inst.stop().catch(() => {});
  }
});

test('openApp refuses to start with a wrong secret once a master key exists, and rewrites nothing', async () => {
  const inst = await startTestInstance();
  const cfgPath = inst.configPath;
  await enableEncryption(inst);
  const keyDir = join(inst.dataDir, 'files_encryption', 'OC_DEFAULT_MODULE');
  const snapshot = () => readdirSync(keyDir).map((n) => readFileSync(join(keyDir, n)).toString('hex')).join();
  const keysBefore = snapshot();
  await inst.server.close(1000);
  await inst.app.close();
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  saveConfig(cfgPath, { ...cfg, secret: 'x'.repeat(64) });
  await assert.rejects(openApp(loadConfig(cfgPath), { logger: silentLogger() }), (err: unknown) =>
    err instanceof CryptoError && /config secret does not match the key storage/.test(err.message));
  assert.equal(snapshot(), keysBefore);
  saveConfig(cfgPath, cfg);
  const app = await openApp(loadConfig(cfgPath), { logger: silentLogger() });
  assert.equal((await app.encryption.status()).masterKeyPresent, true);
  await app.close();
});
