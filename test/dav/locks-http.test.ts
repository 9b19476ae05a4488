import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';

const ROOT = '/remote.php/dav/files/admin';
const lockBody = (scope: 'exclusive' | 'shared', owner = 'tester') =>
  `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope>`
  + `<D:locktype><D:write/></D:locktype><D:owner>${owner}</D:owner></D:lockinfo>`;

describe('WebDAV LOCK/UNLOCK over HTTP', () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t.stop(); });

  const put = (path: string, body: string, headers: Record<string, string> = {}) => t.fetch(`${ROOT}/${path}`, { method: 'PUT', body, headers });
  const lock = (path: string, scope: 'exclusive' | 'shared' = 'exclusive', headers: Record<string, string> = {}) =>
    t.fetch(`${ROOT}/${path}`, { method: 'LOCK', body: lockBody(scope), headers: { 'Content-Type': 'application/xml', Timeout: 'Second-600', ...headers } });
  const tokenOf = (r: Response) => /^<(.+)>$/.exec(r.headers.get('lock-token') ?? '')?.[1] ?? '';
  const etagOf = async (path: string) => (await t.fetch(`${ROOT}/${path}`, { method: 'HEAD' })).headers.get('etag')!;

  test('LOCK answers 200 with lockdiscovery and Lock-Token; PROPFIND shows it; UNLOCK 204', async () => {
    assert.equal((await put('f1.txt', 'one')).status, 201);
    const r = await lock('f1.txt', 'exclusive', { Depth: '0' });
    assert.equal(r.status, 200);
    const tok = tokenOf(r);
    assert.match(tok, /^opaquelocktoken:[0-9a-f-]{36}$/);
    const xml = await r.text();
    assert.match(xml, /<d:lockdiscovery><d:activelock>/);
    assert.match(xml, /<d:lockscope><d:exclusive\/><\/d:lockscope>/);
    assert.match(xml, /<d:depth>0<\/d:depth>/);
    assert.match(xml, /<d:owner>tester<\/d:owner>/);
    assert.match(xml, /<d:timeout>Second-(600|599)<\/d:timeout>/);
    assert.ok(xml.includes(`<d:locktoken><d:href>${tok}</d:href></d:locktoken>`));
    assert.ok(xml.includes(`<d:lockroot><d:href>${ROOT}/f1.txt</d:href></d:lockroot>`));

    const pf = await t.fetch(`${ROOT}/f1.txt`, { method: 'PROPFIND', headers: { Depth: '0' },
      body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:lockdiscovery/><d:supportedlock/></d:prop></d:propfind>' });
    assert.equal(pf.status, 207);
    const pfx = await pf.text();
    assert.ok(pfx.includes(tok), 'lockdiscovery lists the token');
    assert.match(pfx, /<d:supportedlock><d:lockentry><d:lockscope><d:exclusive\/>/);

    const u = await t.fetch(`${ROOT}/f1.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` } });
    assert.equal(u.status, 204);
    const pf2 = await (await t.fetch(`${ROOT}/f1.txt`, { method: 'PROPFIND', headers: { Depth: '0' },
      body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:lockdiscovery/></d:prop></d:propfind>' })).text();
    assert.ok(!pf2.includes(tok));
    assert.equal((await put('f1.txt', 'free again')).status, 204, 'writable without a token after UNLOCK');
  });

  test('a locked file refuses PUT, DELETE, MOVE, COPY onto, PROPPATCH and LOCK without the token (423), accepts them with it', async () => {
    await put('f2.txt', 'two');
    await put('other.txt', 'other');
    const tok = tokenOf(await lock('f2.txt'));
    assert.equal((await put('f2.txt', 'x')).status, 423);
    assert.equal((await t.fetch(`${ROOT}/f2.txt`, { method: 'DELETE' })).status, 423);
    assert.equal((await t.fetch(`${ROOT}/f2.txt`, { method: 'MOVE', headers: { Destination: `${ROOT}/moved.txt` } })).status, 423);
    assert.equal((await t.fetch(`${ROOT}/other.txt`, { method: 'COPY', headers: { Destination: `${ROOT}/f2.txt` } })).status, 423);
    const pp = await t.fetch(`${ROOT}/f2.txt`, { method: 'PROPPATCH',
      body: '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:a>1</x:a></d:prop></d:set></d:propertyupdate>' });
    assert.ok(pp.status === 423 || (pp.status === 207 && (await pp.text()).includes('423')), `PROPPATCH got ${pp.status}`);
    assert.equal((await lock('f2.txt')).status, 423);
    assert.equal((await lock('f2.txt', 'shared')).status, 423, 'shared lock on an exclusive lock');
    assert.equal((await t.fetch(`${ROOT}/f2.txt`)).status, 200, 'GET is not blocked');
    assert.equal(await (await t.fetch(`${ROOT}/f2.txt`)).text(), 'two', 'nothing changed');

    // With the token (untagged and tagged with an absolute URL) it works.
    assert.equal((await put('f2.txt', 'new', { If: `(<${tok}>)` })).status, 204);
    assert.equal((await put('f2.txt', 'newer', { If: `<${t.url}${ROOT}/f2.txt> (<${tok}>)` })).status, 204);
    // COPY of a locked resource: the lock does not follow.
    assert.equal((await t.fetch(`${ROOT}/f2.txt`, { method: 'COPY', headers: { Destination: `${ROOT}/f2-copy.txt` } })).status, 201);
    assert.equal((await t.fetch(`${ROOT}/f2-copy.txt`, { method: 'DELETE' })).status, 204);
    // MOVE with the token moves the file and drops the lock.
    const mv = await t.fetch(`${ROOT}/f2.txt`, { method: 'MOVE', headers: { Destination: `${ROOT}/f2-moved.txt`, If: `(<${tok}>)` } });
    assert.equal(mv.status, 201);
    assert.equal((await put('f2-moved.txt', 'free')).status, 204);
    assert.equal((await put('f2.txt', 'recreated')).status, 201, 'the old path is not locked any more');
  });

  test('If header: 412 when false (etag, no-lock, stale token), 423 for a corrupted token, 400 when malformed', async () => {
    await put('f3.txt', 'three');
    const tok = tokenOf(await lock('f3.txt'));
    const etag = await etagOf('f3.txt');
    assert.equal((await put('f3.txt', 'a', { If: `(<${tok}> [${etag}])` })).status, 204);
    const etag2 = await etagOf('f3.txt');
    assert.equal((await put('f3.txt', 'b', { If: `(<DAV:no-lock> [${etag2}])` })).status, 412);
    assert.equal((await put('f3.txt', 'b', { If: `(<${tok}> ["wrong"]) (Not <DAV:no-lock> ["wrong"])` })).status, 412);
    assert.equal((await put('f3.txt', 'b', { If: `(<${tok}x>) (Not <DAV:no-lock>)` })).status, 423);
    assert.equal((await put('f3.txt', 'b', { If: `(<${tok}>) (Not <DAV:no-lock>)` })).status, 204);
    assert.equal((await put('f3.txt', 'c', { If: '(<unterminated' })).status, 400);
    assert.equal((await t.fetch(`${ROOT}/f3.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` } })).status, 204);
    assert.equal((await put('f3.txt', 'd', { If: `(<${tok}>)` })).status, 412, 'token of a removed lock');
    // Tagged list naming another resource is evaluated against that resource.
    await put('g3.txt', 'g');
    const ge = await etagOf('g3.txt');
    assert.equal((await put('f3.txt', 'e', { If: `<${ROOT}/g3.txt> ([${ge}])` })).status, 204);
    assert.equal((await put('f3.txt', 'e', { If: `<${ROOT}/g3.txt> (["nope"])` })).status, 412);
    // evaluateIf applies to reads too (PROPFIND/GET): a false If gives 412.
    assert.equal((await t.fetch(`${ROOT}/f3.txt`, { method: 'PROPFIND', headers: { Depth: '0', If: '(["nope"])' } })).status, 412);
    assert.equal(await (await t.fetch(`${ROOT}/f3.txt`)).text(), 'e');
  });

  test('UNLOCK: bogus token 409 with lock-token-matches-request-uri, missing header 400, other resource 409', async () => {
    await put('f4.txt', 'four');
    await put('g4.txt', 'g');
    const tok = tokenOf(await lock('f4.txt'));
    const bogus = await t.fetch(`${ROOT}/f4.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': '<opaquelocktoken:foobar>' } });
    assert.equal(bogus.status, 409);
    assert.match(await bogus.text(), /lock-token-matches-request-uri/);
    assert.equal((await t.fetch(`${ROOT}/f4.txt`, { method: 'UNLOCK' })).status, 400);
    assert.equal((await t.fetch(`${ROOT}/g4.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` } })).status, 409);
    assert.equal((await put('f4.txt', 'x')).status, 423, 'still locked');
    assert.equal((await t.fetch(`${ROOT}/f4.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` } })).status, 204);
  });

  test('refresh: empty LOCK body with If, also through a member URL of a depth-infinity lock; no If → 400; wrong token → 412', async () => {
    await t.fetch(`${ROOT}/coll`, { method: 'MKCOL' });
    const r = await lock('coll', 'exclusive', { Depth: 'infinity', Timeout: 'Second-100' });
    assert.equal(r.status, 200);
    const tok = tokenOf(r);
    assert.match(await r.text(), /<d:lockroot><d:href>\/remote\.php\/dav\/files\/admin\/coll\/<\/d:href>/);
    // A member created later is covered: PUT without the token is refused, with it accepted.
    assert.equal((await put('coll/new.txt', 'n')).status, 423);
    assert.equal((await put('coll/new.txt', 'n', { If: `<${t.url}${ROOT}/coll/> (<${tok}>)` })).status, 201);
    assert.equal((await t.fetch(`${ROOT}/coll/sub`, { method: 'MKCOL' })).status, 423);
    const ref = await t.fetch(`${ROOT}/coll/new.txt`, { method: 'LOCK', headers: { If: `(<${tok}>)`, Timeout: 'Second-3000' } });
    assert.equal(ref.status, 200);
    const rx = await ref.text();
    assert.ok(rx.includes(tok));
    assert.match(rx, /<d:timeout>Second-(3000|2999)<\/d:timeout>/);
    assert.equal((await t.fetch(`${ROOT}/coll`, { method: 'LOCK', headers: { Timeout: 'Second-10' } })).status, 400);
    assert.equal((await t.fetch(`${ROOT}/coll`, { method: 'LOCK', headers: { If: '(<opaquelocktoken:nope>)' } })).status, 412);
    // Deleting the parent of a locked folder needs the token too (depth infinity reaches the lock below).
    assert.equal((await t.fetch(`${ROOT}/`, { method: 'PROPFIND', headers: { Depth: '0' } })).status, 207);
    await t.fetch(`${ROOT}/outer`, { method: 'MKCOL' });
    await put('outer/inner.txt', 'i');
    const itok = tokenOf(await lock('outer/inner.txt'));
    assert.equal((await t.fetch(`${ROOT}/outer`, { method: 'DELETE' })).status, 423);
    assert.equal((await t.fetch(`${ROOT}/outer`, { method: 'MOVE', headers: { Destination: `${ROOT}/outer2` } })).status, 423);
    assert.equal((await t.fetch(`${ROOT}/outer`, { method: 'DELETE', headers: { If: `<${ROOT}/outer/inner.txt> (<${itok}>)` } })).status, 204);
    assert.equal((await put('outer', 'now a file')).status, 201, 'locks under a deleted folder are gone');
    assert.equal((await t.fetch(`${ROOT}/coll`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` } })).status, 204);
  });

  test('LOCK on an unmapped URL creates an empty file (201); missing parent → 409; bad body → 400', async () => {
    const r = await lock('unmapped.txt');
    assert.equal(r.status, 201);
    const tok = tokenOf(r);
    const g = await t.fetch(`${ROOT}/unmapped.txt`);
    assert.equal(g.status, 200);
    assert.equal(await g.text(), '');
    assert.equal((await t.fetch(`${ROOT}/unmapped.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` } })).status, 204);
    assert.equal((await t.fetch(`${ROOT}/unmapped.txt`)).status, 200, 'UNLOCK keeps the resource');
    assert.equal((await lock('no/such/parent.txt')).status, 409);
    assert.equal((await t.fetch(`${ROOT}/no/such/parent.txt`)).status, 404);
    const bad = await t.fetch(`${ROOT}/unmapped.txt`, { method: 'LOCK', body: '<lockinfo xmlns="DAV:"><lockscope>' });
    assert.equal(bad.status, 400);
    const wrongType = await t.fetch(`${ROOT}/unmapped.txt`, { method: 'LOCK', body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>' });
    assert.equal(wrongType.status, 400);
    assert.equal((await lock('unmapped.txt', 'exclusive', { Depth: '1' })).status, 400);
  });

  test('shared locks: a second shared lock is granted, either token lets the holder write', async () => {
    await put('s.txt', 'shared');
    const a = tokenOf(await lock('s.txt', 'shared'));
    const b2 = await lock('s.txt', 'shared');
    assert.equal(b2.status, 200);
    const b = tokenOf(b2);
    assert.notEqual(a, b);
    assert.equal((await put('s.txt', 'x')).status, 423);
    assert.equal((await put('s.txt', 'x', { If: `(<${b}>)` })).status, 204);
    const disc = await (await t.fetch(`${ROOT}/s.txt`, { method: 'PROPFIND', headers: { Depth: '0' },
      body: '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:lockdiscovery/></d:prop></d:propfind>' })).text();
    assert.ok(disc.includes(a) && disc.includes(b));
    for (const tok of [a, b]) assert.equal((await t.fetch(`${ROOT}/s.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` } })).status, 204);
  });

  test("another user cannot see or use this user's locks", async () => {
    await t.addUser('bob', 'bob-password-123');
    await put('own.txt', 'mine');
    const tok = tokenOf(await lock('own.txt'));
    const bob = { uid: 'bob', password: 'bob-password-123' };
    const r = await t.fetch(`${ROOT}/own.txt`, { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` }, as: bob });
    assert.equal(r.status, 403);
    assert.equal((await t.fetch('/remote.php/dav/files/bob/own.txt', { method: 'UNLOCK', headers: { 'Lock-Token': `<${tok}>` }, as: bob })).status, 409);
    assert.equal((await put('own.txt', 'x')).status, 423);
  });
});
