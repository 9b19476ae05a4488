/**
 * Push (notify_push's protocol, built in) over real WebSockets on loopback with the `ws` client:
 * the capability, login by app password and by pre-auth token, refusals and throttling, notify_file
 * within 1 s to the owner and to share recipients through each write path (WebDAV PUT/DELETE/MOVE,
 * bulk upload, web UI, CLI-side service calls), notify_file_id, debounce, and a client that stops
 * reading is dropped.
 */
import { SYSTEM } from '../../src/actor.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import WebSocket from 'ws';
import { PushClient } from './push-client.ts';
import { startTestInstance, ADMIN, type TestInstance } from '../support/test-instance.ts';
import { webLogin } from '../support/web-login.ts';

const BOB = { uid: 'bob', password: 'bob-password-123' };
const CAROL = { uid: 'carol', password: 'carol-password-123' };

const isFile = (m: string) => m === 'notify_file' || m.startsWith('notify_file_id');

describe('push over WebSocket', () => {
  let t: TestInstance;
  let wsUrl: string;
  let bobApp: string;
  let carolApp: string;

  before(async () => {
    t = await startTestInstance({ push: { pingIntervalMs: 400, tickMs: 50 } });
    await t.addUser(BOB.uid, BOB.password);
    await t.addUser(CAROL.uid, CAROL.password);
    bobApp = (await t.app.appPasswords.create(BOB.uid, 'push test')).token;
    carolApp = (await t.app.appPasswords.create(CAROL.uid, 'push test')).token;
    await t.app.files.mkdir(BOB.uid, 'Shared');
    await t.app.shares.create(SYSTEM, { uid: BOB.uid, path: 'Shared', shareType: 0, shareWith: CAROL.uid, permissions: 31 });
    const caps = await (await t.fetch('/ocs/v2.php/cloud/capabilities?format=json', { headers: { 'OCS-APIREQUEST': 'true' } })).json() as
      { ocs: { data: { capabilities: { notify_push: { endpoints: { websocket: string; pre_auth: string } } } } } };
    wsUrl = caps.ocs.data.capabilities.notify_push.endpoints.websocket;
  });
  after(async () => { await t.stop(); });

  test('the capability names the WebSocket on this server and the pre-auth URL', async () => {
    const caps = await (await t.fetch('/ocs/v1.php/cloud/capabilities?format=json')).json() as { ocs: { data: { capabilities: Record<string, unknown> } } };
    assert.deepEqual(caps.ocs.data.capabilities.notify_push, {
      type: ['files', 'activities', 'notifications'],
      endpoints: { websocket: `${t.url.replace('http', 'ws')}/push/ws`, pre_auth: `${t.url}/index.php/apps/notify_push/pre_auth` },
    });
  });

  test('login by app password and by login password; a wrong one is refused', async () => {
    const a = await PushClient.login(wsUrl, BOB.uid, bobApp);
    const b = await PushClient.login(wsUrl, CAROL.uid, CAROL.password);
    assert.equal(t.server.push.connections, 2);
    await assert.rejects(PushClient.login(wsUrl, BOB.uid, 'wrong-password'), /err: Invalid credentials/);
    a.close(); b.close();
  });

  test('pre-auth: a token from an authenticated POST logs one socket in, once', async () => {
    const r = await t.fetch('/index.php/apps/notify_push/pre_auth', { method: 'POST', as: BOB });
    assert.equal(r.status, 200);
    const token = await r.text();
    assert.match(token, /^[\w-]{20,}$/);
    const c = await PushClient.login(wsUrl, '', token);
    await assert.rejects(PushClient.login(wsUrl, '', token), /err: Invalid credentials/);
    assert.equal((await fetch(`${t.url}/index.php/apps/notify_push/pre_auth`, { method: 'POST' })).status, 401);
    const s = await webLogin(t.url, BOB.uid, BOB.password);
    assert.equal((await fetch(`${t.url}/index.php/apps/notify_push/pre_auth`, { method: 'POST', headers: { cookie: s.cookie } })).status, 401, 'a session without its CSRF token');
    assert.equal((await fetch(`${t.url}/index.php/apps/notify_push/pre_auth`, { method: 'POST', headers: { cookie: s.cookie, requesttoken: s.csrfToken } })).status, 200);
    c.close();
  });

  /** Logs both users in fresh (no debounce carried over), runs `change`, and returns how long each waited. */
  async function bothNotified(change: () => Promise<unknown>): Promise<{ bob: number; carol: number }> {
    const bob = await PushClient.login(wsUrl, BOB.uid, bobApp);
    const carol = await PushClient.login(wsUrl, CAROL.uid, carolApp);
    try {
      const t0 = performance.now();
      const waits = [bob.next(isFile, 1000), carol.next(isFile, 1000)].map((p) => p.then(() => performance.now() - t0));
      await change();
      const [b, c] = await Promise.all(waits);
      return { bob: b!, carol: c! };
    } finally { bob.close(); carol.close(); }
  }

  const dav = (as: { uid: string; password: string }, method: string, path: string, init: RequestInit = {}) =>
    t.fetch(`/remote.php/dav/files/${as.uid}/${path}`, { ...init, method, as });

  test('WebDAV PUT by the sharee reaches the owner and the sharee within 1 s', async () => {
    const w = await bothNotified(async () => assert.equal((await dav(CAROL, 'PUT', 'Shared/by-carol.txt', { body: 'hi' })).status, 201));
    assert.ok(w.bob < 1000 && w.carol < 1000, JSON.stringify(w));
  });

  test('WebDAV DELETE and MOVE by the owner reach the sharee', async () => {
    await dav(BOB, 'PUT', 'Shared/a.txt', { body: 'a' });
    await dav(BOB, 'PUT', 'Shared/b.txt', { body: 'b' });
    await bothNotified(async () => assert.equal((await dav(BOB, 'DELETE', 'Shared/a.txt')).status, 204));
    await bothNotified(async () => assert.equal((await dav(BOB, 'MOVE', 'Shared/b.txt', { headers: { Destination: '/remote.php/dav/files/bob/moved-out.txt' } })).status, 201));
  });

  test('bulk upload, the web UI and a direct service call (as the CLI makes) notify too', async () => {
    const body = Buffer.concat([
      Buffer.from(`--bb\r\nX-File-Path: /Shared/bulk.txt\r\nX-File-MD5: ${createHash('md5').update('bulk').digest('hex')}\r\nX-File-Mtime: 1700000000\r\nContent-Length: 4\r\n\r\nbulk\r\n--bb--\r\n`),
    ]);
    await bothNotified(async () => {
      const r = await t.fetch('/remote.php/dav/bulk', { method: 'POST', as: CAROL, body: body as never, headers: { 'Content-Type': 'multipart/related; boundary=bb' } });
      assert.equal(r.status, 200);
    });
    const s = await webLogin(t.url, BOB.uid, BOB.password);
    await bothNotified(async () => {
      const r = await fetch(`${t.url}/web/api/files/upload?path=${encodeURIComponent('/Shared/web.txt')}`, { method: 'PUT', body: 'web', headers: { cookie: s.cookie, requesttoken: s.csrfToken } });
      assert.ok(r.status === 201 || r.status === 200, String(r.status));
    });
    await bothNotified(() => t.app.files.writeFile(SYSTEM, BOB.uid, 'Shared/cli.txt', Readable.from([Buffer.from('cli')])));
  });

  test('a change outside every share reaches the owner only', async () => {
    const bob = await PushClient.login(wsUrl, BOB.uid, bobApp);
    const carol = await PushClient.login(wsUrl, CAROL.uid, carolApp);
    await dav(BOB, 'PUT', 'private.txt', { body: 'mine' });
    await bob.next(isFile, 1000);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(carol.messages.filter(isFile), []);
    bob.close(); carol.close();
  });

  test('notify_file_id carries the ids; a burst is debounced into one merged message', async () => {
    const bob = await PushClient.login(wsUrl, BOB.uid, bobApp, true);
    await new Promise((r) => setTimeout(r, 100)); // the listen message is in
    await dav(BOB, 'PUT', 'burst-0.txt', { body: '0' });
    const first = await bob.next(isFile, 1000);
    const id0 = (await t.app.files.stat(BOB.uid, 'burst-0.txt')).fileId;
    assert.equal(first, `notify_file_id [${id0}]`);
    for (let i = 1; i <= 5; i++) await dav(BOB, 'PUT', `burst-${i}.txt`, { body: String(i) });
    const ids = await Promise.all([1, 2, 3, 4, 5].map(async (i) => (await t.app.files.stat(BOB.uid, `burst-${i}.txt`)).fileId));
    const merged = await bob.next(isFile, 3000);
    await new Promise((r) => setTimeout(r, 300));
    const fileMessages = bob.messages.filter(isFile);
    assert.equal(fileMessages.length, 2, `debounced: ${fileMessages.join(' | ')}`);
    assert.deepEqual(JSON.parse(merged.slice('notify_file_id '.length)).sort(), ids.sort());
    bob.close();
  });

  test('a client that stops reading (no pong) is dropped; one that reads stays', async () => {
    const reader = await PushClient.login(wsUrl, BOB.uid, bobApp); // ws answers pings
    const before = t.server.push.connections;
    // a raw client: handshake, login, then never reads again
    const u = new URL(wsUrl);
    const sock = net.connect(Number(u.port), u.hostname);
    await new Promise((r) => sock.once('connect', r));
    const key = randomBytes(16).toString('base64');
    sock.write(`GET /push/ws HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const frame = (text: string) => {
      const p = Buffer.from(text); const mask = randomBytes(4);
      return Buffer.concat([Buffer.from([0x81, 0x80 | p.length]), mask, Buffer.from(p.map((b, i) => b ^ mask[i & 3]!))]);
    };
    let got = '';
    const authed = new Promise<void>((resolve) => sock.on('data', (c) => { got += c.toString('latin1'); if (got.includes('authenticated')) resolve(); }));
    sock.write(Buffer.concat([frame(BOB.uid), frame(bobApp)]));
    await authed;
    sock.pause();
    sock.removeAllListeners('data');
    assert.equal(t.server.push.connections, before + 1);
    const deadline = Date.now() + 3000;
    while (t.server.push.connections > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(t.server.push.connections, before, 'the silent client was dropped');
    assert.equal(reader.closed, false, 'the reading client is still there');
    sock.destroy();
    reader.close();
  });

  test('bad upgrades are refused: wrong path, not a WebSocket handshake', async () => {
    const r = await fetch(`${t.url}/push/ws`);
    assert.notEqual(r.status, 101);
    await assert.rejects(new Promise((resolve, reject) => { const w = new WebSocket(`${t.url.replace('http', 'ws')}/push/other`); w.on('open', resolve); w.on('error', reject); }), /404/);
  });
});

describe('push login throttling', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance({ throttle: { baseDelayMs: 10, maxDelayMs: 50, maxIpAttempts: 5, maxClientAttempts: 5 } }); });
  after(async () => { await t.stop(); });

  test('repeated bad WebSocket logins end in the brute-force throttle', async () => {
    const wsUrl = `${t.url.replace('http', 'ws')}/push/ws`;
    let throttled = false;
    for (let i = 0; i < 12 && !throttled; i++) {
      await PushClient.login(wsUrl, ADMIN.uid, `guess-${i}`).catch((err: Error) => { throttled = /Too many failed attempts/.test(err.message); });
    }
    assert.ok(throttled, 'refused as throttled');
    assert.ok(await t.app.throttle.attempts({ ip: '127.0.0.1' }) >= 5);
  });
});

describe('push authentication timeout', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance({ push: { authTimeoutMs: 300, tickMs: 50, pingIntervalMs: 60_000 } }); });
  after(async () => { await t.stop(); });

  test('a socket that does not log in within the limit is told and closed; an authenticated one stays', async () => {
    const wsUrl = `${t.url.replace('http', 'ws')}/push/ws`;
    const app = (await t.app.appPasswords.create(ADMIN.uid, 'push test')).token;
    const authed = await PushClient.login(wsUrl, ADMIN.uid, app);
    const silent = new PushClient(wsUrl);
    await new Promise((resolve, reject) => { silent.ws.once('open', resolve); silent.ws.once('error', reject); });
    silent.ws.send(ADMIN.uid); // the username only: the password never comes
    assert.equal(await silent.next((m) => m.startsWith('err:'), 2000), 'err: Authentication timeout');
    await new Promise<void>((resolve) => { if (silent.closed) resolve(); else silent.ws.once('close', () => resolve()); });
    await new Promise((r) => setTimeout(r, 400)); // well past the limit
    assert.equal(authed.closed, false);
    assert.equal(t.server.push.connections, 1);
    authed.close();
  });
});
