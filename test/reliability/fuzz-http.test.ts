/**
 * Property-based fuzzing of the WebDAV handlers over real HTTP, on an encrypted instance: random methods, path spellings
 * (percent-encoding, NFD/NFC, very long and reserved names, dot segments), Depth / Overwrite /
 * Destination / If / Range / Content-Type headers, random PROPFIND/PROPPATCH/LOCK bodies, and random
 * chunk sequences for chunked uploads. Properties: never a 5xx, the server stays up, and a request
 * that fails changes nothing (the user's tree — names and content hashes — is the same before and
 * after, metadata and dead properties included). Random Range headers on an encrypted file get
 * exactly the bytes asked for. Case counts are printed (FUZZ_HTTP_RUNS, FUZZ_CHUNK_RUNS,
 * FUZZ_RANGE_RUNS raise them).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';
import { pattern, request, sha256, snapshotTree, type Creds } from './support.ts';
import { userActor } from '../../src/actor.ts';

const U: Creds = { uid: 'fuzz', password: 'fuzz-password-1' };
const HTTP_RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 300);
const CHUNK_RUNS = Number(process.env.FUZZ_CHUNK_RUNS ?? 60);
let httpCases = 0;

const seg = fc.oneof(
  { arbitrary: fc.constantFrom('a.txt', 'dir', 'dir/b.txt', 'new.txt', 'dir/new', 'café.txt'), weight: 6 },
  fc.constantFrom('a.txt', 'dir', 'dir/b.txt', 'new.txt', 'new dir', 'café.txt', 'cafe\u0301.txt', 'CON', 'nul', 'aux.txt', '.htaccess', '.ocdata', 'index.php',
    '..', '.', '%2e%2e', '%2E', '%00', '%2F', '%5C', '%', '%zz', '%C3%A9', 'e%CC%81', '😀', '\u202e', '\u200b', '%EF%BB%BF', '%20', '%E2%80%8B%20', 'a:b', 'a*b?', ' lead', 'trail ', '~$tmp', 'x'.repeat(255), 'é'.repeat(130), 'y'.repeat(256), 'z'.repeat(4000)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map((s) => encodeURIComponent(s)),
);
const relPath = fc.array(seg, { minLength: 0, maxLength: 2 }).map((a) => a.join('/'));
const base = fc.constantFrom('/remote.php/dav/files/fuzz/', '/remote.php/webdav/', '/remote.php/dav/files/fuzz//', '/remote.php/dav/files/%66uzz/');
/** node:http refuses to send characters outside U+0021–U+00FF raw: those go percent-encoded. */
const sendable = (p: string) => p.replace(/[^\u0021-\u00ff]/gu, (c) => encodeURIComponent(c));
const fullPath = fc.tuple(base, relPath, fc.constantFrom('', '/', '?x=1', '#f')).map(([b, p, s]) => sendable(b + p + s));

const propXml = fc.constantFrom(
  '', '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>',
  '<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>',
  '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><d:getetag/><oc:fileid/><oc:size/><d:quota-available-bytes/><d:lockdiscovery/></d:prop></d:propfind>',
  '<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop><x:a>v</x:a><d:getlastmodified>Thu, 01 Jan 2015 00:00:00 GMT</d:getlastmodified></d:prop></d:set><d:remove><d:prop><x:b/></d:prop></d:remove></d:propertyupdate>',
  '<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:getetag>x</d:getetag><d:resourcetype/></d:prop></d:set></d:propertyupdate>',
  '<d:propertyupdate xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:set><d:prop><oc:favorite>1</oc:favorite><d:lastmodified>-1</d:lastmodified></d:prop></d:set></d:propertyupdate>',
  '<d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype><d:owner><d:href>me</d:href></d:owner></d:lockinfo>',
  '<d:lockinfo xmlns:d="DAV:"><d:lockscope><d:shared/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>',
  '<d:lockinfo xmlns:d="DAV:"><d:lockscope/></d:lockinfo>', '<not xml', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><d:propfind xmlns:d="DAV:">&e;</d:propfind>',
  '<d:propfind xmlns:d="DAV:">' + '<d:prop>'.repeat(100) + '</d:prop>'.repeat(100) + '</d:propfind>', 'plain body', '\u0000\u0001',
);

