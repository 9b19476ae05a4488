import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basic, startTestServer, type TestServer } from './helpers.ts';
import type { AuditEntry } from '../../src/audit/audit-log.ts';

const FAST = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const ALICE = { uid: 'alice', password: 'alice-pw' };

async function audit(s: TestServer, filter: { user?: string } = {}): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of s.app.audit.read(filter)) out.push(e);
  return out;
}

describe('app passwords and Login Flow v2 over HTTP', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ argon2: FAST, throttle: { baseDelayMs: 10 } });
    await s.app.users.create({ uid: ALICE.uid, password: ALICE.password });
  });
  after(async () => { await s.close(); });

  const req = (method: string, path: string, auth?: string, extra: Record<string, string> = {}, body?: string) =>
    fetch(s.url + path, { method, headers: { ...(auth ? { authorization: auth } : {}), 'ocs-apirequest': 'true', 'user-agent': 'Mozilla/5.0 (Linux) mirall/3.7.3', ...extra }, body });

  it('getapppassword turns the login password into an app password that then authenticates', async () => {
    let r = await req('GET', '/ocs/v2.php/core/getapppassword?format=json', basic(ALICE.uid, ALICE.password));
    assert.equal(r.status, 200);
    const { ocs } = await r.json();
    assert.equal(ocs.meta.statuscode, 200);
    const token: string = ocs.data.apppassword;
    assert.match(token, /^[A-Za-z0-9]{72}$/);
    const listed = await s.app.appPasswords.list('alice');
    assert.equal(listed.length, 1);
    assert.equal(listed[0].name, 'Mozilla/5.0 (Linux) mirall/3.7.3');

    r = await req('GET', '/ocs/v1.php/cloud/user?format=json', basic('alice', token));
    assert.equal(r.status, 200);
    assert.equal((await r.json()).ocs.data.id, 'alice');

    // already on an app password: 403, as Nextcloud
    r = await req('GET', '/ocs/v2.php/core/getapppassword?format=json', basic('alice', token));
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    // app password of another user does not work
    await s.app.users.create({ uid: 'eve', password: 'eve-pw' });
    r = await req('GET', '/ocs/v2.php/cloud/user?format=json', basic('eve', token));
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    await s.app.throttle.registerSuccess('127.0.0.1', 'eve');

    // DELETE apppassword needs an app password, and revokes exactly that one
    r = await req('DELETE', '/ocs/v2.php/core/apppassword?format=json', basic(ALICE.uid, ALICE.password));
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    r = await req('DELETE', '/ocs/v2.php/core/apppassword?format=json', basic('alice', token));
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.deepEqual(await s.app.appPasswords.list('alice'), []);
    r = await req('GET', '/ocs/v2.php/cloud/user?format=json', basic('alice', token));
    assert.equal(r.status, 401, 'revoked token (even though it was cached) no longer works');
    await r.arrayBuffer();
    await s.app.throttle.registerSuccess('127.0.0.1', 'alice');
    // secrets never reach the audit log
    const text = JSON.stringify(await audit(s));
    assert.ok(!text.includes(token) && !text.includes(ALICE.password));
  });

  it('an app password revoked through the service stops working despite the credential cache', async () => {
    const { token, info } = await s.app.appPasswords.create('alice', 'cli');
    let r = await req('GET', '/ocs/v2.php/cloud/user?format=json', basic('alice', token));
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    await s.app.appPasswords.revoke('alice', info.id); // as another process would: no cache call
    r = await req('GET', '/ocs/v2.php/cloud/user?format=json', basic('alice', token));
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    await s.app.throttle.registerSuccess('127.0.0.1', 'alice');
  });

  it('a password changed behind the cache\'s back invalidates the cached credential', async () => {
    const a = basic(ALICE.uid, ALICE.password);
    let r = await req('GET', '/ocs/v2.php/cloud/user?format=json', a);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    await s.app.users.setPassword('alice', 'changed-elsewhere'); // no invalidateUser call
    r = await req('GET', '/ocs/v2.php/cloud/user?format=json', a);
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    await s.app.users.setPassword('alice', ALICE.password);
    await s.app.throttle.registerSuccess('127.0.0.1', 'alice');
  });

  it('Login Flow v2: start, poll 404 until granted, then 200 exactly once', async () => {
    for (const startPath of ['/index.php/login/v2', '/login/v2']) {
      let r = await req('POST', startPath);
      assert.equal(r.status, 200);
      const start = await r.json();
      assert.equal(start.poll.endpoint, `${s.url}/login/v2/poll`);
      const m = /\/login\/v2\/flow\/([A-Za-z0-9_-]+)$/.exec(start.login);
      assert.ok(m, start.login);
      const pollBody = new URLSearchParams({ token: start.poll.token }).toString();
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      r = await req('POST', '/login/v2/poll', undefined, form, pollBody);
      assert.equal(r.status, 404);
      await r.arrayBuffer();
      assert.equal((await s.app.loginFlow.pending(m[1])).clientName, 'Mozilla/5.0 (Linux) mirall/3.7.3');

      r = await req('POST', '/login/v2/grant', undefined, form, new URLSearchParams({ token: m[1] }).toString());
      assert.equal(r.status, 401, 'grant needs authentication');
      await r.arrayBuffer();
      // the grant takes the web session and its request token (never Basic credentials)
      const sess = await s.app.sessions.create(ALICE.uid);
      const web = { ...form, cookie: `coffer_session=${sess.token}`, requesttoken: sess.csrfToken };
      r = await req('POST', '/login/v2/grant', undefined, web, new URLSearchParams({ token: m[1] }).toString());
      assert.equal(r.status, 200);
      await r.arrayBuffer();

      r = await req('POST', '/index.php/login/v2/poll', undefined, form, pollBody);
      assert.equal(r.status, 200);
      const got = await r.json();
      assert.equal(got.server, s.url);
      assert.equal(got.loginName, 'alice');
      assert.match(got.appPassword, /^[A-Za-z0-9]{72}$/);
      r = await req('POST', '/login/v2/poll', undefined, form, pollBody);
      assert.equal(r.status, 404, 'only once');
      await r.arrayBuffer();
      r = await req('GET', '/ocs/v2.php/cloud/user?format=json', basic('alice', got.appPassword));
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      r = await req('POST', '/login/v2/grant', undefined, web, new URLSearchParams({ token: m[1] }).toString());
      assert.equal(r.status, 404, 'a flow is granted once');
      await r.arrayBuffer();
    }
    const r = await req('GET', '/login/v2/poll');
    assert.equal(r.status, 405);
    await r.arrayBuffer();
  });
});

