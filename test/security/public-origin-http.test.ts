/**
 * The public origin, HSTS and the request log: URLs, the link-password cookie's Secure flag
 * and HSTS follow the public origin (src/http/public-origin.ts) — the TLS proxy's scheme and host
 * when the peer is a trusted proxy, overwriteprotocol/overwritehost, else the socket; link and login
 * tokens never reach the request log. Real HTTP(S) on loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ADMIN, startTestInstance, type TestInstance } from '../support/test-instance.ts';

const PROXY = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'cloud.example.org' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function startFlow(t: TestInstance, headers: Record<string, string>): Promise<{ poll: { endpoint: string }; login: string }> {
  const r = await fetch(`${t.url}/login/v2`, { method: 'POST', headers });
  assert.equal(r.status, 200);
  return r.json();
}

/** A password-protected link share of alice's Docs; returns its token and URL. */
async function linkShare(t: TestInstance, headers: Record<string, string> = {}): Promise<{ token: string; url: string }> {
  const r = await t.fetch('/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json', {
    method: 'POST', headers: { ...FORM, 'OCS-APIREQUEST': 'true', ...headers },
    body: new URLSearchParams({ path: '/Docs', shareType: '3', password: 'link-password-1' }).toString(),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return { token: body.ocs.data.token, url: body.ocs.data.url };
}

async function unlockLink(t: TestInstance, token: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(`${t.url}/s/${token}`, { method: 'POST', redirect: 'manual', headers: { ...FORM, ...headers }, body: 'password=link-password-1' });
  assert.equal(r.status, 303);
  return r.headers.getSetCookie().find((c) => c.startsWith('coffer_link_'))!;
}

describe('behind a trusted TLS proxy', { timeout: 60_000 }, () => {
  let t: TestInstance;
  before(async () => {
    t = await startTestInstance({ config: { trustedProxies: ['127.0.0.1'] } });
    await t.app.files.mkdir(ADMIN.uid, 'Docs');
  });
  after(async () => { await t?.stop(); });

  test('Login Flow v2 URLs, share URLs and the link cookie use the proxy\'s https and host', async () => {
    const flow = await startFlow(t, PROXY);
    assert.equal(flow.poll.endpoint, 'https://cloud.example.org/login/v2/poll');
    assert.match(flow.login, /^https:\/\/cloud\.example\.org\/login\/v2\/flow\/[A-Za-z0-9_-]+$/);
    const link = await linkShare(t, PROXY);
    assert.equal(link.url, `https://cloud.example.org/s/${link.token}`);
    assert.match(await unlockLink(t, link.token, PROXY), /; Secure/);
    const r = await fetch(`${t.url}/status.php`, { headers: PROXY });
    assert.equal(r.headers.get('strict-transport-security'), null, 'HSTS behind a proxy only when the config asks');
    await r.arrayBuffer();
  });

  test('a request that did not come through TLS stays http (X-Forwarded-Proto: http)', async () => {
    const flow = await startFlow(t, { 'x-forwarded-proto': 'http' });
    assert.equal(flow.poll.endpoint, `${t.url}/login/v2/poll`);
    const junk = await startFlow(t, { 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'evil.example/"><script>' });
    assert.equal(junk.poll.endpoint, `${t.url}/login/v2/poll`, 'unknown schemes and malformed hosts are ignored');
  });
});

describe('trustedProxies takes CIDR ranges, as Nextcloud\'s trusted_proxies', { timeout: 60_000 }, () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance({ config: { trustedProxies: ['10.0.0.0/8', '127.0.0.0/8'] } }); });
  after(async () => { await t?.stop(); });

  test('a peer inside a trusted range is believed', async () => {
    const flow = await startFlow(t, PROXY);
    assert.equal(flow.poll.endpoint, 'https://cloud.example.org/login/v2/poll');
  });
});

