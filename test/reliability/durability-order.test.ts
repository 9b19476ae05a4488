/**
 * An answered write survives a power cut: every write path runs against a real `./occ serve` under
 * `strace -f -yy`, and the trace must show, for each answered request, every file and folder entry it
 * made fsynced in its folder, every file it wrote fsynced after its last write, and every message to
 * PostgreSQL answered, all before the answer's first byte (see test/support/syscall-order.ts).
 * No power cut can be simulated here (no device-mapper); the order of the calls is what a power cut
 * would test. Plain and encrypted (master key and per-user keys), SQLite and PostgreSQL; the CLI's
 * encrypt-all, decrypt-all and master-key rotation the same way, with the process exit as the answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { writeTestConfig, ADMIN } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { OCC, spawnServer, type Served } from '../cli/occ-harness.ts';
import { openLocal } from './crash-support.ts';
import { durabilityViolations, findRequest, parseTrace, straceArgs, wholeRun, type Call } from '../support/syscall-order.ts';
import { openDatabase } from '../../src/db/database.ts';
import { ACTIVITY_GATHER_MS } from '../../src/activity/activity-recorder.ts';
import { webLogin } from '../support/web-login.ts';

const hasStrace = spawnSync('strace', ['-V']).status === 0;
if (!hasStrace && process.env.CI === 'true') throw new Error('strace is missing (CI installs it: .ci/run)');
const skip = hasStrace ? false : 'strace is not installed (apt-get install strace)';

const basic = (u: { uid: string; password: string }) => 'Basic ' + Buffer.from(`${u.uid}:${u.password}`).toString('base64');
const BOB = { uid: 'bob', password: 'bob-password-123' };

interface Step { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string; expect: number; writes?: 'files' | 'db' }

/** A bulk upload body (POST /remote.php/dav/bulk) of `n` small files under Docs/, as the desktop client frames it. */
function bulkBody(n: number): { boundary: string; body: Buffer } {
  const boundary = 'bulk_durability_7c1e';
  const parts = Array.from({ length: n }, (_, i) => {
    const content = Buffer.from(`bulk file ${i} `.repeat(50));
    const md5 = createHash('md5').update(content).digest('hex');
    const head = `Content-Length: ${content.length}\r\nX-File-MD5: ${md5}\r\nX-File-Mtime: 1700000000\r\nX-File-Path: /Docs/bulk-${i}.txt\r\n`;
    return Buffer.concat([Buffer.from(`--${boundary}\r\n${head}\r\n`), content, Buffer.from('\r\n')]);
  });
  return { boundary, body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]) };
}

/** The write paths of item 1 that exist, as requests (chunked upload included). */
function steps(big: Buffer): Step[] {
  const F = '/remote.php/dav/files/admin';
  const U = '/remote.php/dav/uploads/admin/tx1';
  const ocs = { 'OCS-APIREQUEST': 'true', 'content-type': 'application/x-www-form-urlencoded' };
  // Four parts, still several commits in flight: the activity stream stores the first part's events
  // ACTIVITY_GATHER_MS after its commit, in the background, and a request that outlasted that (20
  // parts under strace did, on a loaded machine) would have that unrelated commit in its window.
  const bulk = bulkBody(4);
  return [
    { method: 'MKCOL', path: `${F}/Docs`, expect: 201, writes: 'db' },
    { method: 'PUT', path: `${F}/Docs/a.txt`, body: 'first version', expect: 201, writes: 'files' },
    { method: 'PUT', path: `${F}/Docs/a.txt`, body: 'second version', expect: 204, writes: 'files' },
    { method: 'PUT', path: `${F}/Docs/big.bin`, body: big, expect: 201, writes: 'files' },
    // bulk upload: its parts commit while the next ones are read; all durable before the answer
    { method: 'POST', path: '/remote.php/dav/bulk', headers: { 'content-type': `multipart/related; boundary=${bulk.boundary}` }, body: bulk.body, expect: 200, writes: 'files' },
    { method: 'MKCOL', path: U, expect: 201, writes: 'db' },
    { method: 'PUT', path: `${U}/00001`, body: big.subarray(0, 1_500_000), expect: 201, writes: 'files' },
    { method: 'PUT', path: `${U}/00002`, body: big.subarray(1_500_000), expect: 201, writes: 'files' },
    { method: 'MOVE', path: `${U}/.file`, headers: { Destination: `${F}/Docs/assembled.bin`, 'OC-Total-Length': String(big.length) }, expect: 201, writes: 'files' },
    {
      method: 'PROPPATCH', path: `${F}/Docs/a.txt`, headers: { 'content-type': 'application/xml' }, expect: 207, writes: 'db',
      body: '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:color>blue</x:color></d:prop></d:set></d:propertyupdate>',
    },
    { method: 'COPY', path: `${F}/Docs/a.txt`, headers: { Destination: `${F}/Docs/b.txt` }, expect: 201, writes: 'db' },
    { method: 'MOVE', path: `${F}/Docs/b.txt`, headers: { Destination: `${F}/Docs/c.txt` }, expect: 201, writes: 'db' },
    { method: 'DELETE', path: `${F}/Docs/c.txt`, expect: 204, writes: 'db' },
    { method: 'LOCK', path: `${F}/Docs/locked.txt`, headers: { 'content-type': 'application/xml', Timeout: 'Second-600' }, expect: 201, writes: 'db',
      body: '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>' },
    { method: 'POST', path: '/ocs/v1.php/cloud/users', headers: ocs, body: new URLSearchParams({ userid: BOB.uid, password: BOB.password }).toString(), expect: 200, writes: 'db' },
    { method: 'POST', path: '/ocs/v2.php/apps/files_sharing/api/v1/shares', headers: ocs, body: new URLSearchParams({ path: '/Docs', shareType: '0', shareWith: BOB.uid, permissions: '31' }).toString(), expect: 200, writes: 'db' },
  ];
}

