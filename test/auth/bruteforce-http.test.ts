/**
 * Brute-force protection over real HTTP (docs/BRUTEFORCE.md): attempts
 * are counted before their check (parallel guesses cannot outrun the count), and an attacker's
 * failures never lock out someone else — valid app passwords, known devices and known addresses
 * get in, the attacked owner on an unknown client is slowed but not refused, spraying from one
 * address is still stopped; the allow-list; `./occ security:bruteforce:*` against the same
 * database the server counts in. 127.0.0.1 is a trusted proxy, so X-Forwarded-For picks the
 * client address of each request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';
import { writeTestConfig } from '../support/test-instance.ts';
import { occ } from '../cli/occ-harness.ts';
import { basic } from './helpers.ts';
import { userActor } from '../../src/actor.ts';

/** Test delays: 50 ms doubling to a 1 s cap (production: 200 ms to 25 s). */
const THROTTLE = { baseDelayMs: 50, maxDelayMs: 1000, maxIpAttempts: 10, maxClientAttempts: 10 };
const ALLOW = ['198.18.0.0/15', '2001:db8:77::/48'];
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'victim', 'sprayed'];
const pw = (uid: string) => `${uid}-correct-password`;
/** A successful web login redirects. */
const REDIRECT = [302, 303];

describe('brute-force protection over HTTP', { timeout: 180_000 }, () => {
  let app: App;
  let srv: RunningServer;
  let url = '';
  let dir = '';
  let configPath = '';

  before(async () => {
    const c = await writeTestConfig();
    ({ dir, configPath } = c);
    const json = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(configPath, JSON.stringify({ ...json, trustedProxies: ['127.0.0.1'], bruteforce: { allowlist: ALLOW } }));
    app = await openApp(loadConfig(configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 }, throttle: THROTTLE });
    for (const uid of USERS) await app.users.create({ uid, password: pw(uid) });
    srv = await startServer(app, { host: '127.0.0.1', port: 0 });
    url = srv.url;
  });
  after(async () => {
    await srv.close(500);
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** PROPFIND on the user's root with Basic credentials from `ip`: status and time taken. */
  async function dav(ip: string, uid: string, password: string): Promise<{ status: number; ms: number; retryAfter: string | null }> {
    const t0 = performance.now();
    const r = await fetch(`${url}/remote.php/dav/files/${uid}/`, { method: 'PROPFIND', headers: { authorization: basic(uid, password), depth: '0', 'x-forwarded-for': ip } });
    await r.arrayBuffer();
    return { status: r.status, ms: performance.now() - t0, retryAfter: r.headers.get('retry-after') };
  }

  /** The web login form from `ip` (with a device cookie if given): status, time of the POST, the device cookie set. */
  async function webLogin(ip: string, uid: string, password: string, device?: string): Promise<{ status: number; ms: number; device?: string }> {
    const page = await fetch(`${url}/login`, { headers: { 'x-forwarded-for': ip } });
    const csrf = /name="requesttoken" value="([^"]+)"/.exec(await page.text())![1]!;
    const nonce = /coffer_login_csrf=([^;]+)/.exec(page.headers.getSetCookie().join('\n'))![1]!;
    const cookie = `coffer_login_csrf=${nonce}${device ? `; coffer_device=${device}` : ''}`;
    const t0 = performance.now();
    const r = await fetch(`${url}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'x-forwarded-for': ip },
      body: new URLSearchParams({ user: uid, password, requesttoken: csrf, redirect_url: '/' }).toString(),
    });
    await r.arrayBuffer();
    const set = r.headers.getSetCookie().find((c) => c.startsWith('coffer_device='));
    return { status: r.status, ms: performance.now() - t0, device: set ? /^coffer_device=([^;]+)/.exec(set)![1] : undefined };
  }

  async function failures(ip: string): Promise<number> {
    let n = 0;
    for await (const e of app.audit.read()) if (e.event === 'login.failure' && e.ip === ip) n++;
    return n;
  }

  test('40 parallel guesses from one address: at most the allowed 10 are checked, the right one among them included', async () => {
    const ip = '192.0.2.40';
    const guesses = Array.from({ length: 40 }, (_, i) => (i === 33 ? pw('alice') : `guess-${i}`));
    const rs = await Promise.all(guesses.map((g) => dav(ip, 'alice', g)));
    const checked = rs.filter((r) => r.status !== 429);
    assert.ok(checked.length <= THROTTLE.maxIpAttempts, `${checked.length} of 40 parallel guesses were checked: ${rs.map((r) => r.status).join(',')}`);
    assert.ok(rs.every((r) => [401, 429, 207].includes(r.status)), rs.map((r) => r.status).join(','));
    assert.ok(rs.filter((r) => r.status === 429).every((r) => Number(r.retryAfter) > 0), 'Retry-After on every 429');
    assert.ok(await failures(ip) <= THROTTLE.maxIpAttempts, 'no more failures than allowed reached the password check');
    assert.notEqual(rs[33]!.status, 401, 'the right password is either refused unchecked (429) or accepted');

    // deterministic: 40 wrong at once from a fresh address, then the right one
    const ip2 = '192.0.2.41';
    const wrong = await Promise.all(Array.from({ length: 40 }, (_, i) => dav(ip2, 'alice', `other-guess-${i}`)));
    assert.equal(wrong.filter((r) => r.status === 401).length, THROTTLE.maxIpAttempts);
    assert.equal(wrong.filter((r) => r.status === 429).length, 40 - THROTTLE.maxIpAttempts);
    assert.equal((await dav(ip2, 'alice', pw('alice'))).status, 429, 'the right password after them is refused unchecked');
  });

  test('40 parallel public-link password guesses: at most 10 are checked', async () => {
    await app.files.ensureHome('alice');
    await app.files.writeFile(userActor('alice', 'password'), 'alice', 'link.txt', Readable.from([Buffer.from('secret content')]), {});
    const s = await app.shares.create(userActor('alice', 'password'), { uid: 'alice', path: 'link.txt', shareType: 3, password: 'Link-Password-123!' });
    const ip = '192.0.2.42';
    const rs = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const r = await fetch(`${url}/s/${s.share.token}`, {
        method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: i === 39 ? 'password=Link-Password-123!' : `password=guess-${i}`,
      });
      await r.arrayBuffer();
      return r.status;
    }));
    const checked = rs.filter((x) => x !== 429);
    assert.ok(checked.length <= THROTTLE.maxIpAttempts, `${checked.length} checked: ${rs.join(',')}`);
    assert.ok(checked.every((x) => x === 403 || x === 303), rs.join(','));
  });

  test('office NAT: an attacker failing from the shared address does not lock out app passwords, known addresses or known devices', async () => {
    const nat = '203.0.113.7';
    // before the attack: carol has used her password from the office, dave logged in to the web UI
    // at home (his browser got a device cookie), bob's sync client has an app password
    assert.equal((await dav(nat, 'carol', pw('carol'))).status, 207);
    const home = await webLogin('192.0.2.80', 'dave', pw('dave'));
    assert.ok(REDIRECT.includes(home.status), String(home.status));
    assert.ok(home.device, 'a successful web login sets the device cookie');
    const { token } = await app.appPasswords.create('bob', 'office sync client');

    // the attacker (or a phone with an old password) fails 12 times from the office address
    const att: number[] = [];
    for (let i = 0; i < 12; i++) att.push((await dav(nat, i % 2 ? 'alice' : `nobody-${i}`, `wrong-${i}`)).status);
    assert.deepEqual(att.slice(0, 10), Array(10).fill(401));
    assert.deepEqual(att.slice(10), [429, 429], 'the address itself is throttled');

    assert.equal((await dav(nat, 'bob', token)).status, 207, 'app password from the office');
    const carol = await dav(nat, 'carol', pw('carol'));
    assert.equal(carol.status, 207, 'a user who logged in from the office before');
    assert.ok(carol.ms < THROTTLE.maxDelayMs, `and without the attacker's delay (${carol.ms.toFixed(0)} ms)`);
    assert.ok(REDIRECT.includes((await webLogin(nat, 'dave', pw('dave'), home.device)).status), 'a known device on the web form');
    // a first-ever login of another user from that address is what spraying looks like: refused
    // until the window passes, an admin resets the address, or the range is allow-listed
    assert.equal((await dav(nat, 'erin', pw('erin'))).status, 429);
  });

  test('attacked account: the owner gets in at once with a known device or an app password, and on a new client slowed but not refused', async () => {
    const home = await webLogin('192.0.2.90', 'victim', pw('victim'));
    assert.ok(REDIRECT.includes(home.status), String(home.status));
    const { token } = await app.appPasswords.create('victim', 'phone');
    // 30 failures from three addresses (10 each: within each address's limit), in parallel
    const attack = await Promise.all(['100.64.1.1', '100.64.2.1', '100.64.3.1'].flatMap((ip) =>
      Array.from({ length: 10 }, (_, i) => dav(ip, 'victim', `guess-${ip}-${i}`))));
    assert.deepEqual(attack.map((r) => r.status), Array(30).fill(401));
    const device = await webLogin('100.64.9.9', 'victim', pw('victim'), home.device);
    assert.ok(REDIRECT.includes(device.status), `known device: in (${device.status})`);
    assert.ok(device.ms < THROTTLE.maxDelayMs, `known device: no delay (${device.ms.toFixed(0)} ms)`);
    const app1 = await dav('100.64.9.10', 'victim', token);
    assert.equal(app1.status, 207, 'app password: in');
    assert.ok(app1.ms < THROTTLE.maxDelayMs, `app password: no delay (${app1.ms.toFixed(0)} ms)`);
    const fresh = await dav('100.64.9.11', 'victim', pw('victim'));
    assert.equal(fresh.status, 207, 'unknown client with the right password: not refused');
    assert.ok(fresh.ms >= THROTTLE.maxDelayMs - 10, `unknown client: slowed (${fresh.ms.toFixed(0)} ms)`);
    // the attacker, from a new address, is still slowed on every guess
    const guess = await dav('100.64.4.1', 'victim', 'another-guess');
    assert.equal(guess.status, 401);
    assert.ok(guess.ms >= THROTTLE.maxDelayMs - 10, `attacker slowed (${guess.ms.toFixed(0)} ms)`);
  });

  test('password spraying across accounts from one address is throttled', async () => {
    const ip = '192.0.2.60';
    for (let i = 0; i < 10; i++) assert.equal((await dav(ip, ['alice', 'bob', 'carol', 'dave', 'erin'][i % 5]!, `spray-${i}`)).status, 401);
    const r = await dav(ip, 'sprayed', pw('sprayed'));
    assert.equal(r.status, 429, 'the next account is refused unchecked, even with its right password');
    assert.ok(Number(r.retryAfter) > 0);
    assert.equal((await dav('192.0.2.61', 'sprayed', pw('sprayed'))).status, 207, 'other addresses are unaffected');
  });

  test('allow-listed ranges (IPv4 and IPv6) are never throttled; others are', async () => {
    for (const ip of ['198.18.5.5', '2001:db8:77:1::5']) {
      let total = 0;
      for (let i = 0; i < 15; i++) {
        const r = await dav(ip, 'alice', `allowed-guess-${i}`);
        assert.equal(r.status, 401, `${ip} attempt ${i}`);
        total += r.ms;
      }
      // throttled, these 15 would wait 50 + 100 + … + 1000 × 9 ms ≈ 10.5 s
      assert.ok(total < 4000, `${ip}: no delays (${total.toFixed(0)} ms for 15 attempts)`);
      assert.equal((await dav(ip, 'erin', pw('erin'))).status, 207, ip);
      assert.equal(await app.throttle.attempts({ ip }), 0, 'nothing counted');
    }
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await dav('198.20.0.1', 'alice', `g-${i}`)).status);
    assert.equal(statuses.at(-1), 429, 'just outside the range: throttled');
  });

  test('./occ security:bruteforce:attempts and :reset see and clear what the server counted', async () => {
    const ip = '192.0.2.99';
    for (let i = 0; i < 3; i++) assert.equal((await dav(ip, `nobody-occ-${i}`, `occ-guess-${i}`)).status, 401);
    let r = await occ(['security:bruteforce:attempts', ip, '--output=json'], { COFFER_CONFIG: configPath });
    assert.equal(r.code, 0, r.stderr);
    // the CLI applies the configured numbers (here the defaults: 200 ms × 2² after 3 failures)
    assert.deepEqual(JSON.parse(r.stdout), { 'address': ip, 'bypass-listed': false, 'attempts': 3, 'delay': 800, 'blocked-for': 0 });
    r = await occ(['security:bruteforce:reset', ip], { COFFER_CONFIG: configPath });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await app.throttle.attempts({ ip }), 0, 'the server sees the reset');
    assert.equal((await dav(ip, 'frank', pw('frank'))).status, 207);
    r = await occ(['security:bruteforce:attempts', 'not-an-address'], { COFFER_CONFIG: configPath });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Not an IP address/);
  });
});
