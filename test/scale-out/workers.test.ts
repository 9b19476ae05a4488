/**
 * `./occ serve --workers 2`: two real worker processes behind one port, on SQLite + local disk and
 * on PostgreSQL + Redis + local disk, every request on a fresh connection (so either worker may
 * accept it) and each answer traced to the worker that gave it (X-Request-Id → the
 * worker's request log line). Asserted: per-user-key sharing (login password, shares, web session)
 * works whichever worker answers; a WebDAV lock taken on one is honoured by the other; Login Flow
 * v2's per-address limit counts the flows of both (one shared store); maintenance mode reaches both;
 * the audit log written by both holds only whole JSON lines; a worker SIGKILLed in the middle of
 * uploads is replaced while the other keeps answering, no answered write is lost and no
 * half-written file is visible; SIGTERM drains an upload in flight and ends every process.
 */
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { webLogin } from '../support/web-login.ts';
import { plaintextOnDisk } from '../user-keys/helpers.ts';
import { LOGIN_FLOW_MAX_PER_ADDRESS } from '../../src/auth/login-flow-service.ts';
import { RedisClient } from '../../src/redis/redis-client.ts';
import { OCC, run } from '../cli/occ-harness.ts';

const REDIS = { host: '127.0.0.1', port: 6379 };
const IN_CI = process.env.CI === 'true';
const redisUp = (await (async () => { const c = new RedisClient(REDIS, { instanceId: 'probe' }); try { return await c.check(); } finally { await c.close(); } })()).length === 0;
const pgUp = (await run('pg_isready', ['-h', '127.0.0.1', '-p', '5432'], {}).catch(() => ({ code: 1 }))).code === 0;

const ALICE = { uid: 'alice', password: 'alice-password-123' };
const BOB = { uid: 'bob', password: 'bob-password-123' };
const MARKER = 'WORKERS-PLAINTEXT-MARKER-' + randomBytes(6).toString('hex');
const basic = (u: { uid: string; password: string }) => 'Basic ' + Buffer.from(`${u.uid}:${u.password}`).toString('base64');

interface Answer { status: number; body: Buffer; headers: Record<string, string | string[] | undefined>; reqId: string }

