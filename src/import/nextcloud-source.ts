import type { NcDatabase, NcRow } from './nextcloud-database.ts';
import { ncDateTime, ncInt as n, ncText as s } from './nextcloud-columns.ts';

/** A Nextcloud user as the importer carries it over. */
export interface NcUser {
  readonly uid: string;
  readonly displayName: string;
  readonly email: string | null;
  /** Bytes; null = unlimited (Nextcloud "none", or no quota of their own and no `files/default_quota`). */
  readonly quota: number | null;
  /** The quota Nextcloud stored when it is no size it understands (carried over as unlimited, and reported). */
  readonly quotaNotUnderstood?: string;
  readonly enabled: boolean;
  readonly isAdmin: boolean;
  /** Nextcloud's stored hash, verbatim (`3|$argon2id$…`, `1|$2y$…`, or a legacy unprefixed one). */
  readonly passwordHash: string;
}

export interface NcGroup {
  readonly gid: string;
  readonly displayName: string;
  readonly members: string[];
}

/** A permanent app password (oc_authtoken type 1). */
export interface NcAppToken {
  readonly uid: string;
  readonly name: string;
  /** hex sha512(token . secret), as Nextcloud stores it. */
  readonly tokenHash: string;
  readonly createdAt: number;
  /** The login password RSA-encrypted to the token's key (base64), when Nextcloud stored it. */
  readonly encryptedPassword?: string;
  /** The token's RSA private key, ICrypto-encrypted under token . secret. */
  readonly privateKey?: string;
}

/** One oc_filecache entry of a user's home storage. */
export interface NcEntry {
  readonly fileId: number;
  readonly parentId: number;
  /** Path inside the storage (`files/Docs/a.txt`). */
  readonly path: string;
  readonly name: string;
  readonly kind: 'file' | 'dir';
  readonly mimetype: string;
  /** Plaintext size (`unencrypted_size` when set, else `size`). */
  readonly size: number;
  readonly mtime: number;
  readonly etag: string;
  readonly permissions: number;
  readonly checksum: string | null;
  /** `encrypted` column: 0 = plain, else the write counter signed into each block. */
  readonly encrypted: number;
}

export interface NcShare {
  readonly id: number;
  readonly shareType: number;
  readonly shareWith: string | null;
  readonly owner: string;
  readonly initiator: string;
  readonly parent: number | null;
  readonly itemType: 'file' | 'folder';
  readonly fileId: number;
  readonly fileTarget: string;
  readonly permissions: number;
  readonly stime: number;
  /** Unix seconds: when Nextcloud ends the share (the midnight starting its expiry day, see ncExpiryDay). */
  readonly expiration: number | null;
  readonly token: string | null;
  readonly passwordHash: string | null;
  readonly note: string;
  readonly label: string;
  /** 0 pending, 1 accepted, 2 declined (per-user rows of group shares). */
  readonly accepted: number;
}

export interface NcVersionRow { readonly fileId: number; readonly timestamp: number; readonly size: number; readonly metadata: string }
export interface NcTrashRow { readonly user: string; readonly name: string; readonly timestamp: number; readonly location: string }

const QUOTA = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?\s*$/i;

/** No quota of its own: unset, "none" or "default". */
const noQuota = (v: string | undefined) => v === undefined || v === '' || v === 'none' || v === 'default';

/** True when `v` is a quota value that is no size: neither unset, "none", "default" nor a number with a unit. */
export function ncQuotaNotUnderstood(v: string | undefined): boolean {
  return !noQuota(v) && !QUOTA.test(v!);
}

/** Parses a Nextcloud quota ("5 GB", "none", "default", bytes) into bytes; null = unlimited (and for a value that is no size). */
export function parseNcQuota(v: string | undefined): number | null {
  if (noQuota(v)) return null;
  const m = QUOTA.exec(v!);
  if (!m) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase() as '' | 'k'] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

/**
 * The queries the importer runs on Nextcloud's database (read-only; table names `*PREFIX*…`).
 * File entries are read a page at a time (keyset on file id), so memory stays flat.
 */
export class NextcloudSource {
  constructor(readonly db: NcDatabase) {}

