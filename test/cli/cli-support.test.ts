import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CliError, EXIT, confirm, exitCodeFor, formatData } from '../../src/cli/cli-support.ts';
import { openApp, type App } from '../../src/app.ts';
import { configSchema, newInstanceId, newSecret } from '../../src/config/config.ts';
import { AlreadyExistsError, ConfigError, ConflictError, CryptoError, ForbiddenError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { silentLogger } from '../../src/logger.ts';
import { MaintenanceState, guardMaintenance } from '../../src/setup/maintenance.ts';
import { AppConfigRepository } from '../../src/db/app-config.ts';
import type { HttpContext, Route } from '../../src/http/context.ts';

describe('cli-support', () => {
  test('exit codes by error kind', () => {
    assert.equal(exitCodeFor(new Error('x')), EXIT.FAILURE);
    assert.equal(exitCodeFor(new ValidationError()), EXIT.USAGE);
    assert.equal(exitCodeFor(new ConfigError('not installed')), EXIT.NOT_INSTALLED);
    assert.equal(exitCodeFor(new NotFoundError()), EXIT.NOT_FOUND);
    assert.equal(exitCodeFor(new ConflictError()), EXIT.REFUSED);
    assert.equal(exitCodeFor(new AlreadyExistsError()), EXIT.REFUSED);
    assert.equal(exitCodeFor(new ForbiddenError()), EXIT.REFUSED);
    assert.equal(exitCodeFor(new CryptoError('tag-mismatch', 'bad tag')), EXIT.INTEGRITY);
    assert.equal(exitCodeFor(new CliError('x', 42)), 42);
  });

  test('printData formats: json, json_pretty, plain lists and tables', () => {
    const data = { installed: true, version: '30.0.0.0', edition: '', nested: { a: 1, b: null } };
    assert.equal(formatData(data, 'json'), JSON.stringify(data) + '\n');
    assert.deepEqual(JSON.parse(formatData(data, 'json_pretty')), data);
    assert.equal(formatData(data, 'plain'), ' - installed: true\n - version: 30.0.0.0\n - edition:\n - nested:\n     - a: 1\n     - b:\n');
    assert.equal(formatData([{ uid: 'alice', admin: true }, { uid: 'bob', admin: false }], 'plain'),
      '+-------+-------+\n| uid   | admin |\n+-------+-------+\n| alice | true  |\n| bob   | false |\n+-------+-------+\n');
    assert.equal(formatData(['a', 'b'], 'plain'), ' - a\n - b\n');
    assert.equal(formatData('x', 'plain'), 'x\n');
  });

  test('confirm without interaction returns the default', async () => {
    assert.equal(await confirm('Really?', { noInteraction: true }), false);
    assert.equal(await confirm('Really?', { noInteraction: true, defaultYes: true }), true);
  });
});

describe('maintenance mode', () => {
  let dir: string;
  let app: App;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    const cfg = configSchema.parse({ installed: true, instanceid: newInstanceId(), secret: newSecret(), datadirectory: join(dir, 'data'), database: { type: 'sqlite', path: join(dir, 'db.sqlite') } });
    app = await openApp(Object.freeze(cfg), { logger: silentLogger() });
  });
  after(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }); });

  test('MaintenanceState caches a read for at most a second, then sees another process\'s change', async () => {
    let now = 1_000_000;
    // two processes: two settings caches over one database
    const mine = new MaintenanceState(new AppConfigRepository(app.db, { now: () => now }));
    const other = new MaintenanceState(new AppConfigRepository(app.db, { now: () => now }));
    assert.equal(await mine.isOn(), false);
    await other.set(true);
    now += 500;
    assert.equal(await mine.isOn(), false, 'cached');
    now += 600;
    assert.equal(await mine.isOn(), true, 'after a second');
    await mine.set(false);
    assert.equal(await mine.isOn(), false, 'own change at once');
    assert.equal(await app.appConfig.get('core', 'maintenance'), '0');
  });

  test('guardMaintenance answers 503 on guarded routes and leaves /status.php open', async () => {
    const ok = async (_req: unknown, res: import('node:http').ServerResponse) => { res.end('ok'); };
    const routes: Route[] = guardMaintenance([{ prefix: '/remote.php/webdav', handler: ok }, { prefix: '/status.php', handler: ok, exact: true }]);
    const server = createServer((req, res) => {
      const r = routes.find((x) => req.url!.startsWith(x.prefix))!;
      void r.handler(req, res, { app } as HttpContext);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = (p: string) => new Promise<number>((resolve, reject) => request(base + p, { agent: false }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end());
    try {
      assert.equal(await get('/remote.php/webdav/x'), 200);
      await app.maintenance.set(true);
      assert.equal(await get('/remote.php/webdav/x'), 503);
      assert.equal(await get('/status.php'), 200);
      await app.maintenance.set(false);
      assert.equal(await get('/remote.php/webdav/x'), 200);
    } finally {
      server.close();
    }
  });
});
