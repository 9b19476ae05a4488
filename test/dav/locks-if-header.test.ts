import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etagsMatch, evaluateIfHeader, parseIfHeader, submittedTokens, type IfResourceState } from '../../src/dav/if-header.ts';
import { ValidationError } from '../../src/errors.ts';

const T1 = 'urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2';
const T2 = 'urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092';

function state(etag: string | null, tokens: string[] = []): IfResourceState {
  return { etag, hasLock: (t) => tokens.includes(t) };
}
const only = (s: IfResourceState) => async () => s;

test('RFC 4918 §10.4.6: (<token> ["etag"]) (["other etag"]) parses as two untagged lists', async () => {
  const h = parseIfHeader(`(<${T1}> ["I am an ETag"]) (["I am another ETag"])`);
  assert.equal(h.tagged, false);
  assert.equal(h.groups.length, 1);
  assert.equal(h.groups[0]!.resource, null);
  assert.deepEqual(h.groups[0]!.lists, [
    [{ not: false, kind: 'token', token: T1 }, { not: false, kind: 'etag', etag: '"I am an ETag"' }],
    [{ not: false, kind: 'etag', etag: '"I am another ETag"' }],
  ]);
  assert.equal(await evaluateIfHeader(h, only(state('"I am another ETag"'))), true, 'second list alone holds');
  assert.equal(await evaluateIfHeader(h, only(state('"I am an ETag"', [T1]))), true, 'first list holds');
  assert.equal(await evaluateIfHeader(h, only(state('"I am an ETag"'))), false, 'token missing, etag of list 2 differs');
  assert.equal(await evaluateIfHeader(h, only(state(null))), false, 'unmapped resource');
});

test('RFC 4918 §10.4.7: (Not <t1> <t2>) — Not applies to one condition, conditions are ANDed', async () => {
  const h = parseIfHeader(`(Not <${T1}> <${T2}>)`);
  assert.deepEqual(h.groups[0]!.lists[0], [{ not: true, kind: 'token', token: T1 }, { not: false, kind: 'token', token: T2 }]);
  assert.equal(await evaluateIfHeader(h, only(state('"x"', [T2]))), true);
  assert.equal(await evaluateIfHeader(h, only(state('"x"', [T1, T2]))), false);
  assert.equal(await evaluateIfHeader(h, only(state('"x"', []))), false);
  assert.deepEqual([...submittedTokens(h)], [T2], 'a negated token is not submitted');
});

test('RFC 4918 §10.4.8: (<token>) (Not <DAV:no-lock>) always holds on an existing resource', async () => {
  const h = parseIfHeader(`(<${T1}>) (Not <DAV:no-lock>)`);
  assert.equal(await evaluateIfHeader(h, only(state('"e"'))), true);
  assert.equal(await evaluateIfHeader(parseIfHeader('(<DAV:no-lock>)'), only(state('"e"'))), false, '<DAV:no-lock> never matches');
  assert.deepEqual([...submittedTokens(h)], [T1]);
});

test('RFC 4918 §10.4.9/§10.4.10: tagged lists apply to the resource they name; weak etags compare', async () => {
  const h = parseIfHeader(`</resource1> (<${T1}> [W/"A weak ETag"]) (["strong ETag"])`);
  assert.equal(h.tagged, true);
  assert.equal(h.groups[0]!.resource, '/resource1');
  const seen: (string | null)[] = [];
  const ok = await evaluateIfHeader(h, async (r) => { seen.push(r); return state('"A weak ETag"', [T1]); });
  assert.equal(ok, true);
  assert.deepEqual(seen, ['/resource1']);
  const h2 = parseIfHeader(`<http://www.example.com/specs/> (<${T1}>)`);
  assert.equal(h2.groups[0]!.resource, 'http://www.example.com/specs/');
  assert.equal(await evaluateIfHeader(h2, only(state(null))), false, 'unknown resource: token condition is false');
  assert.equal(etagsMatch('W/"abc"', '"abc"'), true);
  assert.equal(etagsMatch('"abc"', '"abd"'), false);
});

test('RFC 4918 §10.4.11/§10.4.12: [etag] and Not [etag] on a tagged resource', async () => {
  const h = parseIfHeader('</specs/rfc2518.doc> (["4217"])');
  assert.equal(await evaluateIfHeader(h, only(state('"4217"'))), true);
  assert.equal(await evaluateIfHeader(h, only(state('"4218"'))), false);
  const n = parseIfHeader('</specs/rfc2518.doc> (Not ["4217"])');
  assert.equal(await evaluateIfHeader(n, only(state('"4217"'))), false);
  assert.equal(await evaluateIfHeader(n, only(state('"4218"'))), true);
});

test('several tagged resources: each must have a list that holds; lists for the same tag are merged', async () => {
  const h = parseIfHeader(`</a> (["1"]) </b> (["2"]) </a> (["3"])`);
  const states: Record<string, IfResourceState> = { '/a': state('"3"'), '/b': state('"2"') };
  assert.equal(await evaluateIfHeader(h, async (r) => states[r!]!), true);
  states['/b'] = state('"9"');
  assert.equal(await evaluateIfHeader(h, async (r) => states[r!]!), false);
});

test('litmus conditions: complex and corrupted-token headers', async () => {
  const tok = 'opaquelocktoken:1234';
  const s = state('"e1"', [tok]);
  assert.equal(await evaluateIfHeader(parseIfHeader(`(<${tok}> ["e1"]) (Not <DAV:no-lock> ["e1"])`), only(s)), true);
  assert.equal(await evaluateIfHeader(parseIfHeader(`(<${tok}> ["e2"]) (Not <DAV:no-lock> ["e2"])`), only(s)), false);
  const corrupt = parseIfHeader(`(<${tok}x>) (Not <DAV:no-lock>)`);
  assert.equal(await evaluateIfHeader(corrupt, only(s)), true, 'holds through the second list');
  assert.deepEqual([...submittedTokens(corrupt)], [`${tok}x`], 'but the real token was not submitted');
});

test('whitespace, commas from joined headers and lowercase not are tolerated', () => {
  const h = parseIfHeader(`  (<a:b>\t[ "x" ]) , (not <c:d>)  `);
  assert.equal(h.groups[0]!.lists.length, 2);
  assert.deepEqual(h.groups[0]!.lists[1], [{ not: true, kind: 'token', token: 'c:d' }]);
});

test('malformed If headers are rejected with ValidationError', () => {
  for (const bad of ['', '   ', '(', '(<a:b>', '()', '(foo)', '<a:b>', '<a:b> foo', '(<a:b>) </x> (<c:d>)',
    '</x> (<a:b>) (<c:d>) (["e"]) junk', '(["unquoted])', '([abc])', '(<>)', '(Not)', '(<a b>)']) {
    assert.throws(() => parseIfHeader(bad), ValidationError, `should reject ${JSON.stringify(bad)}`);
  }
  assert.throws(() => parseIfHeader('(' + '<a:b>'.repeat(5000) + ')'), ValidationError, 'too long');
});
