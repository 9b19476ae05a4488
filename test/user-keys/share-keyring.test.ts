/**
 * ShareKeyring on a real key folder, with two instances standing for two server processes over one
 * key storage: concurrent additions never lose an entry (append-only segments), merging past 16
 * segments keeps every entry (also two merging at once), a reader whose listing was merged away
 * lists again, a keyring of the earlier single-file format still reads, a miss re-reads what another
 * process added, and drop removes every segment.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wrapKey } from '../../src/crypto/key-wrap.ts';
import { KeyStore, userScope } from '../../src/keys/key-store.ts';
import { ShareKeyring, type KeyringEntry } from '../../src/encryption/share-keys/share-keyring.ts';
import { keyringEntryAad } from '../../src/encryption/share-keys/share-key-files.ts';

const OWNER = 'alice';
const ID = randomBytes(16).toString('hex');
const KEY = randomBytes(32);

function entry(fileId: number): KeyringEntry {
  return { fileId, blobId: randomBytes(16), dek: randomBytes(32) };
}

describe('ShareKeyring: append-only segments over one key storage', () => {
  let dir: string;
  let store: KeyStore;
  const segments = (): string[] => readdirSync(store.dirOf(userScope(OWNER))).filter((n) => n.startsWith(`shareKey_${ID}.keyring`));
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-keyring-'));
    store = new KeyStore(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('two processes adding at the same time keep every entry; a miss re-reads what the other added', async () => {
    const a = new ShareKeyring(() => store);
    const b = new ShareKeyring(() => store);
    const fromA = Array.from({ length: 6 }, (_, i) => entry(100 + i));
    const fromB = Array.from({ length: 6 }, (_, i) => entry(200 + i));
    await Promise.all([
      ...fromA.map((e) => a.add(OWNER, ID, KEY, [e])),
      ...fromB.map((e) => b.add(OWNER, ID, KEY, [e])),
    ]);
    for (const ring of [a, b]) {
      for (const e of [...fromA, ...fromB]) {
        const dek = await ring.lookup(OWNER, ID, KEY, e.fileId, e.blobId);
        assert.ok(dek?.equals(e.dek), `entry of file ${e.fileId} through ${ring === a ? 'a' : 'b'}`);
      }
    }
    assert.equal((await a.entries(OWNER, ID)).size, 12);
    assert.equal(await a.lookup(OWNER, ID, KEY, 999, randomBytes(16)), undefined);
  });

  it('past 16 segments an addition merges them; two merging at once lose nothing', async () => {
    const a = new ShareKeyring(() => store);
    const b = new ShareKeyring(() => store);
    const more = Array.from({ length: 30 }, (_, i) => entry(300 + i));
    await Promise.all(more.map((e, i) => (i % 2 ? a : b).add(OWNER, ID, KEY, [e])));
    assert.ok(segments().length <= 17 + 2, `segments merged (${segments().length} left)`);
    const fresh = new ShareKeyring(() => store);
    assert.equal((await fresh.entries(OWNER, ID)).size, 12 + 30);
    for (const e of more) assert.ok((await fresh.lookup(OWNER, ID, KEY, e.fileId, e.blobId))?.equals(e.dek));
  });

  it('a reader whose listing was merged away by another process lists again and sees every entry', async () => {
    const id = randomBytes(16).toString('hex');
    const ring = new ShareKeyring(() => store);
    const es = [entry(700), entry(701)];
    for (const e of es) await ring.add(OWNER, id, KEY, [e]);
    const scope = userScope(OWNER);
    const names = (await store.list(scope)).filter((n) => n.startsWith(`shareKey_${id}.keyring_`));
    assert.equal(names.length, 2);
    // Another process merges right after this reader listed: the union goes into a new segment,
    // the listed ones go.
    let merged = false;
    const racing = new (class extends KeyStore {
      override async list(sc: typeof scope): Promise<string[]> {
        const listed = await super.list(sc);
        if (!merged) {
          merged = true;
          const all = await Promise.all(names.map(async (n) => JSON.parse((await store.read(scope, n)).toString()).entries));
          await store.write(scope, `shareKey_${id}.keyring_${'0'.repeat(16)}`, JSON.stringify({ format: 'coffer-key-v1', kind: 'share-keyring', owner: OWNER, id, entries: all.flat() }));
          for (const n of names) await store.delete(scope, n);
        }
        return listed;
      }
    })(dir);
    const reader = new ShareKeyring(() => racing);
    for (const e of es) assert.ok((await reader.lookup(OWNER, id, KEY, e.fileId, e.blobId))?.equals(e.dek), `entry of file ${e.fileId}`);
    assert.ok(merged);
  });

  it('a keyring file of the earlier single-file format reads as one more segment', async () => {
    const old = entry(400);
    const w = wrapKey(KEY, old.dek, keyringEntryAad(ID, old.fileId, old.blobId)).toString('base64');
    await store.write(userScope(OWNER), `shareKey_${ID}.keyring`, JSON.stringify({ format: 'coffer-key-v1', kind: 'share-keyring', owner: OWNER, id: ID, entries: [[old.fileId, old.blobId.toString('hex'), w]] }));
    const ring = new ShareKeyring(() => store);
    assert.ok((await ring.lookup(OWNER, ID, KEY, old.fileId, old.blobId))?.equals(old.dek));
    assert.equal((await ring.entries(OWNER, ID)).size, 43);
  });

  it('an entry does not open under another key (altered or foreign keyring)', async () => {
    const e = entry(500);
    const ring = new ShareKeyring(() => store);
    await ring.add(OWNER, ID, KEY, [e]);
    await assert.rejects(ring.lookup(OWNER, ID, randomBytes(32), e.fileId, e.blobId), /keyring entry of file 500/);
  });

  it('drop removes every segment, and only this keyring\'s', async () => {
    const other = randomBytes(16).toString('hex');
    const ring = new ShareKeyring(() => store);
    await ring.add(OWNER, other, KEY, [entry(600)]);
    await ring.drop(OWNER, ID);
    assert.deepEqual(segments(), []);
    assert.equal((await ring.entries(OWNER, ID)).size, 0);
    assert.equal((await ring.entries(OWNER, other)).size, 1);
  });
});