/**
 * Sends the steps one by one (as admin) and checks each answer's status. After each, waits until
 * the activity stream has stored that step's events (gathered ACTIVITY_GATHER_MS, then committed in
 * the background, not before the answer): a background commit inside the next step's window would
 * otherwise look like a write of that step left unflushed at its answer.
 */
async function run(url: string, list: Step[]): Promise<void> {
  for (const s of list) {
    const r = await fetch(url + s.path, { method: s.method, headers: { authorization: basic(ADMIN), ...s.headers }, body: s.body as BodyInit | undefined });
    await r.arrayBuffer();
    assert.equal(r.status, s.expect, `${s.method} ${s.path}`);
    await sleep(ACTIVITY_GATHER_MS + 300);
  }
}

/** The web UI's login and two writes through its API (session cookie + request token). */
async function webWrites(url: string): Promise<Step[]> {
  const { loginStatus, cookie, csrfToken } = await webLogin(url, ADMIN.uid, ADMIN.password);
  const h = { cookie, requesttoken: csrfToken };
  const mk = await fetch(`${url}/web/api/files/mkdir`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: JSON.stringify({ path: 'WebDocs' }) });
  assert.equal(mk.status, 201);
  await sleep(ACTIVITY_GATHER_MS + 300); // as in run()
  const up = await fetch(`${url}/web/api/files/upload?path=${encodeURIComponent('/WebDocs/w.txt')}`, { method: 'PUT', headers: h, body: 'from the web ui' });
  assert.ok(up.status === 201 || up.status === 200, `web upload ${up.status}`);
  return [
    { method: 'POST', path: '/login', expect: loginStatus, writes: 'db' },
    { method: 'POST', path: '/web/api/files/mkdir', expect: 201, writes: 'db' },
    { method: 'PUT', path: '/web/api/files/upload', expect: up.status, writes: 'files' },
  ];
}

