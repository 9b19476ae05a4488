/**
 * The setup of isolation-shares.test.ts: A (alice) shares folders S1, S3, S5, S31 and files
 * file1.txt, file3.txt with B (bob); C (carol) is a stranger; `attempt` sends one request as B with
 * A's and B's trees snapshotted around it and checks the exact change (or none).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { share } from '../sharing/helpers.ts';
import { request, snapshotTree, type Resp } from './support.ts';
import { userActor } from '../../src/actor.ts';

export const A = { uid: 'alice', password: 'alice-password-1' };
export const B = { uid: 'bob', password: 'bob-password-12' };
export const C = { uid: 'carol', password: 'carol-password-1' };
export const SECRET = 'ALICE-PRIVATE-7f3a9c';
export const HIDDEN = 'deep-only-name.txt'; // never named in a request: must never appear in an answer

export const READ = 1, UPDATE = 2, CREATE = 4, DELETE = 8, SHARE = 16;
export const FOLDERS = [1, 3, 5, 31] as const;
export const FILES = [1, 3] as const;
export const has = (p: number, b: number) => (p & b) === b;
export const dav = (p: string) => `/remote.php/dav/files/bob/${p}`;
export const LOCK_BODY = '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>';
export const PROPS = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><d:resourcetype/><oc:permissions/></d:prop></d:propfind>';
export const PROPPATCH = '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:evil>1</x:evil></d:prop></d:set></d:propertyupdate>';

export type Snap = Map<string, string>;
/** `+p` added, `-p` removed, `~p` content changed. */
export function diff(a: Snap, b: Snap): string[] {
  const out: string[] = [];
  for (const [k, v] of b) if (!a.has(k)) out.push(`+${k}`); else if (a.get(k) !== v) out.push(`~${k}`);
  for (const k of a.keys()) if (!b.has(k)) out.push(`-${k}`);
  return out.sort();
}

/** Permissions string of the PROPFIND entry with this href. */
export const permsOf = (body: string, href: string): string | undefined => {
  const entry = body.split(/<d:response>/).find((x) => x.includes(`<d:href>${href}</d:href>`));
  return entry ? /<oc:permissions>([A-Z]*)<\/oc:permissions>/.exec(entry)?.[1] : undefined;
};

export class ShareIsolation {
  t!: TestInstance;
  attempts = 0;
  initialA!: Snap;
  ifTestCreated = false;
  readonly refusedBy = new Map<string, number>();
  readonly permittedBy = new Map<string, number>();
  readonly shareIds: Record<string, number> = {};
  bump(m: Map<string, number>, k: string): void { m.set(k, (m.get(k) ?? 0) + 1); }
  put(uid: string, p: string, c: string) { return this.t.app.files.writeFile(userActor(uid, 'password'), uid, p, Readable.from([Buffer.from(c)]), {}); }
  snapA(): Promise<Snap> { return snapshotTree(this.t.app, 'alice'); }
  snapB(): Promise<Snap> { return snapshotTree(this.t.app, 'bob'); }

  async setup(): Promise<void> {
    this.t = await startTestInstance();
    for (const u of [A, B, C]) { await this.t.addUser(u.uid, u.password); await this.t.app.files.ensureHome(u.uid); }
    await this.t.app.files.mkdir('alice', 'private');
    await this.put('alice', 'private/secret.txt', SECRET);
    await this.put('alice', `private/${HIDDEN}`, SECRET + '-deep');
    await this.put('alice', 'top.txt', SECRET + '-top');
    for (const p of FOLDERS) {
      await this.t.app.files.mkdir('alice', `S${p}`);
      await this.t.app.files.mkdir('alice', `S${p}/sub`);
      await this.put('alice', `S${p}/f.txt`, `f of S${p}`);
      await this.put('alice', `S${p}/sub/g.txt`, `g of S${p}`);
      await this.put('alice', `S${p}/del-me.txt`, 'to delete');
      await this.put('alice', `S${p}/mv-src.txt`, 'to move');
      await this.put('alice', `S${p}/ow-src.txt`, `overwrite source ${p}`);
      await this.put('alice', `S${p}/out.txt`, `out of S${p}`);
      await this.t.app.files.mkdir('alice', `S${p}/outdir`);
      await this.put('alice', `S${p}/outdir/h.txt`, `h of S${p}`);
      await this.put('alice', `S${p}/xs-src.txt`, `to another share from S${p}`);
      await this.put('bob', `in-${p}.txt`, `bob into S${p}`);
      await this.t.app.files.mkdir('bob', `bfold-${p}`);
      await this.put('bob', `bfold-${p}/k.txt`, `bob folder into S${p}`);
      this.shareIds[`S${p}`] = (await share(this.t, A, { path: `/S${p}`, shareType: 0, shareWith: 'bob', permissions: p })).id;
    }
    for (const p of FILES) {
      await this.put('alice', `file${p}.txt`, `file share ${p}`);
      this.shareIds[`file${p}.txt`] = (await share(this.t, A, { path: `/file${p}.txt`, shareType: 0, shareWith: 'bob', permissions: p })).id;
    }
    await this.t.app.files.mkdir('alice', 'pub');
    await this.put('alice', 'pub/p.txt', 'public');
    await this.put('bob', 'mine.txt', 'bob content');
    await this.t.app.files.mkdir('bob', 'bdir');
    this.initialA = await this.snapA();
  }

  async teardown(): Promise<void> {
    console.log(`# share isolation attempts: ${this.attempts}`);
    console.log(`# refused: ${JSON.stringify(Object.fromEntries(this.refusedBy))}`);
    console.log(`# permitted: ${JSON.stringify(Object.fromEntries(this.permittedBy))}`);
    await this.t.stop();
  }

  noLeak(r: Resp, what: string): void {
    assert.ok(!r.text.includes(SECRET), `${what} leaked A's private content`);
    assert.ok(!r.text.includes(HIDDEN), `${what} leaked A's private names`);
  }

  /**
   * One request with A's and B's trees snapshotted around it. `expect` = the exact change of A's
   * tree when permitted, or false when it must be refused. B's own tree changes only by `expectB`
   * (COPY/MOVE between a share and B's files) and only when permitted.
   */
  async attempt(category: string, method: string, path: string,
    opts: { as?: typeof A | null; headers?: Record<string, string>; body?: string; expectB?: string[] }, expect: string[] | false): Promise<Resp> {
    const [a0, b0] = [await this.snapA(), await this.snapB()];
    const r = await request(this.t.url, method, path, { as: opts.as === undefined ? B : opts.as, headers: opts.headers, body: opts.body });
    this.attempts++;
    const what = `${category}: ${method} ${path} ${JSON.stringify(opts.headers ?? {})} → ${r.status} ${r.text.slice(0, 200)}`;
    this.noLeak(r, what);
    const [a1, b1] = [await this.snapA(), await this.snapB()];
    if (expect === false) {
      assert.ok(r.status >= 400 && r.status < 500, `expected refusal: ${what}`);
      assert.deepEqual(diff(a0, a1), [], `A's tree changed: ${what}`);
      this.bump(this.refusedBy, category);
    } else {
      assert.ok(r.status >= 200 && r.status < 300, `expected success: ${what}`);
      assert.deepEqual(diff(a0, a1), [...expect].sort(), `A's tree changed otherwise than permitted: ${what}`);
      this.bump(this.permittedBy, category);
    }
    assert.deepEqual(diff(b0, b1), expect === false ? [] : [...(opts.expectB ?? [])].sort(), `B's own tree changed: ${what}`);
    return r;
  }
}
