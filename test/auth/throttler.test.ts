import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryThrottleStore } from '../../src/auth/throttle-store.ts';
import { Throttler, throttleAddress } from '../../src/auth/throttler.ts';
import { ThrottledError } from '../../src/errors.ts';

/** A throttler on a manual clock whose sleeps advance the clock and are recorded. */
function manual(opts = {}) {
  let now = 1_000_000;
  const slept: number[] = [];
  const t = new Throttler(new MemoryThrottleStore(), { baseDelayMs: 100, maxDelayMs: 1600, windowMs: 60_000, maxIpAttempts: 6, maxUserAttempts: 8, ...opts }, {
    now: () => now,
    sleep: async (ms) => { slept.push(ms); now += ms; },
  });
  return { t, slept, advance: (ms: number) => { now += ms; } };
}

describe('Throttler', () => {
  it('doubles the delay per failure up to the cap, then refuses with Retry-After', async () => {
    const { t } = manual({ maxIpAttempts: 10 });
    assert.equal(await t.check({ ip: '10.0.0.1' }), 0);
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      await t.registerFailure('10.0.0.1', `user${i}`);
      delays.push(await t.check({ ip: '10.0.0.1' }));
    }
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 1600, 1600, 1600, 1600]);
    await t.registerFailure('10.0.0.1', 'user9');
    const err = await t.check({ ip: '10.0.0.1' }).catch((e) => e);
    assert.ok(err instanceof ThrottledError);
    assert.ok(err.retryAfterSeconds > 0 && err.retryAfterSeconds <= 60);
    assert.equal(await t.check({ ip: '10.0.0.2' }), 0, 'other addresses unaffected');
  });

  it('forgets failures after the window', async () => {
    const { t, advance } = manual();
    for (let i = 0; i < 6; i++) await t.registerFailure('10.0.0.1', 'bob');
    await assert.rejects(t.check({ ip: '10.0.0.1' }), ThrottledError);
    advance(61_000);
    assert.equal(await t.check({ ip: '10.0.0.1' }), 0);
  });

  it('throttles a user attacked from many addresses', async () => {
    const { t } = manual();
    for (let i = 0; i < 8; i++) await t.registerFailure(`10.0.1.${i}`, 'Victim');
    await assert.rejects(t.check({ uid: 'victim' }), ThrottledError, 'uids compare case-insensitively');
    assert.equal(await t.check({ uid: 'someone-else' }), 0);
    assert.equal(await t.check({ ip: '10.0.1.200' }), 0);
  });

  it('a success forgets only that user\'s failures from that address', async () => {
    const { t } = manual();
    await t.registerFailure('10.0.0.1', 'alice');
    await t.registerFailure('10.0.0.1', 'alice');
    await t.registerFailure('10.0.0.1', 'bob');
    await t.registerFailure('10.0.0.9', 'alice');
    assert.equal(await t.check({ ip: '10.0.0.1' }), 400);
    await t.registerSuccess('10.0.0.1', 'alice');
    assert.equal(await t.check({ ip: '10.0.0.1' }), 100, "bob's failure from this address stays");
    assert.equal(await t.check({ uid: 'alice' }), 100, "alice's failure from another address stays");
  });

  it('groups IPv6 clients by /64 and unwraps IPv4-mapped addresses', async () => {
    assert.equal(throttleAddress('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(throttleAddress('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(throttleAddress('2001:db8:1:2::2'), '2001:db8:1:2::/64');
    assert.equal(throttleAddress('::1'), '0:0:0:0::/64');
    const { t } = manual();
    await t.registerFailure('2001:db8:1:2::1', 'x');
    assert.equal(await t.check({ ip: '2001:db8:1:2:ffff::9' }), 100);
    assert.equal(await t.check({ ip: '2001:db8:1:3::1' }), 0);
  });

  it('sleeps for real with the default clock', async () => {
    const t = new Throttler(new MemoryThrottleStore(), { baseDelayMs: 50 });
    await t.registerFailure('127.0.0.1', 'a');
    await t.registerFailure('127.0.0.1', 'a');
    const start = performance.now();
    assert.equal(await t.check({ ip: '127.0.0.1' }), 100);
    assert.ok(performance.now() - start >= 95);
  });
});