/** Checks every step's trace segment; returns a line per request for the message. */
function check(calls: Call[], list: Step[], root: string, db: 'sqlite' | 'pgsql'): void {
  const counts = new Map<string, number>();
  for (const s of list) {
    const key = `${s.method} ${s.path}`;
    const n = counts.get(key) ?? 0;
    counts.set(key, n + 1);
    const a = findRequest(calls, s.method, s.path, n);
    assert.equal(a.status, s.expect, key);
    const r = durabilityViolations(calls, a, { root });
    assert.deepEqual(r.violations, [], `${key}: ${r.violations.join('; ')}`);
    // the request did reach the disk or the database, else the check above proved nothing
    if (db === 'sqlite') assert.ok(r.written.some((p) => p.endsWith('.db-wal')), `${key} committed nothing to SQLite's WAL`);
    else assert.ok(r.dbSockets.length > 0, `${key} sent nothing to PostgreSQL`);
    if (s.writes === 'files') assert.ok(r.created.some((p) => /\/blobs\//.test(p)), `${key} made no blob`);
  }
}

for (const db of ['sqlite', 'pgsql'] as const) {
  for (const mode of ['plain', 'master', 'per-user'] as const) {
    if (db === 'pgsql' && mode === 'plain') continue; // the database path is the same for both codecs
    describe(`answered writes are durable before the answer (${db}, ${mode})`, { skip, timeout: 300_000 }, () => {
      let dir = '';
      let configPath = '';
      let drop: () => Promise<void> = async () => {};
      let server: Served | undefined;
      const traceFile = () => join(dir, 'serve.trace');

      before(async () => {
        ({ dir, configPath, drop } = await writeTestConfig({ db }));
        const app = await openLocal(configPath);
        await app.users.create({ uid: ADMIN.uid, password: ADMIN.password, isAdmin: true });
        if (mode !== 'plain') await enableEncryption({ app, configPath });
        if (mode === 'per-user') await app.userKeys.setPerUserMode(true, 0);
        await app.close();
        server = await spawnServer('strace', [...straceArgs(traceFile()), OCC, 'serve', '--port', '0'], { COFFER_CONFIG: configPath }, { timeoutMs: 120_000 });
      });
      after(async () => {
        if (server && server.child.exitCode === null) { server.child.kill('SIGKILL'); await server.exited; }
        await drop();
        rmSync(dir, { recursive: true, force: true });
      });

      test('every write path: entries, files and commits on stable storage before the answer', async () => {
        const big = randomBytes(3_000_000);
        const list = steps(big);
        await run(server!.url, list);
        list.push(...await webWrites(server!.url));
        // stop the server (SIGTERM to node, strace's child) so that the whole trace is written
        spawnSync('pkill', ['-TERM', '-P', String(server!.child.pid)]);
        await server!.exited;
        const calls = parseTrace(readFileSync(traceFile(), 'utf8'));
        check(calls, list, dir, db);
      });

      if (db === 'sqlite' && mode === 'plain') {
        test('./occ encryption:rotate-master-key, encrypt-all and decrypt-all: key files and batch commits durable before exit', async () => {
          const app = await openLocal(configPath);
          await enableEncryption({ app, configPath });
          await app.close();
          const env: NodeJS.ProcessEnv = { ...process.env, COFFER_CONFIG: configPath };
          delete env.NODE_OPTIONS;
          delete env.NODE_TEST_CONTEXT;
          for (const args of [['encryption:rotate-master-key', '-n'], ['encryption:encrypt-all', '-n'], ['encryption:decrypt-all', '-n']]) {
            const out = join(dir, `${args[0]!.replace(':', '-')}.trace`);
            const r = spawnSync('strace', [...straceArgs(out), OCC, ...args], { env, encoding: 'utf8', timeout: 120_000 });
            assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
            const calls = parseTrace(readFileSync(out, 'utf8'));
            const res = durabilityViolations(calls, wholeRun(calls), { root: dir });
            assert.deepEqual(res.violations, [], `${args[0]}: ${res.violations.join('; ')}`);
            if (args[0] === 'encryption:rotate-master-key') {
              assert.ok(res.created.some((p) => p.includes('files_encryption')), 'the rotation wrote no key file');
            } else {
              assert.ok(res.created.filter((p) => /\/blobs\/.+\/.+\//.test(p)).length >= 4, `${args[0]} wrote no blob`);
            }
          }
        });
      }
    });
  }
}

describe('PostgreSQL: our connections commit synchronously whatever the server default', { timeout: 60_000 }, () => {
  test('synchronous_commit is on for Coffer even where the database default is off', async () => {
    const name = `coffer_t_sync_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
      const other = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: name });
      await other.connect();
      assert.equal((await other.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'off', 'the database default is off');
      await other.end();
      const { db } = openDatabase({ type: 'pgsql', host: '127.0.0.1', port: 5432, name, user: 'postgres', password: '' });
      const { sql } = await import('kysely');
      const r = await sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(db);
      assert.equal(r.rows[0]!.synchronous_commit, 'on');
      await db.destroy();
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    }
  });
});

