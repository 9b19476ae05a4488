/**
 * Property-based fuzzing (fast-check) of the pure parsers: If header, XML bodies (PROPFIND,
 * PROPPATCH, LOCK), Range, Destination and path decoding, normalizePath. Each either returns a
 * well-formed value or throws one of the typed errors; never anything else.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../../src/errors.ts';
import { DavStatusError } from '../../src/dav/dav-errors.ts';
import { parseIfHeader } from '../../src/dav/if-header.ts';
import { parseXml } from '../../src/dav/xml-reader.ts';
import { parsePropfind } from '../../src/dav/propfind.ts';
import { parsePropertyUpdate } from '../../src/dav/proppatch.ts';
import { parseLockInfo } from '../../src/dav/lock-handler.ts';
import { parseRange } from '../../src/dav/http-util.ts';
import { decodeRelPath, encodePath, resolveDestination, resolveFilesTarget } from '../../src/dav/dav-target.ts';
import { normalizePath } from '../../src/files/paths.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
let cases = 0;
after(() => { console.log(`# parser fuzz cases run: ${cases}`); });

/** Runs fn; returns its value, or undefined when it threw a typed error; rethrows anything else. */
function typed<T>(fn: () => T): T | undefined {
  cases++;
  try {
    return fn();
  } catch (err) {
    if (err instanceof AppError || err instanceof DavStatusError) return undefined;
    throw err;
  }
}

const unicodeChar = fc.oneof(
  fc.constantFrom('a', 'Z', '0', ' ', '.', '/', '\\', '%', '+', '?', '#', ';', '&', '~', '\0', '\t', '\n', 'é', 'e\u0301', 'Å', 'A\u030a', '日', '😀', '\uFEFF', '\u202e', '<', '>', '"', "'", '(', ')', '[', ']', ',', '*'),
  fc.string({ unit: 'grapheme', maxLength: 1 }),
);
const nasty = fc.array(unicodeChar, { maxLength: 40 }).map((a) => a.join(''));
const percentish = fc.array(fc.oneof(unicodeChar, fc.constantFrom('%2F', '%2f', '%5C', '%00', '%2e', '%2E%2E', '%', '%G1', '%e9', '%C3%A9', '%65%CC%81', '%ZZ', '%25', '/', '//', '/../', '/./')), { maxLength: 30 }).map((a) => a.join(''));