/** Mostly absent (7 in 8): a request carries one or two odd headers, and about one in five none (so success paths are fuzzed too). */
function maybe<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 7 }, { arbitrary: arb, weight: 1 });
}
const headerGen = fc.record({
  depth: maybe(fc.constantFrom('0', '1', 'infinity', 'Infinity', '2', '-1', '', '1,1', '0 ')),
  overwrite: maybe(fc.constantFrom('T', 'F', 't', 'x', '')),
  destination: maybe(fc.oneof(fullPath, fullPath.map((p) => `http://127.0.0.1:1${p}`), fc.constantFrom('', 'relative/x', 'http://evil.example/remote.php/dav/files/fuzz/x', '/remote.php/dav/files/other/x', '/remote.php/dav/uploads/fuzz/x'))),
  if: maybe(fc.constantFrom('(<urn:uuid:00000000-0000-0000-0000-000000000000>)', '(Not <DAV:no-lock>)', '(["nope"])', '<http://x/y> (<a:b>)', '(', '()', '(<>)', 'garbage', '(["x"] Not ["y"])')),
  range: maybe(fc.constantFrom('bytes=0-0', 'bytes=-1', 'bytes=5-', 'bytes=1-0', 'bytes=0-1,3-4', 'bytes=999999999999-', 'items=0-1', 'bytes=-', 'bytes=--')),
  'if-match': maybe(fc.constantFrom('*', '"x"', 'garbage')),
  'if-none-match': maybe(fc.constantFrom('*', '"x"')),
  'x-oc-mtime': maybe(fc.constantFrom('0', '-5', '1e20', 'abc', '1700000000')),
  'oc-checksum': maybe(fc.constantFrom('SHA1:0000', 'MD5:x', 'garbage')),
  'content-type': maybe(fc.constantFrom('application/xml', 'text/xml; charset=utf-8', 'application/octet-stream')),
  timeout: maybe(fc.constantFrom('Second-1', 'Infinite', 'Second-99999999999', 'x')),
});
const method = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'DELETE', 'COPY', 'MOVE', 'LOCK', 'UNLOCK'), weight: 9 },
  fc.constantFrom('OPTIONS', 'PATCH', 'REPORT', 'SEARCH', 'TRACE', 'get', 'X'.repeat(30)),
);
const body = fc.oneof({ arbitrary: propXml, weight: 3 }, { arbitrary: fc.constant(undefined), weight: 3 }, fc.string({ maxLength: 100 }));