  async appConfig(app: string, key: string): Promise<string | undefined> {
    const r = await this.db.query('select configvalue from *PREFIX*appconfig where appid = ? and configkey = ?', [app, key]);
    return r[0] ? s(r[0].configvalue) : undefined;
  }

  async userPreference(uid: string, app: string, key: string): Promise<string | undefined> {
    const r = await this.db.query('select configvalue from *PREFIX*preferences where userid = ? and appid = ? and configkey = ?', [uid, app, key]);
    return r[0] ? s(r[0].configvalue) : undefined;
  }

  async users(): Promise<NcUser[]> {
    const rows = await this.db.query('select uid, displayname, password from *PREFIX*users order by uid');
    const admins = new Set((await this.db.query("select uid from *PREFIX*group_user where gid = 'admin'")).map((r) => s(r.uid)));
    const prefs = await this.db.query(
      "select userid, appid, configkey, configvalue from *PREFIX*preferences where (appid = 'settings' and configkey = 'email') or (appid = 'files' and configkey = 'quota') or (appid = 'core' and configkey = 'enabled')");
    const pref = new Map<string, string>();
    for (const p of prefs) pref.set(`${s(p.userid)}\0${s(p.appid)}\0${s(p.configkey)}`, s(p.configvalue));
    // a user without a quota of their own (or with "default") has the instance's default, as in Nextcloud
    const defaultQuota = await this.appConfig('files', 'default_quota');
    return rows.map((r) => {
      const uid = s(r.uid);
      const own = pref.get(`${uid}\0files\0quota`);
      const quota = own === undefined || own === '' || own === 'default' ? defaultQuota : own;
      return {
        uid,
        displayName: s(r.displayname) || uid,
        email: pref.get(`${uid}\0settings\0email`) || null,
        quota: parseNcQuota(quota),
        ...(ncQuotaNotUnderstood(quota) ? { quotaNotUnderstood: quota } : {}),
        enabled: pref.get(`${uid}\0core\0enabled`) !== 'false',
        isAdmin: admins.has(uid),
        passwordHash: s(r.password),
      };
    });
  }

  /** Groups other than `admin` (Coffer keeps admins as a user flag). */
  async groups(): Promise<NcGroup[]> {
    const groups = await this.db.query("select gid, displayname from *PREFIX*groups where gid <> 'admin' order by gid");
    const members = await this.db.query("select gid, uid from *PREFIX*group_user where gid <> 'admin' order by gid, uid");
    return groups.map((g) => ({
      gid: s(g.gid), displayName: s(g.displayname) || s(g.gid),
      members: members.filter((m) => s(m.gid) === s(g.gid)).map((m) => s(m.uid)),
    }));
  }

  async appTokens(): Promise<NcAppToken[]> {
    // type 1 = permanent (app passwords); type 0 = temporary session tokens, which die with the move
    const rows = await this.db.query('select uid, name, token, last_activity, password, private_key from *PREFIX*authtoken where type = 1 order by id');
    return rows.map((r) => ({
      uid: s(r.uid), name: s(r.name), tokenHash: s(r.token), createdAt: n(r.last_activity),
      ...(r.password && r.private_key ? { encryptedPassword: s(r.password), privateKey: s(r.private_key) } : {}),
    }));
  }

  /** The home storage id and its `files` folder of a user, undefined when the user never had one. */
  async home(uid: string): Promise<{ storage: number; filesId: number } | undefined> {
    const st = await this.db.query('select numeric_id from *PREFIX*storages where id = ? or id = ?', [`home::${uid}`, `object::user:${uid}`]);
    if (!st[0]) return undefined;
    const storage = n(st[0].numeric_id);
    const f = await this.db.query("select fileid from *PREFIX*filecache where storage = ? and path = 'files'", [storage]);
    return f[0] ? { storage, filesId: n(f[0].fileid) } : undefined;
  }

