/**
 * Login Flow v2 under a flood: 10,000 anonymous Login Flow v2 starts used to push out everyone's pending
 * flows (a count cap that evicted the oldest). Now each address (IPv6: its /64) may have a few
 * open, flows expire after 20 minutes, and nobody's flow is evicted. Real HTTP on loopback, the
 * client address set through X-Forwarded-For of a trusted proxy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginFlowService, LOGIN_FLOW_MAX_PER_ADDRESS } from '../../src/auth/login-flow-service.ts';
import { ThrottledError } from '../../src/errors.ts';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';

describe('Login Flow v2 under a flood of starts', { timeout: 300_000 }, () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance({ config: { trustedProxies: ['127.0.0.1'] } }); });
  after(async () => { await t?.stop(); });

  const start = (ip: string) => fetch(`${t.url}/login/v2`, { method: 'POST', headers: { 'x-forwarded-for': ip } });

  test('an attacker\'s 10,000 starts get 429 after the per-address limit; the victim\'s flow survives and is granted', async () => {
    const r = await start('198.51.100.7');
    assert.equal(r.status, 200);
    const victim = await r.json();
    const loginToken = victim.login.split('/').pop();

    // Up to 10,000 starts (what evicted everyone's flows before); once 500 in a row were refused,
    // the rest would be too, so the test stops there to spare the machine.
    const statuses = new Map<number, number>();
    let retryAfter = '';
    let next = 0;
    let refusedInARow = 0;
    const worker = async () => {
      while (next < 10_000 && refusedInARow < 500) {
        next++;
        const a = await start('203.0.113.66');
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        if (a.status === 429) { retryAfter = a.headers.get('retry-after') ?? ''; refusedInARow++; } else refusedInARow = 0;
        await a.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.equal(statuses.get(200), LOGIN_FLOW_MAX_PER_ADDRESS, JSON.stringify([...statuses]));
    assert.ok((statuses.get(429) ?? 0) >= 500);
    assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 20 * 60, `Retry-After ${retryAfter}`);

    // the victim's flow is still there: the page shows it, the grant works, the poll gets the app password
    assert.ok(await t.app.loginFlow.pending(loginToken));
    const s = await t.app.sessions.create(ADMIN.uid);
    const g = await fetch(`${t.url}/login/v2/grant`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken },
      body: new URLSearchParams({ token: loginToken }).toString(),
    });
    assert.equal(g.status, 200);
    await g.arrayBuffer();
    const p = await fetch(`${t.url}/login/v2/poll`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: victim.poll.token }).toString() });
    assert.equal(p.status, 200);
    assert.equal((await p.json()).loginName, ADMIN.uid);
    // other addresses still start flows
    const other = await start('192.0.2.44');
    assert.equal(other.status, 200);
    await other.arrayBuffer();
  });

  test('an IPv6 client counts by its /64', async () => {
    for (let i = 0; i < LOGIN_FLOW_MAX_PER_ADDRESS; i++) {
      const r = await start(`2001:db8:aa:bb::${(i + 1).toString(16)}`);
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    const same64 = await start('2001:0db8:00aa:00bb:ffff:1:2:3');
    assert.equal(same64.status, 429);
    await same64.arrayBuffer();
    const other64 = await start('2001:db8:aa:bc::1');
    assert.equal(other64.status, 200);
    await other64.arrayBuffer();
  });
});

describe('Login Flow v2 expiry', () => {
  test('flows expire after 20 minutes and free their address\'s slots', async () => {
    let now = Date.now();
    const svc = new LoginFlowService({ appPasswords: undefined as never, now: () => now, maxPerAddress: 3 });
    const first = svc.start('c', '10.0.0.1');
    svc.start('c', '10.0.0.1');
    svc.start('c', '10.0.0.1');
    assert.throws(() => svc.start('c', '10.0.0.1'), ThrottledError);
    now += 19 * 60_000;
    assert.ok(svc.pending(first.loginToken), 'still open after 19 minutes');
    assert.throws(() => svc.start('c', '10.0.0.1'), ThrottledError);
    now += 2 * 60_000;
    assert.throws(() => svc.pending(first.loginToken), /expired/);
    assert.ok(svc.start('c', '10.0.0.1'), 'a slot is free again');
  });
});
