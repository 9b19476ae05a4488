import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderOcs, requestedFormat } from '../../src/ocs/ocs-format.ts';
import { parseQuota, quotaInfo } from '../../src/ocs/quota-format.ts';
import { ValidationError } from '../../src/errors.ts';

describe('OCS format helpers', () => {
  it('chooses JSON by ?format or Accept, XML otherwise', () => {
    assert.equal(requestedFormat(new URLSearchParams('format=json'), undefined), 'json');
    assert.equal(requestedFormat(new URLSearchParams('format=xml'), 'application/json'), 'xml');
    assert.equal(requestedFormat(new URLSearchParams(), 'application/json, text/plain'), 'json');
    assert.equal(requestedFormat(new URLSearchParams(), '*/*'), 'xml');
  });

  it('renders XML with escaping, <element> list items and PHP-style booleans', () => {
    const xml = renderOcs('xml', { status: 'ok', statuscode: 100, message: 'OK', totalitems: '', itemsperpage: '' },
      { name: 'a<b>&"c"', list: ['x', 'y'], empty: [], yes: true, no: false, nil: null, '1bad': 'v', nested: { k: 1 } });
    assert.match(xml, /<name>a&lt;b&gt;&amp;&quot;c&quot;<\/name>/);
    assert.match(xml, /<list>\n   <element>x<\/element>\n   <element>y<\/element>\n  <\/list>/);
    assert.match(xml, /<empty\/>/);
    assert.match(xml, /<yes>1<\/yes>/);
    assert.match(xml, /<no\/>/);
    assert.match(xml, /<nil\/>/);
    assert.match(xml, /<element>v<\/element>/, 'keys that are not XML names become <element>');
    assert.match(xml, /<nested>\n   <k>1<\/k>\n  <\/nested>/);
    assert.match(xml, /<totalitems\/>/);
    const json = JSON.parse(renderOcs('json', { status: 'ok', statuscode: 200, message: 'OK' }, undefined));
    assert.deepEqual(json, { ocs: { meta: { status: 'ok', statuscode: 200, message: 'OK' }, data: [] } });
  });

  it('parses quotas as Nextcloud (binary units, none/default) and computes the quota object', () => {
    assert.equal(parseQuota('1073741824'), 2 ** 30);
    assert.equal(parseQuota('5 GB'), 5 * 2 ** 30);
    assert.equal(parseQuota('512MB'), 512 * 2 ** 20);
    assert.equal(parseQuota('1.5 KB'), 1536);
    assert.equal(parseQuota('none'), null);
    assert.equal(parseQuota('default'), null);
    assert.throws(() => parseQuota('lots'), ValidationError);
    assert.throws(() => parseQuota('-5'), ValidationError);
    assert.deepEqual(quotaInfo(25, 100, 0), { free: 75, used: 25, total: 100, relative: 25, quota: 100 });
    assert.deepEqual(quotaInfo(150, 100, 0), { free: 0, used: 150, total: 100, relative: 150, quota: 100 });
    assert.deepEqual(quotaInfo(1, null, 2), { free: 2, used: 1, total: 3, relative: 33.33, quota: -3 });
  });
});