/** One request on its own connection (no keep-alive: either worker may accept it). */
function req(base: string, method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = request(base + path, { method, agent: false, headers: { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers, reqId: String(res.headers['x-request-id'] ?? '') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.setTimeout(60_000, () => r.destroy(new Error(`no answer to ${method} ${path} within 60 s`)));
    r.end(init.body);
  });
}

/**
 * A PUT whose body is sent in two halves: `finish()` sends the rest and resolves with the answer
 * (rejects when the connection died).
 */
function slowPut(base: string, path: string, body: Buffer, auth: string): { answer: Promise<Answer>; finish(): void } {
  let finish!: () => void;
  const answer = new Promise<Answer>((resolve, reject) => {
    const r = request(base + path, { method: 'PUT', agent: false, headers: { authorization: auth, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers, reqId: String(res.headers['x-request-id'] ?? '') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.setTimeout(60_000, () => r.destroy(new Error(`no answer to PUT ${path} within 60 s`)));
    r.write(body.subarray(0, body.length >> 1));
    finish = () => { r.end(body.subarray(body.length >> 1)); };
  });
  return { answer, finish: () => finish() };
}

for (const db of ['sqlite', 'pgsql'] as const) {
  const skip = db === 'pgsql' && !(pgUp && redisUp) && !IN_CI ? 'PostgreSQL or Redis not running on 127.0.0.1' : false;
  describe(`./occ serve --workers 2 on ${db === 'sqlite' ? 'SQLite' : 'PostgreSQL + Redis'}`, { skip, timeout: 600_000 }, () => {
    let t: TestInstance;
    let base: string;
    const dav = (u: { uid: string }, p: string) => `/remote.php/dav/files/${u.uid}/${p}`;
    /** The worker pid that answered `a` (its request log line may trail the answer a little). */
    const pidOf = async (a: Answer): Promise<number> => {
      for (let i = 0; i < 50; i++) {
        const hit = t.workers!.requests().find((q) => q.reqId === a.reqId);
        if (hit) return hit.pid;
        await sleep(50);
      }
      throw new Error(`no log line for request ${a.reqId}`);
    };
    const pidsOf = async (as: Answer[]) => new Set(await Promise.all(as.map(pidOf)));

    before(async () => {
      // trusted proxy: the brute-force test poses as other client addresses (X-Forwarded-For)
      t = await startTestInstance({ db, workers: 2, config: { trustedProxies: ['127.0.0.1'], ...(db === 'pgsql' ? { redis: REDIS } : {}) } });
      base = t.url;
      await enableEncryption(t);
      await t.app.userKeys.setPerUserMode(true, 0);
      await t.addUser(ALICE.uid, ALICE.password);
      await t.addUser(BOB.uid, BOB.password);
      await sleep(1100); // the workers cache the encryption state and key mode for up to 1 s
    });
    after(async () => { await t?.stop(); });

    test('per-user keys: alice shares with bob; both read and write through either worker; a web session works on both', async () => {
      const answers: Answer[] = [];
      const a = async (p: Promise<Answer>, status: number | number[], what: string) => {
        const r = await p;
        assert.ok(([] as number[]).concat(status).includes(r.status), `${what}: ${r.status} ${r.body.toString().slice(0, 300)}`);
        answers.push(r);
        return r;
      };
      // bob's first login creates his key pair, so that alice's share can be sealed to him
      await a(req(base, 'PROPFIND', dav(BOB, ''), { headers: { authorization: basic(BOB), depth: '0' } }), 207, 'bob PROPFIND');
      await a(req(base, 'MKCOL', dav(ALICE, 'Project'), { headers: { authorization: basic(ALICE) } }), 201, 'MKCOL');
      for (let i = 0; i < 4; i++) {
        await a(req(base, 'PUT', dav(ALICE, `Project/a${i}.txt`), { headers: { authorization: basic(ALICE) }, body: `${MARKER} alice ${i}` }), 201, `PUT a${i}`);
      }
      await a(req(base, 'POST', '/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json', {
        headers: { authorization: basic(ALICE), 'OCS-APIRequest': 'true', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ path: '/Project', shareType: '0', shareWith: BOB.uid, permissions: '31' }).toString(),
      }), 200, 'share');
      for (let i = 0; i < 4; i++) {
        const r = await a(req(base, 'GET', dav(BOB, `Project/a${i}.txt`), { headers: { authorization: basic(BOB) } }), 200, `bob GET a${i}`);
        assert.equal(r.body.toString(), `${MARKER} alice ${i}`);
      }
      await a(req(base, 'PUT', dav(BOB, 'Project/from-bob.txt'), { headers: { authorization: basic(BOB) }, body: `${MARKER} bob` }), 201, 'bob PUT');
      for (let i = 0; i < 4; i++) {
        const r = await a(req(base, 'GET', dav(ALICE, 'Project/from-bob.txt'), { headers: { authorization: basic(ALICE) } }), 200, 'alice GET bob\'s file');
        assert.equal(r.body.toString(), `${MARKER} bob`);
      }
      // a web session started on one worker unlocks alice's key on the other (its own key wrapping)
      const s = await webLogin(base, ALICE.uid, ALICE.password);
      for (let i = 0; i < 4; i++) {
        const r = await a(req(base, 'GET', dav(ALICE, `Project/a${i}.txt`), { headers: { cookie: s.cookie } }), 200, 'GET with the web session');
        assert.equal(r.body.toString(), `${MARKER} alice ${i}`);
      }
      // more reads by bob, four at once, should the kernel have given every connection to one worker
      for (let round = 0; round < 8 && (await pidsOf(answers)).size < 2; round++) {
        await Promise.all(Array.from({ length: 4 }, (_, i) => a(req(base, 'GET', dav(BOB, `Project/a${i}.txt`), { headers: { authorization: basic(BOB) } }), 200, `bob GET a${i}`)));
      }
      assert.equal((await pidsOf(answers)).size, 2, 'both workers answered');
      assert.equal(plaintextOnDisk(t.dataDir, MARKER), undefined, 'no plaintext in the data directory');
    });

    test('a WebDAV lock taken through one worker is honoured by the other', async () => {
      await req(base, 'PUT', dav(ADMIN, 'locked.txt'), { headers: { authorization: basic(ADMIN) }, body: 'v1' });
      const lock = await req(base, 'LOCK', dav(ADMIN, 'locked.txt'), {
        headers: { authorization: basic(ADMIN), 'content-type': 'application/xml', timeout: 'Second-600' },
        body: '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>',
      });
      assert.equal(lock.status, 200);
      const token = String(lock.headers['lock-token']);
      // four at once per round, until both workers answered (the kernel may give one a whole burst)
      const refused: Answer[] = [];
      for (let round = 0; round < 8 && (round === 0 || (await pidsOf([lock, ...refused])).size < 2); round++) {
        refused.push(...await Promise.all(Array.from({ length: 4 }, () => req(base, 'PUT', dav(ADMIN, 'locked.txt'), { headers: { authorization: basic(ADMIN) }, body: 'v2' }))));
      }
      assert.deepEqual(refused.map((r) => r.status), refused.map(() => 423));
      assert.equal((await pidsOf([lock, ...refused])).size, 2, 'both workers refused or took the lock');
      const ok = await req(base, 'PUT', dav(ADMIN, 'locked.txt'), { headers: { authorization: basic(ADMIN), if: `(${token})` }, body: 'v3' });
      assert.equal(ok.status, 204);
    });

    test('Login Flow v2: the per-address limit counts the flows started on both workers, and a flow started on one is granted and polled through others', async () => {
      // The kernel picks the worker of each connection and may give one all of a burst: a new
      // client address per round (trusted proxy), until a round's flows were started on both.
      let started: Answer[] = [];
      for (let round = 0; round < 8; round++) {
        const headers = (i: number) => ({ 'user-agent': `flow ${i}`, 'x-forwarded-for': `10.79.${round}.1` });
        started = await Promise.all(Array.from({ length: LOGIN_FLOW_MAX_PER_ADDRESS }, (_, i) => req(base, 'POST', '/index.php/login/v2', { headers: headers(i) })));
        assert.ok(started.every((r) => r.status === 200), `statuses: ${started.map((r) => r.status).join(',')}`);
        // separate memories would allow LOGIN_FLOW_MAX_PER_ADDRESS on each worker
        for (let i = 0; i < 2; i++) assert.equal((await req(base, 'POST', '/index.php/login/v2', { headers: headers(99) })).status, 429);
        if ((await pidsOf(started)).size === 2) break;
      }
      assert.equal((await pidsOf(started)).size, 2, 'flows were started on both workers');
      const s = await webLogin(base, ALICE.uid, ALICE.password);
      // Each flow is granted and polled once; flows are tried until one crossed workers.
      let crossed = false;
      for (const start of started) {
        const flow = JSON.parse(start.body.toString()) as { poll: { token: string }; login: string };
        const grant = await req(base, 'POST', '/index.php/login/v2/grant', {
          headers: { cookie: s.cookie, requesttoken: s.csrfToken, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: flow.login.split('/').pop()! }).toString(),
        });
        assert.equal(grant.status, 200, grant.body.toString());
        const poll = () => req(base, 'POST', '/index.php/login/v2/poll', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: flow.poll.token }).toString() });
        const first = await poll();
        assert.equal(first.status, 200);
        const second = await poll();
        assert.equal(second.status, 404, 'polled once across workers');
        const { appPassword } = JSON.parse(first.body.toString()) as { appPassword: string };
        const use = await req(base, 'PROPFIND', dav(ALICE, ''), { headers: { authorization: basic({ uid: ALICE.uid, password: appPassword }), depth: '0' } });
        assert.equal(use.status, 207);
        if ((await pidsOf([start, grant, first, second])).size === 2) { crossed = true; break; }
      }
      assert.ok(crossed, 'a flow was started, granted or polled on different workers');
    });

    test('maintenance mode switched by ./occ reaches both workers within a second or two', async () => {
      const env = { COFFER_CONFIG: t.configPath };
      assert.equal((await run(OCC, ['maintenance:mode', '--on'], env)).code, 0);
      try {
        await sleep(1500);
        // The kernel picks the worker of each connection and may give one several in a row: four
        // at once per round, until both workers answered (every answer must be 503 anyway).
        const rs: Answer[] = [];
        for (let round = 0; round < 8 && (rs.length === 0 || (await pidsOf(rs)).size < 2); round++) {
          rs.push(...await Promise.all(Array.from({ length: 4 }, () => req(base, 'PROPFIND', dav(ADMIN, ''), { headers: { authorization: basic(ADMIN), depth: '0' } }))));
        }
        assert.deepEqual(rs.map((r) => r.status), rs.map(() => 503));
        assert.equal((await pidsOf(rs)).size, 2, `both workers answered one of ${rs.length} requests`);
      } finally {
        assert.equal((await run(OCC, ['maintenance:mode', '--off'], env)).code, 0);
        await sleep(1500); // even after a failure, so that the next tests do not meet a cached "on"
      }
      assert.equal((await req(base, 'PROPFIND', dav(ADMIN, ''), { headers: { authorization: basic(ADMIN), depth: '0' } })).status, 207);
    });

    test('brute-force counters are shared: one address gets 10 attempts in all, not 10 per worker; the audit log of both holds only whole lines', async () => {
      const attempt = (uid: string, ip: string) => req(base, 'PROPFIND', dav({ uid }, ''), {
        headers: { authorization: basic({ uid, password: 'wrong-password' }), depth: '0', 'x-forwarded-for': ip },
      });
      // One address, 12 attempts at once (different accounts, so only the address counts). The
      // kernel picks the worker of each connection (SCHED_NONE) and may give one all of them: a new
      // address per round, until a round was answered by both workers (each round must hold anyway).
      let rounds = 0;
      let spanned = false;
      while (!spanned && rounds < 8) {
        const sameAddress = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt(`nobody-${i}`, `10.77.${rounds}.1`)));
        rounds++;
        const statuses = sameAddress.map((r) => r.status).sort();
        assert.deepEqual(statuses, [...Array(10).fill(401), 429, 429], 'exactly 10 attempts admitted across both workers');
        spanned = (await pidsOf(sameAddress)).size === 2;
      }
      assert.ok(spanned, `in one of ${rounds} rounds both workers answered`);
      // 24 more from as many addresses: no delay, and many audit lines written at once by both
      let spreadRounds = 0;
      let both = false;
      while (!both && spreadRounds < 8) {
        const spread = await Promise.all(Array.from({ length: 24 }, (_, i) => attempt(`someone-${i}`, `10.78.${spreadRounds}.${i + 1}`)));
        spreadRounds++;
        assert.ok(spread.every((r) => r.status === 401), spread.map((r) => r.status).join(','));
        both = (await pidsOf(spread)).size === 2;
      }
      assert.ok(both, `in one of ${spreadRounds} rounds both workers wrote audit lines`);
      await sleep(300);
      const lines = readFileSync(join(t.dataDir, 'audit.log'), 'utf8').split('\n').filter((l) => l !== '');
      for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not a whole JSON line: ${l.slice(0, 200)}`);
      const events = lines.map((l) => JSON.parse(l) as { event: string; uid?: string });
      assert.equal(events.filter((e) => e.event === 'login.failure' && /^(nobody|someone)-/.test(e.uid ?? '')).length, 10 * rounds + 24 * spreadRounds);
      assert.equal(events.filter((e) => e.event === 'login.throttled' && /^nobody-/.test(e.uid ?? '')).length, 2 * rounds);
    });

    test('a worker SIGKILLed mid-upload is replaced; the other keeps answering; answered writes stay, half-written files never appear', async () => {
      const w = t.workers!;
      const [victim] = w.workerPids();
      assert.ok(victim);
      const auth = basic(ADMIN);
      // two uploads held open half-way (on either worker: the kernel decides)
      const held = [0, 1].map((i) => ({ path: dav(ADMIN, `held-${i}.bin`), body: randomBytes(4 << 20), put: undefined as ReturnType<typeof slowPut> | undefined }));
      for (const h of held) h.put = slowPut(base, h.path, h.body, auth);
      const heldOutcome = held.map((h) => h.put!.answer.then((r) => r.status, () => 'connection lost' as const));
      // and a burst of small uploads across the kill
      const small = Array.from({ length: 30 }, (_, i) => ({ path: dav(ADMIN, `burst-${i}.txt`), body: `burst ${i} ${randomBytes(8).toString('hex')}` }));
      const burst = small.map(async (s, i) => {
        await sleep(i * 15);
        return req(base, 'PUT', s.path, { headers: { authorization: auth }, body: s.body }).then((r) => r.status, () => 'connection lost' as const);
      });
      await sleep(200);
      process.kill(victim, 'SIGKILL');
      await sleep(100);
      for (const h of held) h.put!.finish();
      const heldStatus = await Promise.all(heldOutcome);
      const burstStatus = await Promise.all(burst);
      // the server kept answering: most of the burst went through (the held uploads may both have
      // been on the victim: the kernel, not the primary, picks the worker)
      assert.ok(burstStatus.filter((s) => s === 201).length >= small.length / 2, `burst: ${burstStatus.join(', ')}`);
      // a replacement worker comes up
      // (a worker needs several seconds to start on a loaded machine)
      for (let i = 0; i < 1200 && w.workerPids().length < 3; i++) await sleep(100);
      assert.equal(w.workerPids().length, 3, `a third worker was started; server log:\n${w.served.stderr().split('\n').filter((l) => !l.includes('"request"')).slice(-30).join('\n')}`);
      assert.match(w.served.stderr(), /worker died; starting another/);
      for (const [i, h] of held.entries()) {
        const r = await req(base, 'GET', h.path, { headers: { authorization: auth } });
        if (heldStatus[i] === 201) assert.ok(r.status === 200 && r.body.equals(h.body), `answered upload ${h.path} lost: ${r.status}`);
        else assert.ok(r.status === 404 || (r.status === 200 && r.body.equals(h.body)), `interrupted upload ${h.path}: ${r.status}, ${r.body.length} bytes`);
      }
      for (const [i, s] of small.entries()) {
        const r = await req(base, 'GET', s.path, { headers: { authorization: auth } });
        if (burstStatus[i] === 201) assert.equal(r.body.toString(), s.body, `answered write ${s.path} lost (${r.status})`);
        else assert.ok(r.status === 404 || r.body.toString() === s.body, `${s.path}: ${r.status} ${r.body.toString()}`);
      }
      // both workers (the survivor and the replacement) answer
      const after: Answer[] = [];
      for (let i = 0; i < 6; i++) after.push(await req(base, 'PROPFIND', dav(ADMIN, ''), { headers: { authorization: auth, depth: '0' } }));
      assert.deepEqual(after.map((r) => r.status), Array(6).fill(207));
      const pids = await pidsOf(after);
      assert.equal(pids.size, 2);
      assert.ok(!pids.has(victim));
    });

    test('SIGTERM drains: an upload in flight is answered, then the primary and every worker exit 0', async () => {
      const w = t.workers!;
      const body = randomBytes(2 << 20);
      const p = slowPut(base, dav(ADMIN, 'drained.bin'), body, basic(ADMIN));
      await sleep(300);
      w.served.child.kill('SIGTERM');
      await sleep(500);
      p.finish();
      assert.equal((await p.answer).status, 201);
      const exit = await w.served.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
      for (const pid of w.workerPids()) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} still runs`);
      assert.match(w.served.stderr(), /draining the workers/);
    });
  });
}
