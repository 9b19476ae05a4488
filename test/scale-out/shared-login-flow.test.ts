/**
 * SharedLoginFlowService over Redis: a flow started on one "process" is shown, granted and polled
 * on others; grant and poll happen exactly once; Redis holds no token and no readable app password.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LOGIN_FLOW_MAX_PER_ADDRESS, SharedLoginFlowService } from '../../src/auth/login-flow-service.ts';
import { NotFoundError, ThrottledError } from '../../src/errors.ts';
import { RedisClient } from '../../src/redis/redis-client.ts';
import { RedisLoginFlowStore } from '../../src/redis/redis-login-flow-store.ts';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';

const REDIS = { host: '127.0.0.1', port: 6379 };
const up = (await (async () => { const c = new RedisClient(REDIS, { instanceId: 'probe' }); try { return await c.check(); } finally { await c.close(); } })()).length === 0;
const SKIP = !up && process.env.CI !== 'true' ? 'no Redis at 127.0.0.1:6379' : false;

describe('SharedLoginFlowService on Redis', { skip: SKIP }, () => {
  const instanceId = 'oclf' + randomBytes(4).toString('hex');
  const clients: RedisClient[] = [];
  let inst: TestInstance;
  const proc = () => {
    const c = new RedisClient(REDIS, { instanceId });
    clients.push(c);
    return new SharedLoginFlowService({ appPasswords: inst.app.appPasswords, store: new RedisLoginFlowStore(c) });
  };
  before(async () => { inst = await startTestInstance(); });
  after(async () => {
    const keys = await clients[0]!.redis.keys(`${clients[0]!.prefix}*`);
    if (keys.length) await clients[0]!.redis.del(...keys);
    for (const c of clients) await c.close();
    await inst.stop();
  });

  test('start on A, page and grant on B, poll on C (once); the app password works', async () => {
    const [A, B, C] = [proc(), proc(), proc()];
    const flow = await A.start('Mozilla/5.0 (Linux) mirall/3.7.3', '127.0.0.1');
    await assert.rejects(C.poll(flow.pollToken), NotFoundError);
    assert.equal((await B.pending(flow.loginToken)).clientName, 'Mozilla/5.0 (Linux) mirall/3.7.3');
    // Redis holds hashes and ciphertext only
    const c = clients[0]!;
    // every value, whatever its type (the per-address index is a sorted set)
    const valueOf = async (k: string) => ((await c.redis.type(k)) === 'zset' ? (await c.redis.zrange(k, 0, -1, 'WITHSCORES')).join(' ') : (await c.redis.get(k)) ?? '');
    const dump = (await Promise.all((await c.redis.keys(`${c.prefix}*`)).map(async (k) => k + (await valueOf(k))))).join('\n');
    assert.equal(dump.includes(flow.loginToken), false);
    assert.equal(dump.includes(flow.pollToken), false);
    const grants = await Promise.allSettled([B.grant(flow.loginToken, ADMIN.uid), A.grant(flow.loginToken, ADMIN.uid)]);
    assert.deepEqual(grants.map((g) => g.status).sort(), ['fulfilled', 'rejected'], 'granted exactly once');
    await assert.rejects(B.pending(flow.loginToken), NotFoundError);
    const after = (await Promise.all((await c.redis.keys(`${c.prefix}*`)).map(valueOf))).join('\n');
    const polls = await Promise.allSettled([C.poll(flow.pollToken), A.poll(flow.pollToken)]);
    const ok = polls.filter((p): p is PromiseFulfilledResult<{ loginName: string; appPassword: string }> => p.status === 'fulfilled');
    assert.equal(ok.length, 1, 'polled exactly once');
    const r = ok[0]!.value;
    assert.equal(r.loginName, ADMIN.uid);
    assert.equal(after.includes(r.appPassword), false, 'the app password is not readable in Redis');
    const res = await inst.fetch('/remote.php/dav/files/admin/', { method: 'PROPFIND', headers: { depth: '0', authorization: inst.basic(ADMIN.uid, r.appPassword) } });
    assert.equal(res.status, 207);
  });

  test('a wrong poll token opens nothing; unknown tokens are NotFound; flows expire', async () => {
    const A = proc();
    await assert.rejects(A.pending('x'.repeat(64)), NotFoundError);
    await assert.rejects(A.grant('x'.repeat(64), ADMIN.uid), NotFoundError);
    let now = Date.now();
    const c = new RedisClient(REDIS, { instanceId });
    clients.push(c);
    const timed = new SharedLoginFlowService({ appPasswords: inst.app.appPasswords, store: new RedisLoginFlowStore(c), now: () => now });
    const f = await timed.start('client', '127.0.0.1');
    now += 21 * 60_000;
    await assert.rejects(timed.pending(f.loginToken), NotFoundError);
    await assert.rejects(timed.grant(f.loginToken, ADMIN.uid), NotFoundError);
    const ttl = await c.redis.pttl((await c.redis.keys(`${c.prefix}loginflow:pending:*`))[0] ?? 'none');
    assert.ok(ttl === -2 || (ttl > 0 && ttl <= 20 * 60_000), `pending entries expire with the flow (pttl ${ttl})`);
  });

  test('per address: the limit holds across processes, refuses without evicting, and a grant frees a slot', async () => {
    const [A, B] = [proc(), proc()];
    const ip = `10.77.${Math.floor(Math.random() * 250)}.9`;
    const flows = [];
    for (let i = 0; i < LOGIN_FLOW_MAX_PER_ADDRESS; i++) flows.push(await (i % 2 ? A : B).start('client', ip));
    await assert.rejects(A.start('client', ip), ThrottledError);
    await assert.rejects(B.start('client', ip), ThrottledError);
    assert.ok(await A.start('client', '10.78.0.1'), 'another address is not limited');
    for (const f of flows) assert.equal((await B.pending(f.loginToken)).clientName, 'client', 'nothing was evicted');
    await A.grant(flows[0]!.loginToken, ADMIN.uid);
    assert.ok(await B.start('client', ip), 'a granted flow frees its slot');
  });
});

