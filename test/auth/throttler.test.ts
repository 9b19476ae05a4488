import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryThrottleStore } from '../../src/auth/throttle-store.ts';
import { Throttler, throttleAddress, type ThrottleOptions } from '../../src/auth/throttler.ts';
import { DeviceTokens } from '../../src/auth/device-token.ts';
import { AddressRanges } from '../../src/config/address-range.ts';
import { ThrottledError } from '../../src/errors.ts';

/** A throttler on a manual clock whose sleeps advance the clock and are recorded. */
function manual(opts: Partial<ThrottleOptions> = {}) {
  let now = 1_000_000;
  const slept: number[] = [];
  const devices = new DeviceTokens('s'.repeat(40));
  const t = new Throttler(new MemoryThrottleStore(), { baseDelayMs: 100, maxDelayMs: 1600, windowMs: 60_000, maxIpAttempts: 6, maxClientAttempts: 4, ...opts }, {
    now: () => now,
    sleep: async (ms) => { slept.push(ms); now += ms; },
    devices,
  });
  return { t, slept, devices, advance: (ms: number) => { now += ms; }, now: () => now };
}

/** One wrong attempt (begun and left as a failure); the delay it waited. */
async function fail(t: Throttler, ip: string, uid?: string, deviceToken?: string): Promise<number> {
  return (await t.begin({ ip, uid, deviceToken })).delayMs;
}

