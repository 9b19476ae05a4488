/**
 * Nextcloud's share rows as the importer maps them: `permissions` to the set Coffer's rules allow
 * (importedPermissions, checked against checkPermissions itself), and the per-user rows of group
 * shares (share_type 2) to the members' mounts; `expiration` read alike from every driver's form and
 * carried over as the day Nextcloud showed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkPermissions, importedPermissions } from '../../src/sharing/share-permissions.ts';
import { ncGroupShareMounts } from '../../src/import/nextcloud-share-mounts.ts';
import { ncDateTime } from '../../src/import/nextcloud-columns.ts';
import { importedExpiration, ncExpiryDay } from '../../src/import/nextcloud-share-expiration.ts';
import { expirationDay } from '../../src/sharing/share-input.ts';
import type { NcShare } from '../../src/import/nextcloud-source.ts';

describe('Nextcloud share rows mapped for Coffer', () => {
  test('permissions: what Coffer allows of what Nextcloud stored', () => {
    const cases: [number, 'file' | 'folder', number, number | undefined][] = [
      [3, 'folder', 17, 1], // a read-only link: Nextcloud adds the share bit to every link
      [3, 'file', 17, 1],
      [3, 'folder', 31, 15], // upload and editing
      [3, 'folder', 4, 4], // file drop
      [3, 'folder', 5, 5],
      [3, 'folder', 13, 5], // read + create + delete is no link set: the largest within it
      [3, 'file', 19, 3], // an editable file link
      [3, 'file', 4, undefined],
      [0, 'folder', 31, 31],
      [0, 'file', 31, 19], // no create/delete on files
      [1, 'folder', 1, 1],
      [1, 'folder', 0, undefined],
      [0, 'folder', 4, undefined], // no read
      [0, 'folder', 63, 31],
    ];
    for (const [type, item, nc, want] of cases) {
      const got = importedPermissions(type, item, nc);
      assert.equal(got, want, `${type} ${item} ${nc}`);
      if (got !== undefined) checkPermissions(type, item, got, 31); // throws when Coffer's rules refuse it
    }
  });

  test('per-user rows of a group share become its members\' mounts', () => {
    const base: NcShare = {
      id: 2, shareType: 1, shareWith: 'team', owner: 'alice', initiator: 'alice', parent: null, itemType: 'folder', fileId: 9,
      fileTarget: '/Project', permissions: 1, stime: 0, expiration: null, token: null, passwordHash: null, note: '', label: '', accepted: 0,
    };
    const row = (id: number, over: Partial<NcShare>): NcShare => ({ ...base, id, shareType: 2, parent: 2, accepted: 1, ...over });
    const rows = [base, row(3, { shareWith: 'bob', fileTarget: '/Sub/Renamed' }), row(4, { shareWith: 'carol', permissions: 0 }),
      row(5, { shareWith: 'dave', accepted: 2 }), row(6, { shareWith: 'erin', parent: 7 }), { ...base, id: 8, shareType: 0, shareWith: 'bob' }];
    assert.deepEqual(ncGroupShareMounts(base, rows), [
      { uid: 'bob', fileTarget: '/Sub/Renamed', hidden: false },
      { uid: 'carol', fileTarget: '/Project', hidden: true },
      { uid: 'dave', fileTarget: '/Project', hidden: true },
    ]);
    assert.deepEqual(ncGroupShareMounts(rows[5]!, rows), []);
  });

  test('expiration: the UTC text Nextcloud writes, in whatever form a driver hands it over', () => {
    const want = Date.UTC(2030, 5, 14, 22, 0, 0) / 1000;
    assert.equal(ncDateTime('2030-06-14 22:00:00'), want); // SQLite, mysql2 with dateStrings, pg with raw timestamps
    assert.equal(ncDateTime('2030-06-14T22:00:00'), want);
    assert.equal(ncDateTime('2030-06-15 00:00:00+02'), want); // a timestamptz column
    assert.equal(ncDateTime('2030-06-14 17:30:00-04:30'), want);
    assert.equal(ncDateTime(new Date(want * 1000)), want); // a driver that makes Dates
    assert.equal(ncDateTime(Buffer.from('2030-06-14 22:00:00')), want);
    for (const none of [null, undefined, '', '0000-00-00 00:00:00']) assert.equal(ncDateTime(none), null);
    // never guessed: an expiry read wrong would lengthen or cut the share's life
    for (const bad of ['tomorrow', '2030-02-30 00:00:00', new Date(Number.NaN)]) assert.throws(() => ncDateTime(bad), /unreadable date-time/);
  });

  test('expiration: the day Nextcloud showed, in the timezone of who set it, ends in Coffer with that day', () => {
    // "2030-06-15" set by a user in Berlin (CEST): Nextcloud stores 2030-06-14 22:00 UTC
    const berlin = ncDateTime('2030-06-14 22:00:00')!;
    assert.equal(ncExpiryDay(berlin, 'Europe/Berlin'), '2030-06-15');
    assert.equal(ncExpiryDay(berlin, 'UTC'), '2030-06-14');
    assert.equal(ncExpiryDay(ncDateTime('2030-01-20 00:00:00')!, 'UTC'), '2030-01-20');
    assert.equal(ncExpiryDay(ncDateTime('2030-01-20 05:00:00')!, 'America/New_York'), '2030-01-20');
    assert.equal(ncExpiryDay(berlin, 'Not/AZone'), '2030-06-14', 'an unknown timezone counts as UTC, as in Nextcloud');
    const c = importedExpiration(berlin, 'Europe/Berlin');
    assert.equal(expirationDay(c), '2030-06-15', 'OCS shows the day Nextcloud showed');
    assert.equal(c, Date.UTC(2030, 5, 16) / 1000, 'the share works through that day');
  });
});
