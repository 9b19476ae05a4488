/**
 * Sharee search: the OCS Sharee API and the web UI's sharee search match what they show
 * (user ids and display names), never email addresses, which they do not show: otherwise anyone
 * could probe another user's address one substring at a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { ALICE, BOB, CAROL, ocs } from './helpers.ts';

const SHAREES = '/ocs/v2.php/apps/files_sharing/api/v1/sharees';

describe('sharee search and hidden email addresses', () => {
  let t: TestInstance;
  let webHeaders: Record<string, string>;
  const ocsUsers = async (search: string) => {
    const r = await ocs(t, ALICE, 'GET', `${SHAREES}?search=${encodeURIComponent(search)}&itemType=folder`);
    assert.equal(r.http, 200, r.message);
    return [...r.data.exact.users, ...r.data.users].map((u: any) => u.value.shareWith).sort();
  };
  const webUsers = async (search: string) => {
    const r = await fetch(`${t.url}/web/api/sharees?search=${encodeURIComponent(search)}`, { headers: webHeaders });
    assert.equal(r.status, 200);
    return ((await r.json()) as { sharees: { type: number; id: string }[] }).sharees.filter((s) => s.type === 0).map((s) => s.id).sort();
  };

  before(async () => {
    t = await startTestInstance();
    for (const u of [ALICE, BOB, CAROL]) await t.addUser(u.uid, u.password);
    await t.app.users.setDisplayName(BOB.uid, 'Robert');
    await t.app.users.setEmail(BOB.uid, 'b.secretname@hidden-example.org');
    await t.app.users.setEmail(CAROL.uid, 'carol@hidden-example.org');
    const s = await t.app.sessions.create(ALICE.uid, {});
    webHeaders = { cookie: `coffer_session=${s.token}`, requesttoken: s.csrfToken };
  });
  after(async () => { await t?.stop(); });

  test('a part of an email address, or all of it, finds nobody (OCS and web API)', async () => {
    for (const q of ['secretname', 'hidden-example', '@hidden', 'b.secretname@hidden-example.org', 'carol@']) {
      assert.deepEqual(await ocsUsers(q), [], `OCS search ${q}`);
      assert.deepEqual(await webUsers(q), [], `web search ${q}`);
    }
  });

  test('ids and display names are still found; the caller and disabled users are not', async () => {
    assert.deepEqual(await ocsUsers('rob'), [BOB.uid]);
    assert.deepEqual(await webUsers('rob'), [BOB.uid]);
    assert.deepEqual(await ocsUsers('car'), [CAROL.uid]);
    assert.deepEqual(await ocsUsers('alice'), []);
    await t.app.users.setEnabled(CAROL.uid, false);
    assert.deepEqual(await webUsers('car'), []);
    await t.app.users.setEnabled(CAROL.uid, true);
  });
});