describe('a trusted range that does not hold the peer trusts nothing', { timeout: 60_000 }, () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance({ config: { trustedProxies: ['10.0.0.0/8', '::1/128', 'not-an-address'] } }); });
  after(async () => { await t?.stop(); });

  test('X-Forwarded-Proto from 127.0.0.1 is ignored', async () => {
    const flow = await startFlow(t, PROXY);
    assert.equal(flow.poll.endpoint, `${t.url}/login/v2/poll`);
  });
});

describe('forwarded headers from an untrusted peer are ignored', { timeout: 60_000 }, () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); await t.app.files.mkdir(ADMIN.uid, 'Docs'); });
  after(async () => { await t?.stop(); });

  test('URLs and cookies follow the socket', async () => {
    const flow = await startFlow(t, PROXY);
    assert.equal(flow.poll.endpoint, `${t.url}/login/v2/poll`);
    const link = await linkShare(t, PROXY);
    assert.equal(link.url, `${t.url}/s/${link.token}`);
    assert.doesNotMatch(await unlockLink(t, link.token, PROXY), /Secure/);
  });
});

describe('overwriteprotocol / overwritehost, HSTS behind a proxy, and the request log', { timeout: 60_000 }, () => {
  let t: TestInstance;
  const lines: string[] = [];
  before(async () => {
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    t = await startTestInstance({
      config: { overwriteprotocol: 'https', overwritehost: 'files.example.net', hsts: { maxAge: 31536000, includeSubDomains: true, behindProxy: true } },
      logger: pino({ level: 'info' }, sink),
    });
    await t.app.files.mkdir(ADMIN.uid, 'Docs');
  });
  after(async () => { await t?.stop(); });

  test('every URL uses the configured scheme and host; HSTS is sent as configured', async () => {
    const flow = await startFlow(t, {});
    assert.equal(flow.poll.endpoint, 'https://files.example.net/login/v2/poll');
    const link = await linkShare(t);
    assert.equal(link.url, `https://files.example.net/s/${link.token}`);
    assert.match(await unlockLink(t, link.token), /; Secure/);
    const r = await fetch(`${t.url}/status.php`);
    assert.equal(r.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
    await r.arrayBuffer();
  });

  test('link and login-flow tokens are redacted in the request log', async () => {
    const link = await linkShare(t);
    for (const p of [`/s/${link.token}`, `/index.php/s/${link.token}/download`]) await (await fetch(`${t.url}${p}`)).arrayBuffer();
    const flow = await startFlow(t, {});
    const loginToken = flow.login.split('/').pop()!;
    await (await fetch(`${t.url}/login/v2/flow/${loginToken}`, { redirect: 'manual' })).arrayBuffer();
    await new Promise((r) => setTimeout(r, 50));
    const log = lines.join('');
    assert.match(log, /"path":"\/s\/\[redacted\]"/);
    assert.match(log, /"path":"\/index.php\/s\/\[redacted\]\/download"/);
    assert.match(log, /"path":"\/login\/v2\/flow\/\[redacted\]"/);
    assert.ok(!log.includes(link.token), 'the link token is not in the log');
    assert.ok(!log.includes(loginToken), 'the login token is not in the log');
  });
});

describe('direct TLS', { timeout: 60_000 }, () => {
  let t: TestInstance;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    t = await startTestInstance({ tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } });
  });
  after(async () => { await t?.stop(); rmSync(dir, { recursive: true, force: true }); });

  test('every response carries Strict-Transport-Security; Login Flow URLs are https', async () => {
    const get = (path: string, method = 'GET') => new Promise<{ status: number; hsts: unknown; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${t.url}${path}`, { method, rejectUnauthorized: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode!, hsts: res.headers['strict-transport-security'], body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.ok(t.url.startsWith('https://'));
    for (const p of ['/status.php', '/login', '/no/such/path']) {
      const r = await get(p);
      assert.equal(r.hsts, 'max-age=15552000', p);
    }
    const flow = await get('/login/v2', 'POST');
    assert.equal(JSON.parse(flow.body).poll.endpoint, `${t.url}/login/v2/poll`);
  });
});
