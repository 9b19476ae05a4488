import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastModified } from '../../src/dav/properties.ts';
import { httpDate } from '../../src/dav/http-util.ts';

test('getlastmodified formatting equals Date#toUTCString at boundaries and across the range', () => {
  const edges = [0, 1, 59, 60, 3599, 3600, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, 1_700_000_000, 4_102_444_799,
    253_402_300_799, 253_402_300_800, -1, -86_401, 1.5, 8.64e12];
  for (const s of edges) assert.equal(lastModified(s), httpDate(s), String(s));
  let x = 12345;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    const s = Math.floor((x / 2_147_483_648) * 253_402_300_800);
    assert.equal(lastModified(s), httpDate(s), String(s));
  }
});