  /** Entries below `prefix` (e.g. `files`), the prefix itself included, a page at a time by file id. */
  async *entries(storage: number, prefix: string, kind?: 'file' | 'dir', page = 500): AsyncGenerator<NcEntry> {
    let after = -1;
    const kindSql = kind === 'dir' ? " and m.mimetype = 'httpd/unix-directory'" : kind === 'file' ? " and m.mimetype <> 'httpd/unix-directory'" : '';
    for (;;) {
      const rows = await this.db.query(
        'select f.fileid, f.parent, f.path, f.name, f.size, f.unencrypted_size, f.mtime, f.etag, f.permissions, f.checksum, f.encrypted, m.mimetype as mt'
        + ' from *PREFIX*filecache f join *PREFIX*mimetypes m on m.id = f.mimetype'
        + ` where f.storage = ? and (f.path = ? or f.path like ? escape '!')${kindSql} and f.fileid > ? order by f.fileid limit ${page}`,
        [storage, prefix, `${prefix.replace(/[!%_]/g, (c) => `!${c}`)}/%`, after]);
      for (const r of rows) yield toEntry(r);
      if (rows.length < page) return;
      after = n(rows[rows.length - 1]!.fileid);
    }
  }

  /** One entry by path in a storage. */
  async entryAt(storage: number, path: string): Promise<NcEntry | undefined> {
    const r = await this.db.query(
      'select f.fileid, f.parent, f.path, f.name, f.size, f.unencrypted_size, f.mtime, f.etag, f.permissions, f.checksum, f.encrypted, m.mimetype as mt'
      + ' from *PREFIX*filecache f join *PREFIX*mimetypes m on m.id = f.mimetype where f.storage = ? and f.path = ?', [storage, path]);
    return r[0] ? toEntry(r[0]) : undefined;
  }

  /**
   * User, group and link shares (types 0, 1, 3) and the per-user rows of group shares (2).
   * @throws ValidationError for an expiration that is no date-time (never guessed)
   */
  async shares(): Promise<NcShare[]> {
    const rows = await this.db.query('select * from *PREFIX*share where share_type in (0, 1, 2, 3) order by id');
    return rows.map((r) => ({
      id: n(r.id), shareType: n(r.share_type), shareWith: r.share_with === null ? null : s(r.share_with),
      owner: s(r.uid_owner), initiator: s(r.uid_initiator) || s(r.uid_owner), parent: r.parent === null || r.parent === '' ? null : n(r.parent),
      itemType: s(r.item_type) === 'folder' ? 'folder' : 'file', fileId: n(r.file_source), fileTarget: s(r.file_target),
      permissions: n(r.permissions), stime: n(r.stime),
      expiration: ncDateTime(r.expiration),
      token: r.token ? s(r.token) : null, passwordHash: r.password ? s(r.password) : null,
      note: s(r.note), label: s(r.label), accepted: n(r.accepted),
    }));
  }

  /** The users' own timezones (`core/timezone` preferences, set by their browsers), by uid. */
  async timeZones(): Promise<Map<string, string>> {
    const rows = await this.db.query("select userid, configvalue from *PREFIX*preferences where appid = 'core' and configkey = 'timezone'");
    return new Map(rows.filter((r) => s(r.configvalue) !== '').map((r) => [s(r.userid), s(r.configvalue)]));
  }

  async versions(): Promise<NcVersionRow[]> {
    const rows = await this.db.query('select file_id, timestamp, size, metadata from *PREFIX*files_versions order by id');
    return rows.map((r) => ({ fileId: n(r.file_id), timestamp: n(r.timestamp), size: n(r.size), metadata: s(r.metadata) }));
  }

  async trash(): Promise<NcTrashRow[]> {
    const rows = await this.db.query('select t.id, t.user as trash_user, t.timestamp, t.location from *PREFIX*files_trash t order by t.auto_id');
    return rows.map((r) => ({ user: s(r.trash_user), name: s(r.id), timestamp: n(r.timestamp), location: s(r.location) }));
  }
}

function toEntry(r: NcRow): NcEntry {
  const unenc = n(r.unencrypted_size);
  const path = s(r.path);
  return {
    fileId: n(r.fileid), parentId: n(r.parent), path, name: s(r.name) || path.slice(path.lastIndexOf('/') + 1),
    kind: s(r.mt) === 'httpd/unix-directory' ? 'dir' : 'file', mimetype: s(r.mt),
    size: n(r.encrypted) > 0 && unenc > 0 ? unenc : n(r.size), mtime: n(r.mtime), etag: s(r.etag),
    permissions: n(r.permissions), checksum: r.checksum ? s(r.checksum) : null, encrypted: n(r.encrypted),
  };
}
