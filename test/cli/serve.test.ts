import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { installSqlite, occ, OCC, spawnServer, tempInstance } from './occ-harness.ts';

const inst = tempInstance();
before(async () => { await installSqlite(inst); });
after(() => inst.cleanup());

function http(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('serve --port 0 prints its URL, serves status.php; maintenance mode → 503 for DAV, status.php says so; SIGTERM → exit 0', async () => {
  const s = await spawnServer(OCC, ['serve', '--port', '0'], inst.env);
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // the process spawned is node itself (the wrapper exec'd), so signals reach the server
    assert.match(readFileSync(`/proc/${s.child.pid}/cmdline`, 'utf8'), /node.*(src\/cli\/main\.ts|dist\/cli\/main(\.bundle)?\.js)\0serve/);
    const st = await http(`${s.url}/status.php`);
    assert.equal(st.status, 200);
    assert.equal(JSON.parse(st.body).installed, true);
    assert.equal(JSON.parse(st.body).maintenance, false);

    assert.equal((await occ(['maintenance:mode', '--on'], inst.env)).code, 0);
    await waitFor('status.php maintenance true', async () => JSON.parse((await http(`${s.url}/status.php`)).body).maintenance === true);
    const dav = await http(`${s.url}/remote.php/webdav/`, 'PROPFIND', { Depth: '0', Authorization: 'Basic ' + Buffer.from('admin:admin-secret-1').toString('base64') });
    assert.equal(dav.status, 503);
    assert.match(dav.body, /maintenance/);
    const ocs = await http(`${s.url}/ocs/v2.php/cloud/capabilities?format=json`, 'GET', { 'OCS-APIREQUEST': 'true' });
    assert.equal(ocs.status, 503);

    assert.equal((await occ(['maintenance:mode', '--off'], inst.env)).code, 0);
    await waitFor('status.php maintenance false', async () => JSON.parse((await http(`${s.url}/status.php`)).body).maintenance === false);
    assert.notEqual((await http(`${s.url}/remote.php/webdav/`, 'PROPFIND', { Depth: '0', Authorization: 'Basic ' + Buffer.from('admin:admin-secret-1').toString('base64') })).status, 503);

    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const e = await s.exited;
    assert.equal(e.code, 0, s.stderr());
    assert.ok(Date.now() - t0 < 8000, `SIGTERM took ${Date.now() - t0} ms`);
    await assert.rejects(http(`${s.url}/status.php`), /ECONNREFUSED/);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('SIGKILL kills the server', async () => {
  const s = await spawnServer(OCC, ['serve', '--port', '0'], inst.env);
  assert.equal((await http(`${s.url}/status.php`)).status, 200);
  s.child.kill('SIGKILL');
  const e = await s.exited;
  assert.equal(e.signal, 'SIGKILL');
  await assert.rejects(http(`${s.url}/status.php`), /ECONNREFUSED/);
});

test('serve refuses a port in use (exit 1) and a lone --tls-cert (exit 2)', async () => {
  const s = await spawnServer(OCC, ['serve', '--port', '0'], inst.env);
  try {
    const port = new URL(s.url).port;
    const busy = await occ(['serve', '--port', port], inst.env);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /address already in use/);
    const tls = await occ(['serve', '--port', '0', '--tls-cert', '/nonexistent.pem'], inst.env);
    assert.equal(tls.code, 2);
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

test('SIGTERM lets an in-flight upload finish before the server exits 0', async () => {
  const s = await spawnServer(OCC, ['serve', '--port', '0'], inst.env);
  try {
    const auth = 'Basic ' + Buffer.from('admin:admin-secret-1').toString('base64');
    const done = new Promise<number>((resolve, reject) => {
      const req = request(`${s.url}/remote.php/webdav/inflight.txt`, { method: 'PUT', agent: false, headers: { Authorization: auth, 'Content-Length': '10' } }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on('error', reject);
      req.write('hello');
      setTimeout(() => {
        s.child.kill('SIGTERM');
        setTimeout(() => req.end('world'), 700);
      }, 700);
    });
    const status = await done;
    assert.ok(status === 201 || status === 204, `PUT answered ${status}`);
    assert.equal((await s.exited).code, 0);
    const info = await occ(['info:file', 'admin/files/inflight.txt', '--output=json'], inst.env);
    assert.equal(info.code, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).size, 10);
  } finally {
    s.child.kill('SIGKILL');
  }
});
