/** The SQL of the share repository: the live-share query, its filters, and the hot queries as templates. */
import { sql, type ExpressionBuilder } from 'kysely';
import type { Db } from '../db/database.ts';
import { num, type Database } from '../db/schema.ts';
import { QueryTemplate } from '../db/query-template.ts';
import { toNode } from '../files/node-repository.ts';
import { SHARE_TYPE_GROUP, SHARE_TYPE_USER, type Share, type ShareType } from './share-types.ts';
import type { ShareWithNode } from './share-repository.ts';

export const SHARE_COLS = [
  's.id', 's.share_type', 's.owner', 's.initiator', 's.file_id', 's.item_type', 's.share_with', 's.permissions',
  's.token', 's.password_hash', 's.expiration', 's.stime', 's.file_target', 's.note', 's.label',
] as const;

/** Maps a `shares` row to a Share. */
export function toShare(r: Record<string, unknown>): Share {
  return {
    id: num(r.id as number),
    shareType: num(r.share_type as number) as ShareType,
    owner: r.owner as string,
    initiator: r.initiator as string,
    fileId: num(r.file_id as number),
    itemType: r.item_type as 'file' | 'folder',
    shareWith: (r.share_with as string | null) ?? null,
    permissions: num(r.permissions as number),
    token: (r.token as string | null) ?? null,
    hasPassword: r.password_hash !== null && r.password_hash !== undefined,
    expiration: r.expiration === null || r.expiration === undefined ? null : num(r.expiration as number),
    stime: num(r.stime as number),
    fileTarget: r.file_target as string,
    note: (r.note as string) ?? '',
    label: (r.label as string) ?? '',
  };
}

export function splitRow(r: Record<string, unknown>): ShareWithNode {
  const node: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (k.startsWith('n_')) node[k.slice(2)] = v;
  return { share: toShare(r), node: toNode(node) };
}

export type SharesEb = ExpressionBuilder<Database & { s: Database['shares'] }, 's'>;

/**
 * Neither the share's owner nor its initiator is a disabled account: a disabled user's shares and
 * links (and reshares of their files) stop working while they are disabled, and come back as they
 * were when the account is enabled again, because nothing is deleted or rewritten.
 */
export function sharersEnabled(eb: SharesEb) {
  return eb.not(eb.exists(eb.selectFrom('users as du').select('du.uid')
    .where('du.enabled', '=', 0)
    .where((e) => e.or([e('du.uid', '=', e.ref('s.owner')), e('du.uid', '=', e.ref('s.initiator'))]))));
}

/** Live shares joined with their node (dangling shares and those of disabled sharers drop out). */
export function baseQuery(db: Db, now: unknown) {
  return db.selectFrom('shares as s')
    .innerJoin('nodes as n', 'n.fileid', 's.file_id')
    .select([...SHARE_COLS])
    .select([
      'n.fileid as n_fileid', 'n.owner as n_owner', 'n.parent_id as n_parent_id', 'n.path as n_path', 'n.name as n_name',
      'n.kind as n_kind', 'n.size as n_size', 'n.mtime as n_mtime', 'n.etag as n_etag', 'n.mimetype as n_mimetype',
      'n.blob_id as n_blob_id', 'n.blob_codec as n_blob_codec', 'n.checksum as n_checksum', 'n.favorite as n_favorite', 'n.blob_seal as n_blob_seal',
    ])
    .where((eb) => eb.or([eb('s.expiration', 'is', null), eb('s.expiration', '>', now as number)]))
    .where(sharersEnabled);
}

/** Shares `s` received by `uid`: user shares to them and group shares to their groups, not their own. */
export function receivedBy(uid: string) {
  return (eb: SharesEb) => eb.and([
    eb.or([
      eb.and([eb('s.share_type', '=', SHARE_TYPE_USER), eb('s.share_with', '=', uid)]),
      eb.and([eb('s.share_type', '=', SHARE_TYPE_GROUP),
        eb('s.share_with', 'in', eb.selectFrom('group_members').select('gid').where('uid', '=', uid))]),
    ]),
    eb('s.owner', '<>', uid),
  ]);
}

/** Visible mounts of `uid` named `mountPoint` whose share still reaches them (unordered). */
function mountsNamedQuery(db: Db, uid: unknown, mountPoint: unknown, now: unknown) {
  return baseQuery(db, now)
    .innerJoin('share_mounts as m', 'm.share_id', 's.id')
    .select('m.file_target as m_target')
    .where('m.uid', '=', uid as string)
    .where('m.file_target', '=', mountPoint as string)
    .where('m.hidden', '=', 0)
    .where(receivedBy(uid as string));
}

/** The number of live shares received by `uid` that have no mount row yet, as column `c`. */
function unmountedCountQuery(db: Db, uid: unknown, now: unknown) {
  return db.selectFrom('shares as s')
    .leftJoin('share_mounts as m', (j) => j.onRef('m.share_id', '=', 's.id').on('m.uid', '=', uid as string))
    .select((eb) => eb.fn.countAll<number | string>().as('c'))
    .where('m.share_id', 'is', null)
    .where((eb) => eb.or([eb('s.expiration', 'is', null), eb('s.expiration', '>', now as number)]))
    .where(sharersEnabled)
    .where(receivedBy(uid as string))
    .where('s.initiator', '<>', uid as string);
}

// Every WebDAV request resolves its path through the queries below: compiled once, then only bound.
/** Params: uid, mount point, now. */
export const MOUNTS_NAMED = new QueryTemplate<Record<string, unknown>>((db, [uid, mountPoint, now]) => mountsNamedQuery(db, uid, mountPoint, now)
  .orderBy('s.id'));

/**
 * Params: uid, mount point, now. MOUNTS_NAMED and the count of unmounted received shares in one
 * round trip: the count's one row, left-joined with the mount rows (so there is always a row; with
 * no mount, its mount columns are null). On PostgreSQL every request saves a round trip this way.
 */
export const MOUNTS_NAMED_AND_UNMOUNTED = new QueryTemplate<Record<string, unknown>>((db, [uid, mountPoint, now]) => db
  .selectFrom(unmountedCountQuery(db, uid, now).as('u'))
  .leftJoin(mountsNamedQuery(db, uid, mountPoint, now).as('mm'), (j) => j.on(sql<number>`1`, '=', sql<number>`1`))
  .select('u.c as unmounted_count')
  .selectAll('mm')
  .orderBy('mm.id'));

/** Above this many live shares of one owner, share types are looked up by file id instead. */
export const OWNER_SCAN_LIMIT = 2000;

/** Params: owner, now, limit. */
export const OWNER_SHARE_TYPES = new QueryTemplate<{ file_id: number | string; share_type: number | string }>((db, [owner, now, limit]) => db
  .selectFrom('shares').select(['file_id', 'share_type'])
  .where('owner', '=', owner as string)
  .where((eb) => eb.or([eb('expiration', 'is', null), eb('expiration', '>', now as number)]))
  .limit(limit as number));

/** Params: now, owner. Every write asks it (who sees the change: push and the activity stream). */
export const SHARES_OF_OWNER = new QueryTemplate<Record<string, unknown>>((db, [now, owner]) => baseQuery(db, now)
  .where('s.owner', '=', owner as string).orderBy('s.id'));

