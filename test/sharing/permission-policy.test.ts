/**
 * One permission policy for shares: WebDAV, the web API and public links all ask
 * sharing/share-access.ts assertPermitted, so a read-only share refuses the same operations with
 * the same 403 and the same words whichever door the request comes through.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { webLogin, type WebSession } from '../support/web-login.ts';
import { ALICE, BOB, seed, share } from './helpers.ts';

const basic = (user: string, pw = '') => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');

describe('a read-only share refuses alike over WebDAV, the web API and a public link', () => {
  let t: TestInstance;
  let bobWeb: WebSession;
  let token: string;

  before(async () => {
    t = await startTestInstance();
    await seed(t);
    await share(t, ALICE, { path: '/Project', shareType: 0, shareWith: BOB.uid, permissions: 1 });
    token = (await share(t, ALICE, { path: '/Project', shareType: 3 })).token; // a link: read only
    bobWeb = await webLogin(t.url, BOB.uid, BOB.password);
  });
  after(async () => { await t?.stop(); });

  /** The message of a 403 from any of the three: Sabre XML or the web API's JSON. */
  async function refusal(r: Response): Promise<string> {
    assert.equal(r.status, 403);
    const text = await r.text();
    return /<s:message>([^<]*)<\/s:message>/.exec(text)?.[1] ?? (JSON.parse(text) as { error: { message: string } }).error.message;
  }

  it('creating a file', async () => {
    const dav = await t.fetch('/remote.php/dav/files/bob/Project/new.txt', { method: 'PUT', body: 'x', as: BOB });
    const web = await fetch(`${t.url}/web/api/files/upload?path=${encodeURIComponent('/Project/new.txt')}`,
      { method: 'PUT', headers: { cookie: bobWeb.cookie, requesttoken: bobWeb.csrfToken }, body: 'x' });
    const link = await fetch(`${t.url}/public.php/webdav/new.txt`, { method: 'PUT', headers: { Authorization: basic(token) }, body: 'x' });
    const words = [await refusal(dav), await refusal(web), await refusal(link)];
    assert.deepEqual(words, Array(3).fill('This share does not allow creating files or folders'));
    assert.equal(await t.app.files.tryStat(ALICE.uid, 'Project/new.txt'), undefined);
  });

  it('changing a file', async () => {
    const dav = await t.fetch('/remote.php/dav/files/bob/Project/a.txt', { method: 'PUT', body: 'x', as: BOB });
    const web = await fetch(`${t.url}/web/api/files/upload?path=${encodeURIComponent('/Project/a.txt')}`,
      { method: 'PUT', headers: { cookie: bobWeb.cookie, requesttoken: bobWeb.csrfToken }, body: 'x' });
    const link = await fetch(`${t.url}/public.php/webdav/a.txt`, { method: 'PUT', headers: { Authorization: basic(token) }, body: 'x' });
    const words = [await refusal(dav), await refusal(web), await refusal(link)];
    assert.deepEqual(words, Array(3).fill('This share does not allow changing files'));
  });

  it('deleting a file', async () => {
    const dav = await t.fetch('/remote.php/dav/files/bob/Project/a.txt', { method: 'DELETE', as: BOB });
    const web = await fetch(`${t.url}/web/api/files/delete`, {
      method: 'POST', headers: { cookie: bobWeb.cookie, requesttoken: bobWeb.csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/Project/a.txt' }),
    });
    const link = await fetch(`${t.url}/public.php/webdav/a.txt`, { method: 'DELETE', headers: { Authorization: basic(token) } });
    const words = [await refusal(dav), await refusal(web), await refusal(link)];
    assert.deepEqual(words, Array(3).fill('This share does not allow deleting'));
    assert.ok(await t.app.files.tryStat(ALICE.uid, 'Project/a.txt'), 'still there');
  });
});
