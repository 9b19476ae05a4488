import type { ColumnType, Generated } from 'kysely';

/** Big integers come back from pg as strings; we store sizes/times as bigint and read them as numbers via `num()`. */
type Big = ColumnType<number | string | bigint, number, number>;

export interface UsersTable {
  uid: string;
  display_name: string;
  email: string | null;
  /** argon2id PHC string. */
  password_hash: string;
  /** Bytes; null = unlimited. */
  quota: Big | null;
  enabled: number;
  is_admin: number;
  created_at: Big;
  last_login: Big | null;
}

export interface UserPreferencesTable {
  uid: string;
  app: string;
  key: string;
  value: string;
}

export interface AppConfigTable {
  app: string;
  key: string;
  value: string;
}

export interface AppPasswordsTable {
  id: Generated<number>;
  uid: string;
  name: string;
  /** SHA-256 hex of the token (tokens are random 72-char strings; a fast hash suffices). */
  token_hash: string;
  created_at: Big;
  last_used: Big | null;
}

/** The namespace tree: one row per file or folder, each user's root has path ''. */
export interface FileIdsTable {
  id: Generated<number>;
}

export interface NodesTable {
  fileid: number;
  owner: string;
  parent_id: number | null;
  /** Path relative to the user's root, no leading slash; '' for the root. NFC. */
  path: string;
  name: string;
  kind: 'file' | 'dir';
  /** Bytes (plaintext); recursive total for folders. */
  size: Big;
  /** Seconds since the epoch. */
  mtime: Big;
  etag: string;
  mimetype: string;
  /** Content blob (files only). */
  blob_id: string | null;
  /** Opaque codec tag returned by the BlobStore on put and handed back on get. */
  blob_codec: string | null;
  /** `SHA1:… MD5:…` as the client sent it, or as computed. */
  checksum: string | null;
  favorite: number;
  /** HMAC of (file id, blob id, codec, size) under a key from the instance secret (RowSeal). */
  blob_seal: string | null;
}

/** Dead properties (PROPPATCH). */
export interface PropertiesTable {
  fileid: number;
  namespace: string;
  name: string;
  /** Inner XML of the property element, namespace declarations included where needed. */
  value: string;
}

export interface LocksTable {
  token: string;
  owner: string;
  /** Locked path in the owner's tree. */
  path: string;
  depth: number; // 0 or -1 (infinity)
  scope: 'exclusive' | 'shared';
  /** The client's <D:owner> XML, echoed back. */
  owner_xml: string;
  expires_at: Big;
  created_at: Big;
}

/** Chunked uploads in progress (`/remote.php/dav/uploads/<uid>/<id>`). */
export interface UploadsTable {
  uid: string;
  upload_id: string;
  destination: string | null;
  total_length: Big | null;
  created_at: Big;
}

export interface UploadChunksTable {
  uid: string;
  upload_id: string;
  name: string;
  blob_id: string;
  blob_codec: string;
  size: Big;
  mtime: Big;
  /** Byte offset the chunk claims (OC-Chunk-Offset or an rclone `start-end` name); null when unknown. */
  chunk_offset: Big | null;
  /** HMAC of (uid/upload/name, blob id, codec, size) under a key from the instance secret (RowSeal). */
  blob_seal: string | null;
}

export interface GroupsTable {
  gid: string;
  display_name: string;
  created_at: Big;
}

export interface GroupMembersTable {
  gid: string;
  uid: string;
}

/** A share: 0 user, 1 group, 3 public link. Addressed by file id, so renames never touch it. */
export interface SharesTable {
  id: Generated<number>;
  share_type: number;
  /** Owner of the file (uid_file_owner). */
  owner: string;
  /** Who created the share (uid_owner): the owner, or a recipient resharing. */
  initiator: string;
  file_id: number;
  item_type: 'file' | 'folder';
  /** uid (0), gid (1), null (3). */
  share_with: string | null;
  permissions: number;
  /** Public links only. */
  token: string | null;
  /** argon2id PHC string (links with a password). */
  password_hash: string | null;
  /** Seconds since the epoch: the share ends at this instant. */
  expiration: Big | null;
  stime: Big;
  /** Preferred mount name (no slashes). */
  file_target: string;
  note: string;
  label: string;
}

/** Where a received share appears in one recipient's root. */
export interface ShareMountsTable {
  share_id: number;
  uid: string;
  file_target: string;
  hidden: number;
}

/** A web UI browser session (cookie value stored only as SHA-256). */
export interface WebSessionsTable {
  id: Generated<number>;
  token_hash: string;
  uid: string;
  created_at: Big;
  last_active: Big;
  expires_at: Big;
  user_agent: string;
  ip: string;
}

/** A user's TOTP secret (sealed), pending until a first code is verified (`enabled` 0/1). */
export interface TwoFactorTotpTable {
  uid: string;
  secret_sealed: string;
  enabled: number;
  /** Newest TOTP time step a code was accepted for (replay protection). */
  last_step: Big;
  created_at: Big;
}

