/**
 * Push across the workers of one `./occ serve --workers 2` without Redis: the worker that commits a
 * change relays it through the primary (src/cluster/ipc-change-bus.ts), so a push client held by
 * either worker hears of a change whichever worker made it. Each client is traced to the worker
 * process that holds its connection (`ss`, the server side of the client's port); clients are
 * opened until both workers hold some. Two rounds of uploads, each through a fresh connection:
 * every client, the owner's and the share recipient's, gets notify_file within 1 s.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SYSTEM } from '../../src/actor.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { PushClient } from './push-client.ts';

const ALICE = { uid: 'alice', password: 'alice-password-123' };
const BOB = { uid: 'bob', password: 'bob-password-123' };

/** The pid of the process holding the server side of the connection from local port `clientPort` to `serverPort`. */
function serverPidOf(serverPort: number, clientPort: number): number | undefined {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${serverPort} and dport = :${clientPort} )`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

/** A PUT on its own connection (either worker may accept it). */
function put(base: string, path: string, body: string, auth: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request(base + path, { method: 'PUT', agent: false, headers: { authorization: auth, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('push across the workers of one ./occ serve --workers 2 (no Redis)', { timeout: 180_000 }, () => {
  let t: TestInstance;
  const clients: Array<{ c: PushClient; uid: string; pid: number }> = [];

  before(async () => {
    t = await startTestInstance({ db: 'sqlite', workers: 2 });
    await t.addUser(ALICE.uid, ALICE.password);
    await t.addUser(BOB.uid, BOB.password);
    await t.app.files.mkdir(ALICE.uid, 'Team');
    await t.app.shares.create(SYSTEM, { uid: ALICE.uid, path: 'Team', shareType: 0, shareWith: BOB.uid, permissions: 31 });
  });
  after(async () => {
    for (const { c } of clients) c.close();
    await t?.stop();
  });

  test('a change made through either worker reaches the clients held by both, the owner\'s and the recipient\'s', async () => {
    const port = Number(new URL(t.url).port);
    const wsUrl = `${t.url.replace('http', 'ws')}/push/ws`;
    const tokens = {
      [ALICE.uid]: (await t.app.appPasswords.create(ALICE.uid, 'push')).token,
      [BOB.uid]: (await t.app.appPasswords.create(BOB.uid, 'push')).token,
    };
    // new connections until each worker holds a client of each user (the kernel picks the worker)
    const held = (uid: string) => new Set(clients.filter((x) => x.uid === uid).map((x) => x.pid));
    for (let i = 0; i < 40 && (held(ALICE.uid).size < 2 || held(BOB.uid).size < 2); i++) {
      const uid = i % 2 === 0 ? ALICE.uid : BOB.uid;
      const c = await PushClient.login(wsUrl, uid, tokens[uid]!);
      const localPort = (c.ws as unknown as { _socket: { localPort: number } })._socket.localPort;
      const pid = serverPidOf(port, localPort);
      assert.ok(pid, `the server side of client port ${localPort} was found`);
      clients.push({ c, uid, pid });
    }
    const workers = new Set(clients.map((x) => x.pid));
    assert.equal(workers.size, 2, `the ${clients.length} clients are held by two processes`);
    for (const p of workers) assert.ok(t.workers!.workerPids().includes(p), `pid ${p} is a worker`);
    assert.ok(held(ALICE.uid).size === 2 && held(BOB.uid).size === 2, 'each worker holds a client of alice and of bob');

    for (let round = 0; round < 2; round++) {
      if (round > 0) await sleep(1600); // past the longest per-connection debounce (1.5 s)
      const heard = clients.map(({ c }) => c.next((m) => m === 'notify_file', 1000));
      const status = await put(t.url, `/remote.php/dav/files/${ALICE.uid}/Team/round-${round}.txt`, `round ${round}`, t.basic(ALICE.uid, ALICE.password));
      assert.equal(status, 201);
      const results = await Promise.allSettled(heard);
      const missed = clients.filter((_, i) => results[i]!.status === 'rejected').map((x) => `${x.uid}@${x.pid}`);
      assert.deepEqual(missed, [], `round ${round}: every client heard of the change`);
    }
  });
});
