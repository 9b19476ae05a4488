/**
 * SharedLoginFlowService over Redis: a flow started on one "process" is shown, granted and polled
 * on others; grant and poll happen exactly once; Redis holds no token and no readable app password.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedLoginFlowService } from '../../src/auth/login-flow-service.ts';
import { NotFoundError } from '../../src/errors.ts';
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
    const flow = await A.start('Mozilla/5.0 (Linux) mirall/3.7.3');
    await assert.rejects(C.poll(flow.pollToken), NotFoundError);
    assert.equal((await B.pending(flow.loginToken)).clientName, 'Mozilla/5.0 (Linux) mirall/3.7.3');
    // Redis holds hashes and ciphertext only
    const c = clients[0]!;
    const dump = (await Promise.all((await c.redis.keys(`${c.prefix}*`)).map(async (k) => k + (await c.redis.get(k))))).join('\n');
    assert.equal(dump.includes(flow.loginToken), false);
    assert.equal(dump.includes(flow.pollToken), false);
    const grants = await Promise.allSettled([B.grant(flow.loginToken, ADMIN.uid), A.grant(flow.loginToken, ADMIN.uid)]);
    assert.deepEqual(grants.map((g) => g.status).sort(), ['fulfilled', 'rejected'], 'granted exactly once');
    await assert.rejects(B.pending(flow.loginToken), NotFoundError);
    const after = (await Promise.all((await c.redis.keys(`${c.prefix}*`)).map(async (k) => (await c.redis.get(k)) ?? ''))).join('\n');
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
    const f = await timed.start('client');
    now += 21 * 60_000;
    await assert.rejects(timed.pending(f.loginToken), NotFoundError);
    await assert.rejects(timed.grant(f.loginToken, ADMIN.uid), NotFoundError);
    const ttl = await c.redis.pttl((await c.redis.keys(`${c.prefix}loginflow:pending:*`))[0] ?? 'none');
    assert.ok(ttl === -2 || (ttl > 0 && ttl <= 20 * 60_000), `pending entries expire with the flow (pttl ${ttl})`);
  });
});
