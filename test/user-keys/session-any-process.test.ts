/**
 * Per-user keys with several server processes (scale-out): a web session started on one process
 * unlocks the user's key on any other (a wrapping of the private key under the session's cookie
 * value), and the wrapping is gone once the session ends. Two apps over one config stand for two
 * `./occ serve` processes: each has its own in-memory key session, as separate processes do.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';
import { GarbageCollector } from '../../src/files/garbage-collector.ts';
import type { TestInstance } from '../support/test-instance.ts';
import { perUserInstance, put } from './helpers.ts';

const ALICE = { uid: 'alice', password: 'alice-password-123' };

function cookieValue(res: Response, name: string): string | undefined {
  const c = res.headers.getSetCookie().find((x) => x.startsWith(`${name}=`));
  return c?.slice(name.length + 1).split(';')[0];
}

/** The web login form on `base`: returns the session cookie value. */
async function webLogin(base: string, user: string, password: string): Promise<string> {
  const page = await fetch(`${base}/login`);
  const csrf = /name="requesttoken" value="([^"]+)"/.exec(await page.text())![1]!;
  const nonce = cookieValue(page, 'coffer_login_csrf')!;
  const res = await fetch(`${base}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `coffer_login_csrf=${nonce}` },
    body: new URLSearchParams({ user, password, requesttoken: csrf, redirect_url: '/' }).toString(),
  });
  assert.equal(res.status, 303, 'login redirects');
  const session = cookieValue(res, 'coffer_session');
  assert.ok(session, 'a session cookie is set');
  return session;
}

/** Token wrappings of alice's private key in the key storage (app passwords and web sessions). */
function tokenWrappings(inst: TestInstance): string[] {
  const dir = join(inst.dataDir, ALICE.uid, 'files_encryption', 'OC_DEFAULT_MODULE');
  return readdirSync(dir).filter((n) => n.startsWith('appPassword_'));
}

describe('per-user keys: a web session works on every server process', { timeout: 120_000 }, () => {
  let a: TestInstance;
  const others: { app: App; server: RunningServer }[] = [];
  const processB = async () => {
    const app = await openApp(loadConfig(a.configPath), { logger: silentLogger() });
    const server = await startServer(app, { host: '127.0.0.1', port: 0 });
    others.push({ app, server });
    return server.url;
  };

  before(async () => {
    a = await perUserInstance();
    await a.addUser(ALICE.uid, ALICE.password);
    // the first password login creates alice's key pair; the file is encrypted under her keys
    assert.equal((await put(a, ALICE, 'notes.txt', 'only alice reads this')).status, 201);
  });
  after(async () => {
    for (const o of others) { await o.server.close(1000); await o.app.close(); }
    await a.stop();
  });

  test('login on A, read on B (its keys locked until then); logout on A deletes the wrapping', async () => {
    const before = tokenWrappings(a);
    const cookie = await webLogin(a.url, ALICE.uid, ALICE.password);
    assert.equal(tokenWrappings(a).length, before.length + 1, 'the session stored one wrapping');

    const b = await processB();
    const read = await fetch(`${b}/remote.php/dav/files/${ALICE.uid}/notes.txt`, { headers: { cookie: `coffer_session=${cookie}` } });
    assert.equal(read.status, 200);
    assert.equal(await read.text(), 'only alice reads this');
    // and writes on B are encrypted under her keys, readable back on A with Basic auth
    const w = await fetch(`${b}/remote.php/dav/files/${ALICE.uid}/from-b.txt`, {
      method: 'PUT', body: 'written through B', headers: { cookie: `coffer_session=${cookie}`, requesttoken: a.app.sessions.csrfToken(cookie) },
    });
    assert.equal(w.status, 201);
    const back = await a.fetch(`/remote.php/dav/files/${ALICE.uid}/from-b.txt`, { as: ALICE });
    assert.equal(await back.text(), 'written through B');

    const out = await fetch(`${a.url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: `coffer_session=${cookie}`, requesttoken: a.app.sessions.csrfToken(cookie) } });
    assert.equal(out.status, 303);
    assert.deepEqual(tokenWrappings(a), before, 'logout deleted the wrapping');
    const c = await processB();
    const gone = await fetch(`${c}/remote.php/dav/files/${ALICE.uid}/notes.txt`, { headers: { cookie: `coffer_session=${cookie}` } });
    assert.equal(gone.status, 401, 'the ended session is refused everywhere');
  });

  test('revoking sessions (all but one, then the last) deletes their wrappings', async () => {
    const before = tokenWrappings(a);
    const keep = await webLogin(a.url, ALICE.uid, ALICE.password);
    await webLogin(a.url, ALICE.uid, ALICE.password);
    await webLogin(a.url, ALICE.uid, ALICE.password);
    assert.equal(tokenWrappings(a).length, before.length + 3);
    const kept = (await a.app.sessions.lookup(keep))!;
    assert.equal(await a.app.sessions.revokeAll(ALICE.uid, kept.id), 2);
    assert.equal(tokenWrappings(a).length, before.length + 1, 'two revoked sessions, two wrappings gone');
    await a.app.sessions.revoke(ALICE.uid, kept.id);
    assert.deepEqual(tokenWrappings(a), before);
  });

  test('an expired session loses its wrapping in the cleanup pass (./occ files:cleanup, background job)', async () => {
    const before = tokenWrappings(a);
    const cookie = await webLogin(a.url, ALICE.uid, ALICE.password);
    const s = (await a.app.sessions.lookup(cookie))!;
    await a.app.db.updateTable('web_sessions').set({ expires_at: 1 }).where('id', '=', s.id).execute();
    const report = await new GarbageCollector({ db: a.app.db, rawBlobs: a.app.rawBlobs, uploads: a.app.uploads, locks: a.app.locks, sessions: a.app.sessions }).run();
    assert.equal(report.endedSessions, 1);
    assert.deepEqual(tokenWrappings(a), before);
  });
});