describe('fuzz: HTTP handlers', () => {
  let t: TestInstance;
  let ok = 0;
  let failed = 0;
  const statuses = new Map<number, number>();
  before(async () => {
    t = await startTestInstance();
    await enableEncryption(t);
    await t.addUser(U.uid, U.password, { quota: 50 * 1024 * 1024 });
    await t.app.files.ensureHome('fuzz');
  });
  after(async () => {
    console.log(`# HTTP fuzz cases run: ${httpCases} (random requests: ${ok} succeeded, ${failed} refused; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))})`);
    await t.stop();
  });

  /**
   * Everything a request could change in the user's tree: names and content hashes, plus each
   * node's mtime, etag, favorite flag and dead properties (a refused PROPPATCH or PUT must not
   * touch them either).
   */
  async function state(): Promise<Map<string, string>> {
    const m = await snapshotTree(t.app, 'fuzz');
    const rows = await t.app.db.selectFrom('nodes').select(['fileid', 'path', 'mtime', 'etag', 'favorite']).where('owner', '=', 'fuzz').execute();
    const props = await t.app.db.selectFrom('properties').select(['fileid', 'namespace', 'name', 'value']).where('fileid', 'in', rows.length ? rows.map((r) => r.fileid) : [-1]).execute();
    for (const r of rows) {
      const mine = props.filter((p) => p.fileid === r.fileid).map((p) => `{${p.namespace}}${p.name}=${p.value}`).sort();
      m.set(`meta:${r.path}`, `${r.mtime} ${r.etag} ${r.favorite} ${mine.join(' ')}`);
    }
    return m;
  }

  /** A small known tree, rebuilt when a successful request changed it too much. */
  async function resetTree() {
    for (const n of await t.app.files.children('fuzz', '')) await t.app.files.delete('fuzz', n.path);
    await t.app.locks.removeUnder('fuzz', '');
    await t.app.files.writeFile(userActor('fuzz', 'password'), 'fuzz', 'a.txt', Readable.from([Buffer.from('0123456789')]), {});
    await t.app.files.mkdir('fuzz', 'dir');
    await t.app.files.writeFile(userActor('fuzz', 'password'), 'fuzz', 'dir/b.txt', Readable.from([Buffer.from('bbb')]), {});
    await t.app.files.writeFile(userActor('fuzz', 'password'), 'fuzz', 'café.txt', Readable.from([Buffer.from('nfc')]), {});
  }

  test('random requests: no 5xx; failed requests change nothing', async () => {
    await resetTree();
    await fc.assert(fc.asyncProperty(method, fullPath, headerGen, body, async (m, path, hdrs, b) => {
      httpCases++;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(hdrs)) if (v !== undefined) headers[k] = v;
      if (headers.destination && headers.destination.startsWith('/')) headers.destination = t.url + headers.destination;
      const before = await state();
      const r = await request(t.url, m, path, { as: U, headers, body: b, timeoutMs: 20_000 }).catch((e: Error) => ({ status: -1, text: e.message }));
      assert.ok(r.status > 0, `${m} ${path}: ${r.text}`);
      // 502 is RFC 4918's answer for a Destination on another server: a refusal, not a failure
      assert.ok(r.status < 500 || r.status === 502, `${m} ${path} ${JSON.stringify(headers)} body=${JSON.stringify(b)?.slice(0, 80)} → ${r.status} ${r.text.slice(0, 300)}`);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (process.env.FUZZ_DEBUG && r.status === 400) console.log('#400', m, path, JSON.stringify(headers), r.text.replace(/\s+/g, ' ').slice(150, 330));
      if (r.status >= 400) {
        failed++;
        assert.deepEqual(await state(), before, `${m} ${path} ${JSON.stringify(headers)} failed with ${r.status} but changed the tree`);
      } else {
        ok++;
      }
      await t.app.locks.removeUnder('fuzz', '');
      if (!(await t.app.files.tryStat('fuzz', 'a.txt')) || !(await t.app.files.tryStat('fuzz', 'dir/b.txt'))) await resetTree();
    }), { numRuns: HTTP_RUNS });
    // still serving
    assert.equal((await request(t.url, 'PROPFIND', '/remote.php/dav/files/fuzz/', { as: U, headers: { depth: '0' } })).status, 207);
  });

  test('regression: a name with a backslash is refused (its href %5C could never be used again)', async () => {
    // found by the parser fuzz: PUT /…/a\\b.txt answered 201, PROPFIND listed …/a%5Cb.txt, GET of that href 400
    for (const m of ['PUT', 'MKCOL']) {
      const r = await request(t.url, m, '/remote.php/dav/files/fuzz/a\\b.txt', { as: U, body: m === 'PUT' ? 'x' : undefined });
      httpCases++;
      assert.equal(r.status, 400, `${m}: ${r.status}`);
    }
    const mv = await request(t.url, 'MOVE', '/remote.php/dav/files/fuzz/a.txt', { as: U, headers: { destination: `${t.url}/remote.php/dav/files/fuzz/x\\y.txt` } });
    assert.ok(mv.status === 400, `MOVE to a backslash name: ${mv.status}`);
    for await (const n of t.app.files.walk('fuzz', '', Infinity)) assert.ok(!n.name.includes('\\'), n.path);
  });

  test('blank names (a lone BOM, spaces) as a path or a Destination: 400, nothing changed', async () => {
    await resetTree();
    const before = await state();
    for (const name of ['%EF%BB%BF', '%20', '%20%20', '%EF%BB%BF%20']) {
      for (const [m, p, h] of [
        ['PUT', `/remote.php/dav/files/fuzz/${name}`, {}],
        ['MKCOL', `/remote.php/dav/files/fuzz/dir/${name}`, {}],
        ['MOVE', '/remote.php/dav/files/fuzz/a.txt', { destination: `${t.url}/remote.php/dav/files/fuzz/${name}` }],
        ['COPY', '/remote.php/dav/files/fuzz/dir', { destination: `${t.url}/remote.php/dav/files/fuzz/dir/${name}` }],
      ] as const) {
        httpCases++;
        const r = await request(t.url, m, p, { as: U, headers: h, body: m === 'PUT' ? 'x' : undefined });
        assert.ok(r.status === 400 || r.status === 404 || r.status === 409 || r.status === 403, `${m} ${p} ${JSON.stringify(h)} → ${r.status}`);
      }
    }
    assert.deepEqual(await state(), before);
  });

  test('Range GETs on an encrypted file: exactly the bytes asked for (206), the whole file, or 416', async () => {
    const content = pattern(77, 200_000);
    await t.app.files.writeFile(userActor('fuzz', 'password'), 'fuzz', 'ranged.bin', Readable.from([content]), {});
    const n = content.length;
    const bound = fc.oneof(fc.integer({ min: 0, max: n + 10 }), fc.constantFrom(0, 1, 8191, 8192, 8193, 65535, 65536, 65537, n - 1, n, n + 1));
    const range = fc.oneof(
      fc.tuple(bound, bound).map(([a, b]) => `bytes=${a}-${b}`),
      bound.map((a) => `bytes=${a}-`),
      bound.map((b) => `bytes=-${b}`),
    );
    await fc.assert(fc.asyncProperty(range, async (h) => {
      httpCases++;
      const r = await request(t.url, 'GET', '/remote.php/dav/files/fuzz/ranged.bin', { as: U, headers: { range: h } });
      assert.ok([200, 206, 416].includes(r.status), `${h} → ${r.status}`);
      if (r.status === 200) assert.equal(sha256(r.body), sha256(content), h);
      if (r.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(r.headers['content-range']));
        assert.ok(m, `${h}: Content-Range ${r.headers['content-range']}`);
        const [a, b] = [Number(m[1]), Number(m[2])];
        assert.equal(Number(m[3]), n);
        assert.ok(a <= b && b < n, `${h} → ${m[0]}`);
        assert.ok(r.body.equals(content.subarray(a, b + 1)), `${h}: the bytes differ from ${a}-${b}`);
        const want = /^bytes=(\d+)-(\d*)$/.exec(h);
        if (want) assert.equal(a, Number(want[1]), `${h}: starts where asked`);
      }
    }), { numRuns: Number(process.env.FUZZ_RANGE_RUNS ?? 200) });
  });

  test('Unicode normalisation: NFD and NFC spellings reach the same file', async () => {
    await resetTree();
    for (const p of ['caf%C3%A9.txt', 'cafe%CC%81.txt']) {
      const r = await request(t.url, 'GET', `/remote.php/dav/files/fuzz/${p}`, { as: U });
      httpCases++;
      assert.equal(r.status, 200, p);
      assert.equal(r.text, 'nfc');
    }
    assert.equal((await request(t.url, 'PUT', '/remote.php/dav/files/fuzz/cafe%CC%81.txt', { as: U, body: 'via nfd' })).status, 204);
    assert.equal((await t.app.files.children('fuzz', '')).filter((n) => n.name.startsWith('caf')).length, 1);
  });

  test('random chunk sequences: assembly is the chunks in order, whole, or a refusal that changes nothing', async () => {
    await resetTree();
    const chunkOp = fc.record({
      name: fc.oneof(fc.integer({ min: 0, max: 12 }).map((n) => String(n).padStart(5, '0')), fc.constantFrom('1', '2', '10', '00003', '-1', 'abc', '.file', '%2e%2e', '0001-0005', '99999999999999999999999')),
      size: fc.integer({ min: 0, max: 3000 }),
      fill: fc.integer({ min: 0, max: 255 }),
    });
    let id = 0;
    await fc.assert(fc.asyncProperty(fc.array(chunkOp, { maxLength: 6 }), fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined }), fc.boolean(), async (ops, total, withDel) => {
      httpCases++;
      const up = `/remote.php/dav/uploads/fuzz/fz-${id++}`;
      const mk = await request(t.url, 'MKCOL', up, { as: U, headers: total !== undefined ? { 'oc-total-length': String(total) } : {} });
      assert.ok(mk.status < 500, `MKCOL ${mk.status}`);
      const written = new Map<string, Buffer>();
      for (const op of ops) {
        httpCases++;
        const data = Buffer.alloc(op.size, op.fill);
        const r = await request(t.url, 'PUT', `${up}/${op.name}`, { as: U, body: data });
        assert.ok(r.status < 500, `PUT chunk ${op.name} → ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status < 300) written.set(op.name, data);
        if (withDel && written.size > 1 && op.fill % 3 === 0) {
          const victim = [...written.keys()][0]!;
          const d = await request(t.url, 'DELETE', `${up}/${victim}`, { as: U });
          assert.ok(d.status < 500);
          if (d.status < 300) written.delete(victim);
        }
      }
      const before = await state();
      const mv = await request(t.url, 'MOVE', `${up}/.file`, { as: U, headers: { destination: `${t.url}/remote.php/dav/files/fuzz/assembled.bin`, ...(total !== undefined ? { 'oc-total-length': String(total) } : {}) } });
      httpCases++;
      assert.ok(mv.status < 500, `assemble → ${mv.status} ${mv.text.slice(0, 300)}`);
      if (mv.status < 300) {
        const order = [...written.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
        const want = Buffer.concat(order.map((k) => written.get(k)!));
        const got = await request(t.url, 'GET', '/remote.php/dav/files/fuzz/assembled.bin', { as: U });
        assert.equal(sha256(got.body), sha256(want), `assembled content differs: chunks ${order.join(',')}`);
      } else {
        assert.deepEqual(await state(), before);
      }
      await request(t.url, 'DELETE', up, { as: U });
    }), { numRuns: CHUNK_RUNS });
  });
});
