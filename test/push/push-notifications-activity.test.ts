/**
 * notify_notification and notify_activity with real sources, over real WebSockets and HTTP on
 * loopback: a share created for a user (user and group shares) and `./occ notification:generate`
 * (a real ./occ process; it reaches the server through Redis, skipped without one unless CI=true)
 * notify within 1 s; a file changed by another user in a share sends notify_activity within 1 s;
 * the notifications API (list with ETag/304, get, delete, delete all; JSON and XML, v1 and v2) and
 * the activity API v2 (filters, since, limit, object) return the expected rows, and never another
 * user's.
 */
import { SYSTEM } from '../../src/actor.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { RedisClient } from '../../src/redis/redis-client.ts';
import type { RedisChangeBus } from '../../src/push/redis-change-bus.ts';
import { PushClient } from './push-client.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';

const OCC = fileURLToPath(new URL('../../occ', import.meta.url));
const REDIS = { host: process.env.COFFER_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.COFFER_REDIS_PORT ?? 6379) };
const probe = new RedisClient(REDIS, { instanceId: 'probe' + randomBytes(3).toString('hex') });
const problems = await probe.check();
await probe.close();
const NO_REDIS = problems.length && process.env.CI !== 'true' ? `no Redis at ${REDIS.host}:${REDIS.port}: ${problems.join('; ')}` : false;

const BOB = { uid: 'bob', password: 'bob-password-123' };
const CAROL = { uid: 'carol', password: 'carol-password-123' };
const DAVE = { uid: 'dave', password: 'dave-password-123' };
type User = typeof BOB;

interface Notification { notification_id: number; app: string; user: string; object_type: string; object_id: string; subject: string; message: string; datetime: string }
interface Activity { activity_id: number; type: string; user: string; affecteduser: string; subject: string; subject_rich: [string, Record<string, { type: string; id: string; name: string }>]; object_id: number; object_name: string; app: string }

const ocs = (t: TestInstance, as: User, method: string, path: string, headers: Record<string, string> = {}) =>
  t.fetch(`/ocs/v2.php/${path}${path.includes('?') ? '&' : '?'}format=json`, { method, as, headers: { 'OCS-APIREQUEST': 'true', ...headers } });

async function notificationsOf(t: TestInstance, as: User): Promise<Notification[]> {
  const r = await ocs(t, as, 'GET', 'apps/notifications/api/v2/notifications');
  assert.equal(r.status, 200);
  return ((await r.json()) as { ocs: { data: Notification[] } }).ocs.data;
}

async function activitiesOf(t: TestInstance, as: User, query = '', filter = 'all'): Promise<Activity[]> {
  const r = await ocs(t, as, 'GET', `apps/activity/api/v2/activity/${filter}${query ? `?${query}` : ''}`);
  if (r.status === 304) return [];
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { ocs: { data: Activity[] } }).ocs.data;
}

/** Runs ./occ against the instance's config; resolves with its exit code and output. */
function occ(t: TestInstance, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(OCC, args, { env: { ...process.env, COFFER_CONFIG: t.configPath } });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += c; });
    p.stderr.on('data', (c: Buffer) => { out += c; });
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

const within = async (client: PushClient, message: string, change: () => Promise<unknown>): Promise<number> => {
  const waiting = client.next((m) => m === message, 1000);
  const t0 = performance.now();
  await change();
  await waiting;
  return performance.now() - t0;
};