describe('brute-force throttling over HTTP', () => {
  let s: TestServer;
  before(async () => {
    // 127.0.0.1 is a trusted proxy here, so X-Forwarded-For picks the client address per test
    s = await startTestServer({ argon2: FAST, trustedProxies: ['127.0.0.1'], throttle: { baseDelayMs: 40, maxDelayMs: 160, maxIpAttempts: 6 } });
    await s.app.users.create({ uid: ALICE.uid, password: ALICE.password });
    await s.app.users.create({ uid: 'bob', password: 'bob-pw' });
    await s.app.users.create({ uid: 'carol', password: 'carol-pw' });
  });
  after(async () => { await s.close(); });

  const timed = async (auth: string, ip: string) => {
    const t0 = performance.now();
    const r = await fetch(s.url + '/ocs/v2.php/cloud/user?format=json', { headers: { authorization: auth, 'x-forwarded-for': ip } });
    await r.arrayBuffer();
    return { status: r.status, ms: performance.now() - t0, retryAfter: r.headers.get('retry-after') };
  };

  it('per user: the delay grows with each failure, up to the cap, but the owner is never refused; audited', async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await timed(basic('alice', `wrong-${i}`), '10.1.0.1'));
    assert.deepEqual(results.map((r) => r.status), [401, 401, 401, 401]);
    // delays before each check: 0, 40, 80, 160 ms
    assert.ok(results[3].ms >= 150, `4th attempt delayed (${results[3].ms} ms)`);
    assert.ok(results[3].ms > results[1].ms, 'delay grows');
    // from another address: the user's counter slows the next guess (to the cap) but does not refuse it
    const slowed = await timed(basic('alice', 'wrong-again'), '10.1.0.2');
    assert.equal(slowed.status, 401);
    assert.ok(slowed.ms >= 150, `slowed (${slowed.ms} ms)`);
    const owner = await timed(basic('alice', ALICE.password), '10.1.0.3');
    assert.equal(owner.status, 200, 'the right password from an unknown client gets in, slowed');
    assert.ok(owner.ms >= 150, `owner on an unknown client slowed (${owner.ms} ms)`);
    const again = await timed(basic('alice', ALICE.password), '10.1.0.3');
    assert.equal(again.status, 200);
    assert.ok(again.ms < 150, `known client now: no delay (${again.ms} ms)`);
    assert.equal((await timed(basic('bob', 'bob-pw'), '10.1.0.2')).status, 200, 'other users are unaffected');

    const entries = await audit(s, { user: 'alice' });
    assert.equal(entries.filter((e) => e.event === 'login.failure').length, 5);
    assert.ok(entries.every((e) => !JSON.stringify(e).includes('wrong-')), 'attempted passwords are not logged');
  });

  it('per IP: failures against many users from one address end in 429 for every login there', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await timed(basic(`nobody${i}`, 'x'), '10.2.0.1')).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401]);
    const r = await timed(basic('bob', 'bob-pw'), '10.2.0.1');
    assert.equal(r.status, 429, 'the address is blocked even for a correct login');
    assert.ok(Number(r.retryAfter) > 0);
    assert.equal((await timed(basic('bob', 'bob-pw'), '10.2.0.2')).status, 200, 'other addresses are unaffected');
    const entries = await audit(s);
    assert.ok(entries.some((e) => e.event === 'login.failure' && e.uid === 'nobody3' && e.ip === '10.2.0.1'));
    assert.ok(entries.some((e) => e.event === 'login.throttled' && e.ip === '10.2.0.1' && e.uid === 'bob'));
  });

  it('a success clears only that user\'s failures from that address', async () => {
    const ip = '10.3.0.1';
    assert.equal((await timed(basic('carol', 'typo'), ip)).status, 401);
    assert.equal((await timed(basic('carol', 'typo2'), ip)).status, 401);
    assert.equal((await timed(basic('bob', 'guess'), ip)).status, 401);
    const ok = await timed(basic('carol', 'carol-pw'), ip);
    assert.equal(ok.status, 200);
    assert.ok(ok.ms >= 75, 'the successful attempt itself waited for 3 failures');
    // carol's two typos are forgotten; the guess against bob is not
    assert.equal(await s.app.throttle.attempts({ ip }), 1);
    assert.equal(await s.app.throttle.attempts({ uid: 'carol' }), 0);
    assert.equal(await s.app.throttle.attempts({ uid: 'bob' }), 1);
    assert.ok((await audit(s, { user: 'carol' })).some((e) => e.event === 'login.success' && e.ip === ip));
  });
});