/** A two-factor backup code (SHA-256 hex only); `used_at` set once it was used. */
export interface TwoFactorBackupCodesTable {
  id: Generated<number>;
  uid: string;
  code_hash: string;
  used_at: Big | null;
  created_at: Big;
}

/** One counted login attempt (brute-force throttling, src/auth/db-throttle-store.ts). */
export interface BruteforceAttemptsTable {
  id: Generated<number>;
  key: string;
  tag: string;
  ts: Big;
}

/** An expiring mark of the throttler (a client known to have logged in as a user). */
export interface BruteforceMarksTable {
  key: string;
  expires_at: Big;
}

/** Cached previews (thumbnails): blobs in the content store, bound to a file version. */
export interface PreviewsTable {
  /** The thumbnail's blob (derived from source_blob_id and spec, see preview-store.ts). */
  blob_id: string;
  fileid: number;
  /** The file version (its content blob) the preview was made from. */
  source_blob_id: string;
  /** Size and fit, e.g. `256x256-crop`. */
  spec: string;
  codec: string;
  size: Big;
  mimetype: string;
  /** RowSeal of what the row says about the blob (a plain preview is served only when it matches). */
  seal: string;
  created_at: Big;
}

/** A file's previous content (versions): the blob it had, never a copy. */
export interface FileVersionsTable {
  id: Generated<number>;
  fileid: number;
  owner: string;
  /** Seconds: the content's mtime while it was current (the version's name). */
  version: Big;
  blob_id: string;
  blob_codec: string;
  /** The row seal the file row had for this blob (RowSeal.node: file id, blob id, codec, size). */
  blob_seal: string | null;
  size: Big;
  mimetype: string;
  etag: string;
  checksum: string | null;
  author: string | null;
  label: string | null;
  created_at: Big;
}

/** Who wrote a file's current content. */
export interface FileAuthorsTable {
  fileid: number;
  author: string;
}

/** One deleted file or folder in its owner's trash bin. */
export interface TrashItemsTable {
  id: Generated<number>;
  owner: string;
  fileid: number;
  name: string;
  /** Path in the owner's tree it was deleted from. */
  original_location: string;
  deleted_at: Big;
  deleted_by: string;
  kind: 'file' | 'dir';
  size: Big;
  /** 1 once `deleted_by` (not the owner) removed it from their own view of the trash. */
  deleter_dismissed: Generated<number>;
}

/** The `nodes` rows of a trashed subtree, moved as they were (paths relative to the item). */
export interface TrashNodesTable extends Omit<NodesTable, 'path'> {
  item_id: number;
  /** Relative to the trashed node ('' for the node itself). */
  rel_path: string;
}

/** A notification to one user (Nextcloud's notifications app), until they dismiss it. */
export interface NotificationsTable {
  id: Generated<number>;
  uid: string;
  app: string;
  object_type: string;
  object_id: string;
  actor: string;
  subject: string;
  message: string;
  link: string;
  created_at: Big;
}

/** One file event in one user's activity stream (Nextcloud's activity app). */
export interface ActivitiesTable {
  id: Generated<number>;
  uid: string;
  actor: string;
  app: string;
  type: string;
  object_type: string;
  object_id: Big;
  object_name: string;
  other: string;
  created_at: Big;
}

/** A file imported from Nextcloud still in Nextcloud's encrypted form (per-user keys, owner not yet logged in). */
/** Blobs kept in Nextcloud's encrypted form until their conversion (migration 012, issue #16). */
export interface ImportPendingBlobsTable {
  blob_id: string;
  /** The file id the blob is bound to (the file, the file of a version, a trashed file). */
  fileid: number;
  owner: string;
  /** base64 of the owner's raw Nextcloud share key of the blob's file key. */
  share_key: string;
  nc_version: number;
  size: Big;
  error: string | null;
}

export interface Database {
  users: UsersTable;
  user_preferences: UserPreferencesTable;
  app_config: AppConfigTable;
  app_passwords: AppPasswordsTable;
  file_ids: FileIdsTable;
  nodes: NodesTable;
  properties: PropertiesTable;
  locks: LocksTable;
  uploads: UploadsTable;
  upload_chunks: UploadChunksTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  shares: SharesTable;
  share_mounts: ShareMountsTable;
  web_sessions: WebSessionsTable;
  two_factor_totp: TwoFactorTotpTable;
  two_factor_backup_codes: TwoFactorBackupCodesTable;
  bruteforce_attempts: BruteforceAttemptsTable;
  bruteforce_marks: BruteforceMarksTable;
  previews: PreviewsTable;
  file_versions: FileVersionsTable;
  file_authors: FileAuthorsTable;
  trash_items: TrashItemsTable;
  trash_nodes: TrashNodesTable;
  notifications: NotificationsTable;
  activities: ActivitiesTable;
  import_pending_blobs: ImportPendingBlobsTable;
}

/** Reads a bigint column as a JS number (pg returns int8 as string). */
export function num(v: number | string | bigint | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v);
}