for (const db of ['sqlite', 'pgsql'] as const) describe(`notifications and activity: sources, push and the OCS APIs (${db})`, { timeout: 120_000 }, () => {
  let t: TestInstance;
  let wsUrl: string;
  const app: Record<string, string> = {};

  before(async () => {
    t = await startTestInstance({ db, push: { pingIntervalMs: 5000, tickMs: 50 }, ...(NO_REDIS ? {} : { config: { redis: REDIS } }) });
    if (!NO_REDIS) await (t.app.changeBus as RedisChangeBus).ready();
    for (const u of [BOB, CAROL, DAVE]) {
      await t.addUser(u.uid, u.password);
      app[u.uid] = (await t.app.appPasswords.create(u.uid, 'push test')).token;
    }
    await t.app.groups.create('team', 'Team');
    await t.app.groups.addUser('team', CAROL.uid);
    await t.app.groups.addUser('team', DAVE.uid);
    await t.app.files.mkdir(BOB.uid, 'Shared');
    await t.app.files.mkdir(BOB.uid, 'ForTeam');
    const caps = await (await t.fetch('/ocs/v2.php/cloud/capabilities?format=json')).json() as
      { ocs: { data: { capabilities: { notify_push: { endpoints: { websocket: string } }; notifications: { 'ocs-endpoints': string[] }; activity: { apiv2: string[] } } } } };
    wsUrl = caps.ocs.data.capabilities.notify_push.endpoints.websocket;
    assert.deepEqual(caps.ocs.data.capabilities.notifications['ocs-endpoints'], ['list', 'get', 'delete', 'delete-all']);
    assert.ok(caps.ocs.data.capabilities.activity.apiv2.includes('filters'));
  });
  after(async () => {
    const c = t.app.redis;
    if (c) { const keys = await c.redis.keys(`${c.prefix}*`); if (keys.length) await c.redis.del(...keys); }
    await t.stop();
  });

  test('a user share over OCS notifies the recipient (notify_notification within 1 s) and lists "bob shared … with you"', async (ctx) => {
    const carol = await PushClient.login(wsUrl, CAROL.uid, app.carol!);
    const dave = await PushClient.login(wsUrl, DAVE.uid, app.dave!);
    try {
      const ms = await within(carol, 'notify_notification', async () => {
        const r = await t.fetch('/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json', {
          method: 'POST', as: BOB, headers: { 'OCS-APIREQUEST': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ path: '/Shared', shareType: '0', shareWith: CAROL.uid, permissions: '31' }).toString(),
        });
        assert.equal(r.status, 200, await r.clone().text());
      });
      assert.ok(ms < 1000, `${ms} ms`);
      ctx.diagnostic(`notify_notification ${Math.round(ms)} ms after the share request was sent`);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(dave.messages.filter((m) => m === 'notify_notification'), [], 'not to another user');
    } finally { carol.close(); dave.close(); }
    const list = await notificationsOf(t, CAROL);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.subject, 'bob shared Shared with you');
    assert.equal(list[0]!.app, 'files_sharing');
    assert.equal(list[0]!.user, CAROL.uid);
    assert.equal(list[0]!.object_type, 'share');
    assert.match(list[0]!.datetime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.deepEqual(await notificationsOf(t, BOB), [], 'the sharer gets none');
  });

  test('a group share notifies every member', async () => {
    const carol = await PushClient.login(wsUrl, CAROL.uid, app.carol!);
    const dave = await PushClient.login(wsUrl, DAVE.uid, app.dave!);
    try {
      const waits = [carol, dave].map((c) => c.next((m) => m === 'notify_notification', 1000));
      await t.app.shares.create(SYSTEM, { uid: BOB.uid, path: 'ForTeam', shareType: 1, shareWith: 'team', permissions: 31 });
      await Promise.all(waits);
    } finally { carol.close(); dave.close(); }
    assert.deepEqual((await notificationsOf(t, DAVE)).map((n) => n.subject), ['bob shared ForTeam with group team']);
    assert.deepEqual((await notificationsOf(t, CAROL)).map((n) => n.subject), ['bob shared ForTeam with group team', 'bob shared Shared with you']);
  });

  test('get, ETag/304, XML and v1, delete one, someone else\'s id is a 404, delete all', async () => {
    const [newest, older] = await notificationsOf(t, CAROL);
    const one = await ocs(t, CAROL, 'GET', `apps/notifications/api/v2/notifications/${older!.notification_id}`);
    assert.equal(one.status, 200);
    assert.equal(((await one.json()) as { ocs: { data: Notification } }).ocs.data.subject, 'bob shared Shared with you');

    const first = await ocs(t, CAROL, 'GET', 'apps/notifications/api/v2/notifications');
    const etag = first.headers.get('etag');
    assert.ok(etag);
    const again = await ocs(t, CAROL, 'GET', 'apps/notifications/api/v2/notifications', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');

    const xml = await t.fetch('/ocs/v1.php/apps/notifications/api/v1/notifications', { as: CAROL });
    assert.equal(xml.status, 200);
    const body = await xml.text();
    assert.match(body, /<statuscode>100<\/statuscode>/);
    assert.match(body, new RegExp(`<notification_id>${newest!.notification_id}</notification_id>`));

    // another user's notification: invisible, and not deletable
    assert.equal((await ocs(t, DAVE, 'GET', `apps/notifications/api/v2/notifications/${older!.notification_id}`)).status, 404);
    assert.equal((await ocs(t, DAVE, 'DELETE', `apps/notifications/api/v2/notifications/${older!.notification_id}`)).status, 404);
    assert.equal((await ocs(t, DAVE, 'DELETE', 'apps/notifications/api/v2/notifications/99999999')).status, 404);
    assert.equal((await notificationsOf(t, CAROL)).length, 2, 'still there');

    // CSRF: a DELETE without OCS-APIREQUEST changes nothing
    const csrf = await t.fetch(`/ocs/v2.php/apps/notifications/api/v2/notifications/${older!.notification_id}`, { method: 'DELETE', as: CAROL });
    assert.equal(csrf.status, 412);
    assert.equal((await ocs(t, CAROL, 'DELETE', `apps/notifications/api/v2/notifications/${older!.notification_id}`)).status, 200);
    assert.deepEqual((await notificationsOf(t, CAROL)).map((n) => n.notification_id), [newest!.notification_id]);
    assert.notEqual((await ocs(t, CAROL, 'GET', 'apps/notifications/api/v2/notifications', { 'If-None-Match': etag })).status, 304, 'the ETag changed');

    assert.equal((await ocs(t, DAVE, 'DELETE', 'apps/notifications/api/v2/notifications')).status, 200);
    assert.deepEqual(await notificationsOf(t, DAVE), []);
    assert.equal((await notificationsOf(t, CAROL)).length, 1, 'dave\'s delete-all left carol\'s');
    assert.equal((await ocs(t, CAROL, 'GET', 'apps/notifications/api/v2/notifications/abc')).status, 404);
    assert.equal((await t.fetch('/ocs/v2.php/apps/notifications/api/v2/notifications', { headers: { authorization: '' } })).status, 401);
  });

  test('./occ notification:generate notifies the user within 1 s (through Redis) and stores the message', { skip: NO_REDIS }, async (ctx) => {
    const dave = await PushClient.login(wsUrl, DAVE.uid, app.dave!);
    let occMs = 0;
    try {
      const waiting = dave.next((m) => m === 'notify_notification', 1000 + 30_000);
      const r = await occ(t, ['notification:generate', '-l', 'Maintenance tonight from 22:00 to 23:00.', DAVE.uid, 'Server maintenance']);
      assert.equal(r.code, 0, r.out);
      const t0 = performance.now();
      await waiting;
      occMs = performance.now() - t0;
    } finally { dave.close(); }
    assert.ok(occMs < 1000, `${occMs} ms after ./occ exited`);
    ctx.diagnostic(`notify_notification ${Math.round(occMs)} ms after ./occ exited`);
    const [n] = await notificationsOf(t, DAVE);
    assert.equal(n!.subject, 'Server maintenance');
    assert.equal(n!.message, 'Maintenance tonight from 22:00 to 23:00.');
    assert.equal(n!.app, 'admin_notifications');
  });

  test('./occ notification:generate refuses an unknown user and an empty or too long message, storing nothing', async () => {
    assert.equal((await occ(t, ['notification:generate', 'nobody', 'hello'])).code, 4);
    assert.equal((await occ(t, ['notification:generate', DAVE.uid, '   '])).code, 2);
    assert.equal((await occ(t, ['notification:generate', DAVE.uid, 'x'.repeat(256)])).code, 2);
    assert.equal((await occ(t, ['notification:generate', '-l', 'y'.repeat(4001), DAVE.uid, 'ok'])).code, 2);
    const subjects = (await notificationsOf(t, DAVE)).map((n) => n.subject);
    assert.ok(!subjects.includes('hello') && !subjects.includes('ok'), subjects.join(', '));
  });

  test('a file changed by the sharee sends notify_activity to the owner within 1 s; each sees it in their own view', async (ctx) => {
    const bob = await PushClient.login(wsUrl, BOB.uid, app.bob!);
    const dave = await PushClient.login(wsUrl, DAVE.uid, app.dave!);
    try {
      const ms = await within(bob, 'notify_activity', async () => {
        const r = await t.fetch('/remote.php/dav/files/carol/Shared/from-carol.txt', { method: 'PUT', as: CAROL, body: 'hello' });
        assert.equal(r.status, 201);
      });
      assert.ok(ms < 1000, `${ms} ms`);
      ctx.diagnostic(`notify_activity ${Math.round(ms)} ms after the PUT was sent`);
      await new Promise((r) => setTimeout(r, 700));
      assert.deepEqual(dave.messages.filter((m) => m === 'notify_activity'), [], 'dave does not see Shared');
    } finally { bob.close(); dave.close(); }
    const fileId = (await t.app.files.stat(BOB.uid, 'Shared/from-carol.txt')).fileId;
    const [forBob] = await activitiesOf(t, BOB);
    assert.equal(forBob!.type, 'file_created');
    assert.equal(forBob!.subject, 'carol created from-carol.txt');
    assert.equal(forBob!.user, CAROL.uid);
    assert.equal(forBob!.affecteduser, BOB.uid);
    assert.equal(forBob!.object_id, fileId);
    assert.equal(forBob!.object_name, '/Shared/from-carol.txt');
    assert.deepEqual(forBob!.subject_rich[0], '{user} created {file}');
    const [forCarol] = await activitiesOf(t, CAROL);
    assert.equal(forCarol!.subject, 'You created from-carol.txt');
    assert.equal(forCarol!.object_name, '/Shared/from-carol.txt');
    assert.ok(!(await activitiesOf(t, DAVE)).some((a) => a.object_id === fileId), 'dave sees nothing of Shared');

    // changed and deleted (to the trash) by the owner reach the sharee's stream too
    const carol = await PushClient.login(wsUrl, CAROL.uid, app.carol!);
    try {
      await within(carol, 'notify_activity', async () => {
        assert.equal((await t.fetch('/remote.php/dav/files/bob/Shared/from-carol.txt', { method: 'PUT', as: BOB, body: 'changed' })).status, 204);
      });
    } finally { carol.close(); }
    assert.equal((await t.fetch('/remote.php/dav/files/bob/Shared/from-carol.txt', { method: 'DELETE', as: BOB })).status, 204);
    let mine: Activity[] = [];
    for (let i = 0; i < 50 && mine.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      mine = await activitiesOf(t, CAROL, `object_type=files&object_id=${fileId}`, 'filter');
    }
    assert.deepEqual(mine.map((a) => a.subject), ['bob deleted from-carol.txt', 'bob changed from-carol.txt', 'You created from-carol.txt']);
  });

  test('a restore by ./occ (another process) is in the streams of the owner and the sharee', async () => {
    const fileId = (await activitiesOf(t, BOB)).find((a) => a.object_name === '/Shared/from-carol.txt')!.object_id;
    const r = await occ(t, ['trashbin:restore', BOB.uid]);
    assert.equal(r.code, 0, r.out);
    for (const u of [BOB, CAROL]) {
      const [a] = await activitiesOf(t, u, `object_type=files&object_id=${fileId}`, 'filter');
      assert.equal(a?.type, 'file_restored', u.uid);
      assert.equal(a.subject, 'from-carol.txt was restored');
      assert.equal(a.object_name, '/Shared/from-carol.txt');
    }
  });

  test('a rename and a move out of the share: renamed for both; moved for the owner, gone for the sharee', async () => {
    const dav = (path: string, dest: string) => t.fetch(`/remote.php/dav/files/bob/${path}`, { method: 'MOVE', as: BOB, headers: { Destination: `${t.url}/remote.php/dav/files/bob/${dest}` } });
    const fileId = (await t.app.files.stat(BOB.uid, 'Shared/from-carol.txt')).fileId;
    assert.equal((await dav('Shared/from-carol.txt', 'Shared/renamed.txt')).status, 201);
    assert.equal((await dav('Shared/renamed.txt', 'moved-out.txt')).status, 201);
    const q = `object_type=files&object_id=${fileId}`;
    let forBob: Activity[] = [];
    for (let i = 0; i < 50 && !forBob[0]?.subject.startsWith('You moved'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      forBob = (await activitiesOf(t, BOB, q, 'filter')).filter((a) => a.type === 'file_changed');
    }
    assert.deepEqual(forBob.slice(0, 2).map((a) => [a.subject, a.object_name]), [
      ['You moved renamed.txt to moved-out.txt', '/moved-out.txt'],
      ['You renamed from-carol.txt to renamed.txt', '/Shared/renamed.txt'],
    ]);
    assert.equal(forBob[1]!.subject_rich[0], 'You renamed {oldfile} to {file}');
    const forCarol = (await activitiesOf(t, CAROL, q, 'filter')).slice(0, 2);
    assert.deepEqual(forCarol.map((a) => [a.type, a.subject, a.object_name]), [
      ['file_deleted', 'bob deleted renamed.txt', '/Shared/renamed.txt'],
      ['file_changed', 'bob renamed from-carol.txt to renamed.txt', '/Shared/renamed.txt'],
    ]);
  });

  test('the activity API: shares, filters, since/limit paging, sort, and nobody else\'s rows', async () => {
    const all = await activitiesOf(t, CAROL);
    assert.ok(all.some((a) => a.type === 'shared' && a.subject === 'bob shared Shared with you' && a.object_name === '/Shared'));
    assert.ok(all.some((a) => a.type === 'shared' && a.subject === 'bob shared ForTeam with team'));
    const bobs = await activitiesOf(t, BOB);
    assert.ok(bobs.some((a) => a.subject === 'You shared Shared with carol'));
    for (const list of [all, bobs]) assert.ok(list.every((a) => a.affecteduser === list[0]!.affecteduser));
    assert.ok(all.every((a) => a.affecteduser === CAROL.uid));

    const self = await activitiesOf(t, CAROL, '', 'self');
    assert.ok(self.length > 0 && self.every((a) => a.user === CAROL.uid));
    const by = await activitiesOf(t, CAROL, '', 'by');
    assert.ok(by.length > 0 && by.every((a) => a.user !== CAROL.uid));
    assert.equal(self.length + by.length, all.length);

    // paging: limit 2 then since the last given, with the Link header, to the end (304)
    const seen: number[] = [];
    let since = '';
    for (let i = 0; i < 20; i++) {
      const r = await ocs(t, CAROL, 'GET', `apps/activity/api/v2/activity/all?limit=2${since}`);
      if (r.status === 304) break;
      assert.equal(r.status, 200);
      const page = ((await r.json()) as { ocs: { data: Activity[] } }).ocs.data;
      const last = r.headers.get('x-activity-last-given');
      assert.equal(last, String(page[page.length - 1]!.activity_id));
      if (page.length === 2) assert.match(r.headers.get('link') ?? '', new RegExp(`since=${last}.*rel="next"`));
      seen.push(...page.map((a) => a.activity_id));
      since = `&since=${last}`;
    }
    assert.deepEqual(seen, all.map((a) => a.activity_id));
    const asc = await activitiesOf(t, CAROL, 'sort=asc');
    assert.deepEqual(asc.map((a) => a.activity_id), [...seen].reverse());

    // another user's activity id as `since` is refused; bad input is a 4xx
    assert.equal((await ocs(t, DAVE, 'GET', `apps/activity/api/v2/activity/all?since=${all[0]!.activity_id}`)).status, 403);
    assert.equal((await ocs(t, CAROL, 'GET', 'apps/activity/api/v2/activity/nope')).status, 404);
    assert.equal((await ocs(t, CAROL, 'GET', 'apps/activity/api/v2/activity/all?limit=abc')).status, 400);
    assert.equal((await ocs(t, CAROL, 'GET', 'apps/activity/api/v2/activity/all?limit=0')).status, 400);
    assert.equal((await ocs(t, CAROL, 'GET', 'apps/activity/api/v2/activity/all?limit=100000')).status, 200, 'cut down, as the activity app');
    assert.equal((await ocs(t, CAROL, 'GET', 'apps/activity/api/v2/activity/all?object_type=files&object_id=1')).status, 400);
    assert.equal((await ocs(t, CAROL, 'GET', 'apps/activity/api/v2/activity/filter')).status, 400);
    const filters = await ocs(t, CAROL, 'GET', 'apps/activity/api/v2/activity/filters');
    assert.deepEqual(((await filters.json()) as { ocs: { data: { id: string }[] } }).ocs.data.map((f) => f.id), ['all', 'self', 'by']);
    // a user with nothing: 304
    await t.addUser('erin', 'erin-password-123');
    assert.equal((await ocs(t, { uid: 'erin', password: 'erin-password-123' }, 'GET', 'apps/activity/api/v2/activity')).status, 304);
  });

  test('deleting a share dismisses its notifications and tells the recipient within 1 s', async () => {
    const [n] = await notificationsOf(t, CAROL).then((l) => l.filter((x) => x.app === 'files_sharing'));
    assert.equal(n?.subject, 'bob shared ForTeam with group team');
    const carol = await PushClient.login(wsUrl, CAROL.uid, app.carol!);
    try {
      const ms = await within(carol, 'notify_notification', async () => {
        const r = await ocs(t, BOB, 'DELETE', `apps/files_sharing/api/v1/shares/${n.object_id}`);
        assert.equal(r.status, 200, await r.clone().text());
      });
      assert.ok(ms < 1000, `${ms} ms`);
    } finally { carol.close(); }
    for (const u of [CAROL, DAVE]) assert.ok(!(await notificationsOf(t, u)).some((x) => x.object_id === n.object_id), u.uid);
  });

  test('deleting a user deletes their notifications and their activity stream', async () => {
    const count = async (table: 'notifications' | 'activities') =>
      Number((await t.app.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('c')).where('uid', '=', DAVE.uid).executeTakeFirstOrThrow()).c);
    assert.ok(await count('activities') > 0);
    await t.app.notifications.notify(SYSTEM, { uid: DAVE.uid, app: 'admin_notifications', objectType: 'admin_notifications', objectId: '1', subject: 'bye' });
    await t.app.userDeletion.delete({ via: 'cli' }, DAVE.uid);
    assert.equal(await count('notifications'), 0);
    assert.equal(await count('activities'), 0);
  });
});

describe('activity retention', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance({ config: { activity_expire_days: 1 } }); await t.addUser(BOB.uid, BOB.password); });
  after(async () => { await t.stop(); });

  test('rows older than activity_expire_days go as new ones come; younger ones stay', async () => {
    const now = Math.floor(Date.now() / 1000);
    const row = (days: number) => ({ uid: BOB.uid, actor: BOB.uid, app: 'files', type: 'file_created', object_type: 'files', object_id: 1, object_name: `/old-${days}.txt`, other: '', created_at: now - days * 86_400 });
    await t.app.db.insertInto('activities').values([row(3), row(2), row(0.5)]).execute();
    assert.equal((await t.fetch('/remote.php/dav/files/bob/new.txt', { method: 'PUT', as: BOB, body: 'x' })).status, 201);
    // the new row is stored, then the old ones deleted: poll until both have happened (or time out)
    const want = ['/new.txt', '/old-0.5.txt'];
    let names: string[] = [];
    for (let i = 0; i < 100 && JSON.stringify(names) !== JSON.stringify(want); i++) {
      await new Promise((r) => setTimeout(r, 50));
      names = (await activitiesOf(t, BOB)).map((a) => a.object_name);
    }
    assert.deepEqual(names, want);
  });
});