describe('fuzz: parsers', () => {
  test('parseIfHeader: arbitrary strings → IfHeader or ValidationError', () => {
    const token = fc.oneof(fc.constant('urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427'), fc.constant('opaquelocktoken:abc'), nasty);
    const cond = fc.tuple(fc.boolean(), fc.oneof(token.map((t) => `<${t}>`), nasty.map((e) => `["${e}"]`), fc.constant('[W/"x"]'))).map(([not, c]) => `${not ? 'Not ' : ''}${c}`);
    const list = fc.array(cond, { maxLength: 4 }).map((cs) => `(${cs.join(' ')})`);
    const header = fc.array(fc.tuple(fc.option(nasty.map((u) => `<http://h/${u}>`)), fc.array(list, { minLength: 1, maxLength: 3 })), { maxLength: 3 })
      .map((gs) => gs.map(([r, ls]) => `${r ?? ''} ${ls.join(' ')}`).join(' '));
    fc.assert(fc.property(fc.oneof(header, nasty, fc.string({ maxLength: 200 })), (h) => {
      const r = typed(() => parseIfHeader(h));
      if (r) assert.ok(typeof r === 'object');
    }), { numRuns: RUNS });
    assert.ok(typed(() => parseIfHeader('(<urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427> ["e1"])')));
    assert.throws(() => parseIfHeader('('.repeat(20_000)), AppError);
  });

  // random XML documents: namespaced elements, attributes, text, entities, CDATA, comments, DOCTYPEs
  const name = fc.constantFrom('propfind', 'prop', 'allprop', 'propname', 'include', 'propertyupdate', 'set', 'remove', 'lockinfo', 'lockscope', 'exclusive', 'shared', 'locktype', 'write', 'owner', 'href', 'getlastmodified', 'favorite', 'x', 'a-b', '_y');
  const prefix = fc.constantFrom('d', 'oc', 'x', '');
  const text = fc.oneof(nasty.map((s) => s.replace(/[<&]/g, '')), fc.constantFrom('&amp;', '&lt;', '&#x41;', '&#0;', '&unknown;', '<![CDATA[<x>]]>', '<!-- c -->', '&#xD800;'));
  const xmlTree: fc.Arbitrary<string> = fc.letrec<{ el: string }>((tie) => ({
    el: fc.tuple(prefix, name, fc.array(fc.oneof({ maxDepth: 5, depthIdentifier: 'xml' }, text, tie('el')), { maxLength: 4, depthIdentifier: 'xml' }))
      .map(([p, n, kids]) => { const q = p ? `${p}:${n}` : n; return `<${q}>${kids.join('')}</${q}>`; }),
  })).el;
  const xmlDoc = fc.tuple(fc.constantFrom('', '<?xml version="1.0" encoding="utf-8"?>', '<!DOCTYPE x [<!ENTITY e "boom">]>', '\uFEFF'), prefix, name, fc.array(xmlTree, { maxLength: 4 }), fc.constantFrom('', ' a="1"', ' xmlns:z=""', ' d:x="&e;"'))
    .map(([decl, p, n, kids, attr]) => {
      const q = p ? `${p}:${n}` : n;
      return `${decl}<${q} xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:x="urn:x"${attr}>${kids.join('')}</${q}>`;
    });
  const anyBody = fc.oneof(xmlDoc, xmlDoc.map((s) => s.slice(0, Math.max(0, s.length - 7))), nasty, fc.string({ maxLength: 300 }));

  test('XML bodies: parseXml / parsePropfind / parsePropertyUpdate / parseLockInfo → value or ValidationError', () => {
    fc.assert(fc.property(anyBody, (body) => {
      typed(() => parseXml(body));
      const pf = typed(() => parsePropfind(body));
      if (pf) assert.ok(['prop', 'propname', 'allprop'].includes(pf.kind));
      const pp = typed(() => parsePropertyUpdate(body));
      if (pp) assert.ok(Array.isArray(pp));
      const li = typed(() => parseLockInfo(body));
      if (li) assert.ok(li.scope === 'exclusive' || li.scope === 'shared');
    }), { numRuns: RUNS });
  });

  test('XML depth, element count and entity expansion are bounded', () => {
    const deep = '<d:propfind xmlns:d="DAV:">' + '<d:prop>'.repeat(5000) + '</d:prop>'.repeat(5000) + '</d:propfind>';
    assert.throws(() => parsePropfind(deep), AppError);
    const billion = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><d:propfind xmlns:d="DAV:">&lol2;</d:propfind>';
    assert.throws(() => parsePropfind(billion), AppError);
    const ext = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><d:propfind xmlns:d="DAV:"><d:prop>&xxe;</d:prop></d:propfind>';
    assert.throws(() => parsePropfind(ext), AppError);
    const many = '<d:propfind xmlns:d="DAV:"><d:prop>' + '<d:x/>'.repeat(200_000) + '</d:prop></d:propfind>';
    assert.throws(() => parsePropfind(many), AppError);
    cases += 4;
  });

  test('parseRange: strings × sizes → whole, 416 or a range inside the file', () => {
    const rangeStr = fc.oneof(
      fc.tuple(fc.constantFrom('bytes=', 'BYTES =', 'bytes= ', 'items=', 'bytes'), fc.array(fc.tuple(fc.option(fc.nat(), { nil: undefined }), fc.option(fc.nat(), { nil: undefined })).map(([a, b]) => `${a ?? ''}-${b ?? ''}`), { minLength: 1, maxLength: 3 }))
        .map(([p, rs]) => p + rs.join(',')),
      fc.constantFrom('bytes=-0', 'bytes=0-0', 'bytes=99999999999999999999-', 'bytes=1e3-', 'bytes=0x10-', 'bytes=--1', 'bytes=5-3', 'bytes=-99999999999999999999'),
      nasty,
    );
    fc.assert(fc.property(rangeStr, fc.oneof(fc.constant(0), fc.nat(1 << 20), fc.constant(Number.MAX_SAFE_INTEGER)), (h, size) => {
      const r = typed(() => parseRange(h, size));
      if (r && r !== 'unsatisfiable') {
        assert.ok(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end), `${h} → ${JSON.stringify(r)}`);
        assert.ok(r.start >= 0 && r.start <= r.end && r.end < size, `${h} size ${size} → ${JSON.stringify(r)}`);
      }
    }), { numRuns: RUNS });
  });

  test('decodeRelPath / resolveFilesTarget: canonical paths or typed errors; never escapes the root', () => {
    fc.assert(fc.property(percentish, (raw) => {
      const p = typed(() => decodeRelPath(raw));
      if (p !== undefined) {
        // decodeRelPath once let control characters and blank names through ('%0A', '%20') for
        // the files service to refuse; now what it returns is canonical.
        assert.equal(normalizePath(p), p, `not canonical: ${JSON.stringify(raw)} → ${JSON.stringify(p)}`);
        assert.ok(!p.split('/').some((s) => s === '..' || s === '.'), raw);
      }
      for (const prefix of ['/remote.php/webdav', '/remote.php/dav/files/alice', '/remote.php/dav/files/', '/remote.php/dav/files/bob']) {
        const t = typed(() => resolveFilesTarget(prefix + raw, 'alice'));
        if (t) assert.equal(t.uid, 'alice', `${prefix}${raw} resolved into ${t.uid}'s tree`);
      }
    }), { numRuns: RUNS });
  });

  test('encodePath ∘ decodeRelPath round-trips every valid name (NFC)', () => {
    // Found here: a name with a backslash was valid for normalizePath but its href ('%5C') was
    // refused by decodeSegment. Fixed in paths.ts (backslash is a forbidden character, as in
    // Nextcloud); valid names now all round-trip.
    const seg = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => { try { return normalizePath(s) === s.normalize('NFC') && !s.includes('/'); } catch { return false; } });
    fc.assert(fc.property(fc.array(seg, { minLength: 1, maxLength: 4 }), (segs) => {
      cases++;
      const path = segs.map((s) => s.normalize('NFC')).join('/');
      assert.equal(decodeRelPath('/' + encodePath(path)), path);
    }), { numRuns: RUNS });
  });

  test('resolveDestination: arbitrary Destination/Host → own tree or typed error', () => {
    const dest = fc.oneof(
      fc.tuple(fc.constantFrom('http://', 'https://', 'HTTP://', 'ftp://', '//', '', 'http://user:pw@'), fc.constantFrom('127.0.0.1:8080', 'evil.example', '127.0.0.1', '[::1]:8080', ''), fc.constantFrom('/remote.php/dav/files/alice', '/remote.php/dav/files/bob', '/remote.php/webdav', '/remote.php/dav/uploads/alice', '/index.php', ''), percentish, fc.constantFrom('', '?x=1', '#frag'))
        .map((p) => p.join('')),
      nasty,
    );
    fc.assert(fc.property(dest, fc.constantFrom('127.0.0.1:8080', 'localhost', ''), (d, host) => {
      const req = { headers: { destination: d, host } } as unknown as IncomingMessage;
      const t = typed(() => resolveDestination(req, 'alice'));
      if (t) {
        assert.equal(t.uid, 'alice');
        // Found at FUZZ_RUNS=5000: a Destination naming a blank segment ('…/alice/%EF%BB%BF', a
        // lone BOM) used to resolve, and only the files service refused it. Now every resolved
        // Destination is already canonical.
        assert.equal(normalizePath(t.path), t.path, d);
        assert.ok(!t.path.split('/').some((x) => x === '..' || x === '.'), d);
      }
    }), { numRuns: RUNS });
  });

  test('normalizePath: idempotent, NFC, no dot segments, typed errors only', () => {
    const longName = fc.integer({ min: 200, max: 300 }).map((n) => 'é'.repeat(Math.ceil(n / 2)));
    fc.assert(fc.property(fc.oneof(nasty, percentish, longName, fc.constantFrom('CON', 'nul', 'a:b', ' ', '…', '\u200b')), (p) => {
      const n = typed(() => normalizePath(p));
      if (n !== undefined) {
        assert.equal(normalizePath(n), n);
        assert.equal(n, n.normalize('NFC'));
        assert.ok(!n.startsWith('/') && !n.endsWith('/'));
        assert.ok(n.split('/').every((s) => s !== '.' && s !== '..' && Buffer.byteLength(s) <= 255));
        assert.equal(typed(() => normalizePath(p.normalize('NFD'))), n, 'NFD and NFC spell the same path');
      }
    }), { numRuns: RUNS });
  });
});
