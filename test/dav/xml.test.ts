import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { parseXml } from '../../src/dav/xml-reader.ts';
import { escapeXml, propElement, qname } from '../../src/dav/xml-writer.ts';

describe('parseXml', () => {
  it('resolves namespaces, including xmlns="" and non-URI namespaces', () => {
    const root = parseXml('<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><foo xmlns="">bar</foo><a:x xmlns:a="alpha">1</a:x></D:prop></D:set></D:propertyupdate>');
    assert.equal(root.ns, 'DAV:');
    assert.equal(root.local, 'propertyupdate');
    const props = root.children[0]!.children[0]!.children;
    assert.deepEqual(props.map((p) => [p.ns, p.local, p.text]), [['', 'foo', 'bar'], ['alpha', 'x', '1']]);
  });

  it('decodes characters above U+FFFF', () => {
    const el = parseXml('<x xmlns="urn:a">&#65536;</x>');
    assert.equal(el.text, '\u{10000}');
  });

  it('re-serialises values self-contained, with their own namespaces', () => {
    const el = parseXml('<t:v xmlns:t="urn:t" xmlns:q="urn:q"><foo xmlns="bar" a="1" q:z="2"/>txt<![CDATA[<c>]]><q:y>&amp;</q:y></t:v>');
    assert.equal(el.innerXml(), '<foo xmlns="bar" a="1" xmlns:a0="urn:q" a0:z="2"/>txt&lt;c&gt;<y xmlns="urn:q">&amp;</y>');
    assert.equal(el.xml(), '<v xmlns="urn:t"><foo xmlns="bar" a="1" xmlns:a0="urn:q" a0:z="2"/>txt&lt;c&gt;<y xmlns="urn:q">&amp;</y></v>');
    // the serialisation parses back to the same tree
    const again = parseXml(el.xml());
    assert.equal(again.children[0]!.ns, 'bar');
    assert.equal(again.children[0]!.attrs.a, '1');
  });

  for (const [name, body] of [
    ['malformed', '<foo>'],
    ['empty prefix binding', '<bar:foo xmlns:bar=""/>'],
    ['undeclared prefix', '<bar:foo/>'],
    ['XXE', '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>'],
    ['DOCTYPE alone', '<!DOCTYPE foo><foo/>'],
    ['billion laughs', '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>'],
    ['undefined entity', '<foo>&bar;</foo>'],
    ['empty', '  '],
    ['text only', 'hello'],
    ['too deep', '<a>'.repeat(100) + '</a>'.repeat(100)],
  ] as const) {
    it(`rejects ${name} with ValidationError`, () => {
      assert.throws(() => parseXml(body), ValidationError);
    });
  }

  it('limits the number of elements', () => {
    assert.throws(() => parseXml(`<a>${'<b/>'.repeat(50)}</a>`, { maxElements: 10 }), ValidationError);
  });
});

describe('xml writer', () => {
  it('escapes markup characters', () => {
    assert.equal(escapeXml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    assert.equal(escapeXml('plain'), 'plain');
  });
  it('uses prefixes for known namespaces and a default namespace otherwise', () => {
    assert.equal(qname('DAV:', 'getetag').open, 'd:getetag');
    assert.equal(propElement('', 'foo', ''), '<foo xmlns=""/>');
    assert.equal(propElement('urn:"x"', 'foo', 'v'), '<foo xmlns="urn:&quot;x&quot;">v</foo>');
  });
});