describe('Throttler', () => {
  it('doubles the delay per failure up to the cap, then refuses an unknown client with Retry-After', async () => {
    const { t } = manual({ maxIpAttempts: 10 });
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) delays.push(await fail(t, '10.0.0.1', `user${i}`));
    assert.deepEqual(delays, [0, 100, 200, 400, 800, 1600, 1600, 1600, 1600, 1600]);
    const err = await t.begin({ ip: '10.0.0.1', uid: 'user10' }).catch((e: unknown) => e);
    assert.ok(err instanceof ThrottledError);
    assert.ok(err.retryAfterSeconds > 0 && err.retryAfterSeconds <= 60);
    assert.equal(await fail(t, '10.0.0.2', 'x'), 0, 'other addresses unaffected');
  });

  it('counts before the check: parallel attempts get rising counts, those beyond the limit are refused', async () => {
    const { t } = manual({ maxIpAttempts: 6, baseDelayMs: 0 });
    const rs = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => t.begin({ ip: '10.0.0.7', uid: `u${i % 3}` })));
    assert.equal(rs.filter((r) => r.status === 'fulfilled').length, 6);
    assert.ok(rs.every((r) => r.status === 'fulfilled' || r.reason instanceof ThrottledError));
  });

  it('a right credential releases its reservation and forgets its typos; the window forgets the rest', async () => {
    const { t, advance } = manual();
    await fail(t, '10.0.0.1', 'alice');
    await fail(t, '10.0.0.1', 'bob');
    const a = await t.begin({ ip: '10.0.0.1', uid: 'alice' });
    assert.equal(a.delayMs, 200);
    await a.succeed();
    assert.equal(await t.attempts({ ip: '10.0.0.1' }), 1, "bob's failure stays, alice's typo and the right attempt go");
    const b = await t.begin({ ip: '10.0.0.1' });
    await b.abandon();
    assert.equal(await t.attempts({ ip: '10.0.0.1' }), 1, 'an abandoned attempt is not counted');
    advance(61_000);
    assert.equal(await t.attempts({ ip: '10.0.0.1' }), 0);
  });

  it("an attacked account slows unknown clients (bounded) but never refuses them; known clients do not notice", async () => {
    const { t, devices } = manual({ maxIpAttempts: 6 });
    // the owner logs in once from home: that address becomes known
    await (await t.begin({ ip: '192.0.2.10', uid: 'victim' })).succeed();
    for (let i = 0; i < 30; i++) await fail(t, `10.0.${i}.1`, 'Victim');
    const unknown = await t.begin({ ip: '198.51.100.1', uid: 'victim' });
    assert.equal(unknown.delayMs, 1600, 'slowed to the cap');
    assert.equal(unknown.known, false);
    const home = await t.begin({ ip: '192.0.2.10', uid: 'victim' });
    assert.deepEqual([home.delayMs, home.known], [0, true], 'known address: no delay');
    const device = await t.begin({ ip: '203.0.113.5', uid: 'victim', deviceToken: devices.issue('victim') });
    assert.deepEqual([device.delayMs, device.known], [0, true], 'device token: no delay');
    const forged = await t.begin({ ip: '203.0.113.6', uid: 'victim', deviceToken: devices.issue('mallory') });
    assert.equal(forged.known, false, "another user's token does not count");
  });

  it('a known client has its own budget: used up, only it is refused', async () => {
    const { t, devices } = manual();
    const tok = devices.issue('alice');
    for (let i = 0; i < 4; i++) await fail(t, '10.0.0.1', 'alice', tok);
    await assert.rejects(t.begin({ ip: '10.0.0.1', uid: 'alice', deviceToken: tok }), ThrottledError);
    assert.equal((await t.begin({ ip: '10.0.0.1', uid: 'alice' })).known, false, 'the same address without the token is an unknown client');
  });

  it('allow-listed ranges (IPv4, IPv6, IPv4-mapped) are never throttled nor counted', async () => {
    const { t } = manual({ allowlist: ['10.9.0.0/16', '2001:db8:aa::/48'] });
    for (let i = 0; i < 20; i++) assert.equal(await fail(t, '10.9.3.4', `u${i}`), 0);
    for (let i = 0; i < 20; i++) assert.equal(await fail(t, '::ffff:10.9.3.4', `u${i}`), 0);
    for (let i = 0; i < 20; i++) assert.equal(await fail(t, '2001:db8:aa:1::9', `u${i}`), 0);
    assert.equal(await t.attempts({ ip: '10.9.3.4' }), 0);
    assert.equal((await t.addressStatus('10.9.3.4')).allowlisted, true);
    assert.equal(t.isAllowlisted('10.10.0.1'), false);
    assert.throws(() => new AddressRanges(['10.0.0.0/33']), /CIDR/);
    assert.throws(() => new AddressRanges(['example.org']), /CIDR/);
  });

  it('addressStatus and resetAddress', async () => {
    const { t } = manual();
    for (let i = 0; i < 6; i++) await fail(t, '10.0.0.3', `u${i}`);
    const s = await t.addressStatus('10.0.0.3');
    assert.equal(s.attempts, 6);
    assert.equal(s.delayMs, 1600);
    assert.ok(s.blockedForSeconds > 0);
    await t.resetAddress('10.0.0.3');
    assert.deepEqual(await t.addressStatus('10.0.0.3'), { address: '10.0.0.3', allowlisted: false, attempts: 0, delayMs: 0, blockedForSeconds: 0 });
  });

  it('device tokens: bound to the user, expire, resist tampering', () => {
    const d = new DeviceTokens('k'.repeat(40));
    const tok = d.issue('Alice', 0);
    assert.ok(d.verify(tok, 'alice', 1000));
    assert.equal(d.verify(tok, 'bob', 1000), undefined);
    assert.equal(d.verify(tok, 'alice', 181 * 86_400_000), undefined, 'expired');
    assert.equal(d.verify(tok.slice(0, -2) + (tok.endsWith('AA') ? 'BB' : 'AA'), 'alice', 1000), undefined);
    assert.equal(new DeviceTokens('x'.repeat(40)).verify(tok, 'alice', 1000), undefined, 'another instance secret');
    assert.equal(d.verify('v1.garbage', 'alice'), undefined);
  });

  it('groups IPv6 clients by /64 and unwraps IPv4-mapped addresses', async () => {
    assert.equal(throttleAddress('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(throttleAddress('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(throttleAddress('2001:db8:1:2::2'), '2001:db8:1:2::/64');
    assert.equal(throttleAddress('::1'), '0:0:0:0::/64');
    const { t } = manual();
    await fail(t, '2001:db8:1:2::1', 'x');
    assert.equal(await t.attempts({ ip: '2001:db8:1:2:ffff::9' }), 1);
    assert.equal(await t.attempts({ ip: '2001:db8:1:3::1' }), 0);
  });

  it('sleeps for real with the default clock', async () => {
    const t = new Throttler(new MemoryThrottleStore(), { baseDelayMs: 50 });
    await t.registerFailure('127.0.0.1', 'a');
    await t.registerFailure('127.0.0.1', 'a');
    const start = performance.now();
    assert.equal((await t.begin({ ip: '127.0.0.1' })).delayMs, 100);
    assert.ok(performance.now() - start >= 95);
  });
});
