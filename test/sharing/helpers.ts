/** Shared setup of the sharing tests: users, a small tree, OCS calls. */
import { Readable } from 'node:stream';
import type { TestInstance } from '../support/test-instance.ts';
import { userActor } from '../../src/actor.ts';

export const ALICE = { uid: 'alice', password: 'alice-password-1' } as const;
export const BOB = { uid: 'bob', password: 'bob-password-1' } as const;
export const CAROL = { uid: 'carol', password: 'carol-password-1' } as const;
export const DAVE = { uid: 'dave', password: 'dave-password-1' } as const;

export type Creds = { uid: string; password: string };

export const SHARES = '/ocs/v2.php/apps/files_sharing/api/v1/shares';
export const SHARES_V1 = '/ocs/v1.php/apps/files_sharing/api/v1/shares';

/** Writes a small file into `uid`'s tree. */
export async function put(t: TestInstance, uid: string, path: string, content: string | Buffer): Promise<void> {
  await t.app.files.writeFile(userActor(uid, 'password'), uid, path, Readable.from([Buffer.from(content)]));
}

/** The four users and alice's tree: Project/{a.txt, sub/b.txt}, notes.txt. */
export async function seed(t: TestInstance): Promise<void> {
  for (const u of [ALICE, BOB, CAROL, DAVE]) await t.addUser(u.uid, u.password);
  await t.app.files.mkdir(ALICE.uid, 'Project');
  await t.app.files.mkdir(ALICE.uid, 'Project/sub');
  await put(t, ALICE.uid, 'Project/a.txt', 'alpha');
  await put(t, ALICE.uid, 'Project/sub/b.txt', 'bravo');
  await put(t, ALICE.uid, 'notes.txt', 'my notes');
}

export interface OcsAnswer {
  http: number;
  status: number;
  message: string;
  data: any;
}

/** An OCS request (JSON answer); `form` is sent as application/x-www-form-urlencoded, `json` as JSON. */
export async function ocs(t: TestInstance, as: Creds, method: string, path: string,
  body?: { form?: Record<string, string | number>; json?: Record<string, unknown> }): Promise<OcsAnswer> {
  const headers: Record<string, string> = { 'OCS-APIRequest': 'true', Accept: 'application/json' };
  let payload: string | undefined;
  if (body?.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(Object.entries(body.form).map(([k, v]) => [k, String(v)])).toString();
  } else if (body?.json) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body.json);
  }
  const res = await t.fetch(path, { method, headers, body: payload, as });
  const text = await res.text();
  let parsed: any;
  try { parsed = JSON.parse(text); } catch { throw new Error(`not JSON (${res.status}): ${text.slice(0, 300)}`); }
  return { http: res.status, status: parsed.ocs.meta.statuscode, message: parsed.ocs.meta.message, data: parsed.ocs.data };
}

/** Creates a share through OCS and returns its data (asserting success). */
export async function share(t: TestInstance, as: Creds, form: Record<string, string | number>): Promise<any> {
  const r = await ocs(t, as, 'POST', SHARES, { form });
  if (r.http !== 200) throw new Error(`share failed: ${r.http} ${r.message}`);
  return r.data;
}

/** A PROPFIND (Depth 1 default) answer's text. */
export async function propfind(t: TestInstance, as: Creds, path: string, props: string, depth = '1'): Promise<{ status: number; body: string }> {
  const res = await t.fetch(path, {
    method: 'PROPFIND', as,
    headers: { Depth: depth, 'Content-Type': 'application/xml' },
    body: `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>${props}</d:prop></d:propfind>`,
  });
  return { status: res.status, body: await res.text() };
}
