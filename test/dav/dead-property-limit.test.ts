/**
 * Dead properties: a file holds a bounded number and size of dead properties. A PROPPATCH
 * beyond the bound answers 207 with 507 Insufficient Storage for the properties it could not
 * record (424 for the rest, RFC 4918 9.2.1) and changes nothing; removals always work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_DEAD_PROPERTIES, MAX_DEAD_PROPERTY_BYTES } from '../../src/files/dead-property-bounds.ts';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';

const FILE = '/remote.php/dav/files/admin/props.txt';

function patch(sets: [string, string][], removes: string[] = [], extraSet = ''): string {
  const set = sets.map(([n, v]) => `<x:${n}>${v}</x:${n}>`).join('');
  const rem = removes.map((n) => `<x:${n}/>`).join('');
  return `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:example:props">`
    + (set || extraSet ? `<d:set><d:prop>${set}${extraSet}</d:prop></d:set>` : '')
    + (rem ? `<d:remove><d:prop>${rem}</d:prop></d:remove>` : '')
    + '</d:propertyupdate>';
}

for (const db of ['sqlite', 'pgsql'] as const) {
  describe(`dead property bound per file (${db})`, () => {
    let t: TestInstance;
    const proppatch = async (body: string) => {
      const r = await t.fetch(FILE, { method: 'PROPPATCH', headers: { 'Content-Type': 'application/xml' }, body });
      return { status: r.status, body: await r.text() };
    };
    const stored = async () => t.app.files.properties.get((await t.app.files.stat('admin', 'props.txt')).fileId);

    before(async () => {
      t = await startTestInstance({ db });
      assert.equal((await t.fetch(FILE, { method: 'PUT', body: 'x' })).status, 201);
    });
    after(async () => { await t?.stop(); });

    test('too many properties in one PROPPATCH: 507 for them, nothing stored, the mtime in the same request not set either', async () => {
      const mtimeBefore = (await t.app.files.stat('admin', 'props.txt')).mtime;
      const sets = Array.from({ length: MAX_DEAD_PROPERTIES + 1 }, (_, i): [string, string] => [`p${i}`, 'v']);
      const r = await proppatch(patch(sets, [], '<d:lastmodified>Thu, 01 Jan 2004 00:00:00 GMT</d:lastmodified>'));
      assert.equal(r.status, 207);
      assert.match(r.body, /HTTP\/1\.1 507 Insufficient Storage/);
      assert.match(r.body, /HTTP\/1\.1 424 Failed Dependency/);
      assert.equal((await stored()).length, 0);
      assert.equal((await t.app.files.stat('admin', 'props.txt')).mtime, mtimeBefore);
    });

    test('PROPPATCHes that add up past the bound: the one that crosses it changes nothing; removals still work', async () => {
      const first = Array.from({ length: MAX_DEAD_PROPERTIES - 1 }, (_, i): [string, string] => [`a${i}`, 'v']);
      const ok = await proppatch(patch(first));
      assert.equal(ok.status, 207);
      assert.doesNotMatch(ok.body, /507|424/);
      const over = await proppatch(patch([['b0', '1'], ['b1', '2']]));
      assert.match(over.body, /HTTP\/1\.1 507/);
      assert.equal((await stored()).length, MAX_DEAD_PROPERTIES - 1);
      const replace = await proppatch(patch([['a0', 'changed']]));
      assert.doesNotMatch(replace.body, /507/, 'changing an existing property adds nothing');
      const swap = await proppatch(patch([['b0', '1']], ['a1', 'a2']));
      assert.doesNotMatch(swap.body, /507/);
      assert.equal((await stored()).length, MAX_DEAD_PROPERTIES - 2);
      const rem = await proppatch(patch([], first.slice(3).map(([n]) => n)));
      assert.doesNotMatch(rem.body, /507|424/);
      assert.equal((await stored()).length, 2);
    });

    test('one value bigger than the size bound: 507, nothing stored', async () => {
      const big = 'z'.repeat(MAX_DEAD_PROPERTY_BYTES + 1);
      const r = await proppatch(patch([['huge', big]]));
      assert.equal(r.status, 207);
      assert.match(r.body, /HTTP\/1\.1 507/);
      assert.equal((await stored()).find((p) => p.name === 'huge'), undefined);
      assert.equal((await proppatch(patch([['small', 'fine']]))).body.includes('507'), false);
    });
  });
}
