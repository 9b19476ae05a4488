import type { Insertable } from 'kysely';
import type { Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { PasswordHasher } from '../auth/password-hasher.ts';
import type { UserService } from '../auth/user-service.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { SharesTable } from '../db/schema.ts';
import type { FilesService } from '../files/files-service.ts';
import type { FileNode } from '../files/types.ts';
import { normalizePath } from '../files/paths.ts';
import type { GroupService } from './group-service.ts';
import type { ShareEvents } from './share-events.ts';
import type { ShareKeySync } from './share-key-sync.ts';
import type { ShareRepository, ShareWithNode } from './share-repository.ts';
import type { ShareResolver } from './share-resolver.ts';
import { checkLabel, checkNote, parseFutureExpireDate } from './share-input.ts';
import { checkPermissions, defaultPermissions } from './share-permissions.ts';
import { newShareToken } from './share-token.ts';
import {
  has, PERMISSION_SHARE, SHARE_TYPE_GROUP, SHARE_TYPE_LINK, SHARE_TYPE_USER,
  type CreateShareInput, type ListSharesOptions, type Share, type ShareType, type UpdateShareInput,
} from './share-types.ts';

export interface ShareServiceDeps {
  repo: ShareRepository;
  resolver: ShareResolver;
  files: FilesService;
  users: UserService;
  groups: GroupService;
  hasher: PasswordHasher;
  audit: AuditLog;
  /** Per-user-key mode: share keys follow shares (absent: sharing is metadata only). */
  keySync?: ShareKeySync;
  /** Told of new user and group shares (notifications, activity); absent: nobody is told. */
  events?: ShareEvents;
  now?: () => number;
}

/**
 * Shares of files and folders with users (0), groups (1) and by public link (3): creation with
 * Nextcloud's rules, listing, update, deletion, and the audit entries for each change. A share
 * points at a stable file id, so renames and moves of the shared node never touch it. In
 * master-key mode sharing is metadata only (no key operation), so a folder of any size is shared
 * with one row.
 */
export class ShareService {
  readonly #repo: ShareRepository;
  readonly #resolver: ShareResolver;
  readonly #files: FilesService;
  readonly #users: UserService;
  readonly #groups: GroupService;
  readonly #hasher: PasswordHasher;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #keySync: ShareKeySync | undefined;
  readonly #events: ShareEvents | undefined;

  constructor(deps: ShareServiceDeps) {
    this.#repo = deps.repo;
    this.#resolver = deps.resolver;
    this.#files = deps.files;
    this.#users = deps.users;
    this.#groups = deps.groups;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#keySync = deps.keySync;
    this.#events = deps.events;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Stores a share carried over from Nextcloud as it was there: its token (links keep their URLs),
   * password hash (Nextcloud's, verified by PasswordHasher), expiry, permissions, note and label.
   * Idempotent per token / (node, type, recipient), so an interrupted import can run again.
   * `actor` is the server (the importer) or an admin; share keys are granted with its keys.
   * `mounts` (group shares) are the members' own mount points: a member who renamed or moved the
   * share in Nextcloud gets it under that name (in the root: Coffer mounts shares there; unless the
   * name is taken), one who removed it from their tree or declined it gets a hidden mount.
   * @throws NotFoundError when the node does not exist
   */
  async importShare(actor: Actor, s: {
    shareType: number; shareWith: string | null; owner: string; initiator: string; itemType: 'file' | 'folder'; fileId: number;
    fileTarget: string; permissions: number; stime: number; expiration: number | null; token: string | null; passwordHash: string | null;
    note: string; label: string; mounts?: readonly { uid: string; fileTarget: string; hidden: boolean }[];
  }): Promise<void> {
    const node = await this.#files.getById(s.fileId);
    const defaultName = s.fileTarget.replace(/^\/+/, '').split('/').pop() || node.name || node.owner;
    let id = await this.#repo.existsAlike(s);
    if (id === undefined) {
      id = await this.#insertGranted(actor, node, s.shareType as ShareType, s.shareWith, s.token, {
        share_type: s.shareType, owner: node.owner, initiator: s.initiator, file_id: node.fileId, item_type: s.itemType, share_with: s.shareWith,
        permissions: s.permissions, token: s.token, password_hash: s.passwordHash, expiration: s.expiration, stime: s.stime,
        file_target: defaultName, note: s.note, label: s.label,
      });
    }
    // a rerun sets them again (idempotent), before the members' default mounts are made below
    for (const m of s.mounts ?? []) {
      if (m.uid === node.owner) continue;
      if (m.hidden) { await this.#repo.upsertMount(id, m.uid, defaultName, true); continue; }
      const name = m.fileTarget.replace(/\/+$/, '').split('/').pop() ?? '';
      // the member's own name, unless their root holds something of that name (then the default naming below)
      const own = await this.#files.children(m.uid, '').catch(() => []);
      if (name !== '' && !own.some((c) => c.name === name)) await this.#repo.upsertMount(id, m.uid, name, false);
    }
    const members = s.shareType === SHARE_TYPE_USER ? [s.shareWith!] : s.shareType === SHARE_TYPE_GROUP ? await this.#groups.members(s.shareWith!) : [];
    for (const m of members) if (m !== node.owner) await this.#resolver.ensureMounts(m);
  }

  /** Writes a share row, with its keys in per-user-key mode (ShareKeySync.around). */
  #insertGranted(actor: Actor, node: FileNode, shareType: ShareType, shareWith: string | null, token: string | null, row: Insertable<SharesTable>): Promise<number> {
    const insert = () => this.#repo.insert(row);
    return this.#keySync ? this.#keySync.around({ owner: node.owner, fileId: node.fileId, actor, shareType, shareWith, token }, insert) : insert();
  }

  /**
   * `actor` shares a node of `input.uid`'s view (their own tree, or inside a received share they may
   * reshare); `actor` is that user, or the server (CLI). In per-user-key mode the share key is opened
   * or created with `actor`'s keys.
   * @throws NotFoundError (path, user or group unknown); ForbiddenError (root, yourself, the owner,
   *   already shared, permission rules, no reshare right); ValidationError (share type, permissions,
   *   date, password)
   */
  async create(actor: Actor, input: CreateShareInput): Promise<ShareWithNode> {
    const { uid } = input;
    const type = input.shareType;
    if (type !== SHARE_TYPE_USER && type !== SHARE_TYPE_GROUP && type !== SHARE_TYPE_LINK) throw new ValidationError('Unknown share type');
    const path = normalizePath(input.path ?? '');
    if (path === '') throw new ForbiddenError('You cannot share your root folder');
    const where = await this.#resolver.resolve(uid, path);
    const node = await this.#files.tryStat(where.owner, where.path);
    if (!node) throw new NotFoundError('Wrong path, file/folder does not exist');
    const ceiling = await this.#ceiling(uid, node);
    const itemType = node.kind === 'dir' ? 'folder' : 'file';
    const permissions = input.permissions ?? defaultPermissions(type, itemType) & ceiling;
    checkPermissions(type, itemType, permissions, ceiling);

    let shareWith: string | null = null;
    if (type === SHARE_TYPE_USER) {
      shareWith = input.shareWith ?? '';
      if (shareWith === '' || !(await this.#users.exists(shareWith))) throw new NotFoundError('Please specify a valid user');
      if (shareWith === uid) throw new ForbiddenError('Cannot share with yourself');
      if (shareWith === node.owner) throw new ForbiddenError('Cannot share with the share owner');
    } else if (type === SHARE_TYPE_GROUP) {
      shareWith = input.shareWith ?? '';
      if (shareWith === '' || !(await this.#groups.exists(shareWith))) throw new NotFoundError('Please specify a valid group');
    }
    if (shareWith !== null) {
      const dup = (await this.#repo.find(this.#now(), { fileIds: [node.fileId] }))
        .some((s) => s.share.shareType === type && s.share.shareWith === shareWith);
      if (dup) throw new ForbiddenError(`Path is already shared with ${shareWith}`);
    }
    const expiration = input.expireDate ? parseFutureExpireDate(input.expireDate, this.#now()) : null;
    if (input.password !== undefined && input.password !== '' && type !== SHARE_TYPE_LINK) {
      throw new ValidationError('Only public links can have a password');
    }
    const passwordHash = type === SHARE_TYPE_LINK && input.password ? await this.#hashPassword(input.password) : null;
    const note = checkNote(input.note ?? '');
    const label = checkLabel(input.label ?? '');

    const token = type === SHARE_TYPE_LINK ? newShareToken() : null;
    const id = await this.#insertGranted(actor, node, type, shareWith, token, {
      share_type: type, owner: node.owner, initiator: uid, file_id: node.fileId, item_type: itemType,
      share_with: shareWith, permissions, token,
      password_hash: passwordHash, expiration, stime: this.#now(), file_target: node.path === '' ? node.owner : node.name,
      note, label,
    });
    const recipients: string[] = [];
    if (type === SHARE_TYPE_USER) recipients.push(shareWith!);
    if (type === SHARE_TYPE_GROUP) {
      for (const member of await this.#groups.members(shareWith!)) if (member !== node.owner && member !== uid) recipients.push(member);
    }
    for (const r of recipients) await this.#resolver.ensureMounts(r);
    await this.#audit.record('share.created', {
      uid, shareId: id, shareType: type, fileId: node.fileId, owner: node.owner, shareWith: shareWith ?? undefined, permissions,
      linkProtected: passwordHash !== null, expiration: expiration ?? undefined,
    });
    const created = await this.#repo.byId(id, this.#now());
    if (!created) throw new NotFoundError('Share does not exist');
    if (type !== SHARE_TYPE_LINK) await this.#events?.created(actor, created.share, created.node, recipients);
    return created;
  }

  /**
   * The most a share of `path` made by `uid` may grant (0 when they may not share it): what they
   * hold on the node now, when that includes the share permission. The web UI offers no more.
   * @throws NotFoundError for an unknown path; ValidationError for a malformed one
   */
  async ceilingOf(uid: string, path: string): Promise<number> {
    const where = await this.#resolver.resolve(uid, normalizePath(path));
    const node = await this.#files.tryStat(where.owner, where.path);
    if (!node) throw new NotFoundError('Wrong path, file/folder does not exist');
    return this.#ceiling(uid, node).catch((err: unknown) => {
      if (err instanceof ForbiddenError) return 0;
      throw err;
    });
  }

  /**
   * The permission ceiling of a share of `node` created (or widened) by `uid`: what `uid` holds on
   * the node now (everything in their own tree; the effective permissions of the shares through
   * which they reach it otherwise). The one rule behind create and update, whichever adapter calls.
   * @throws ForbiddenError when `uid` may not share the node at all (no share permission)
   */
  async #ceiling(uid: string, node: { owner: string; path: string }): Promise<number> {
    const held = await this.#repo.holds(uid, node.owner, node.path, this.#now());
    if (!has(held, PERMISSION_SHARE)) throw new ForbiddenError('You are not allowed to share this');
    return held;
  }

  /**
   * Shares the user made (default), received (`sharedWithMe`), of one path, or of a folder's members.
   * @throws NotFoundError for an unknown path; ValidationError for `subfiles` on a file
   */
  async list(uid: string, opts: ListSharesOptions = {}): Promise<ShareWithNode[]> {
    const now = this.#now();
    let fileIds: number[] | undefined;
    let ownerOfPath: string | undefined;
    if (opts.path !== undefined && normalizePath(opts.path) !== '') {
      const where = await this.#resolver.resolve(uid, opts.path);
      const node = await this.#files.tryStat(where.owner, where.path);
      if (!node) throw new NotFoundError('Wrong path, file/folder does not exist');
      ownerOfPath = node.owner;
      if (opts.subfiles) {
        if (node.kind !== 'dir') throw new ValidationError('Not a directory');
        fileIds = (await this.#files.children(where.owner, where.path)).map((n) => n.fileId);
      } else {
        fileIds = [node.fileId];
      }
    }
    if (opts.sharedWithMe) {
      const got = await this.#repo.received(uid, now);
      return fileIds ? got.filter((s) => fileIds!.includes(s.node.fileId)) : got;
    }
    if (fileIds && opts.reshares && ownerOfPath === uid) return this.#repo.find(now, { fileIds, owner: uid });
    return this.#repo.find(now, { initiator: uid, fileIds });
  }

  /**
   * One share the user may see (made it, owns the file, or receives it).
   * @throws NotFoundError
   */
  async get(uid: string, id: number): Promise<ShareWithNode> {
    const s = await this.#repo.byId(id, this.#now());
    if (!s || !(await this.#canSee(uid, s.share))) throw new NotFoundError('Wrong share ID, share does not exist');
    return s;
  }

  /**
   * Changes permissions, password, expiration, note or label (the initiator or the file owner).
   * @throws NotFoundError; ForbiddenError (a recipient, or rules); ValidationError
   */
  async update(uid: string, id: number, input: UpdateShareInput): Promise<ShareWithNode> {
    const cur = await this.get(uid, id);
    const s = cur.share;
    if (s.initiator !== uid && s.owner !== uid) throw new ForbiddenError('Wrong share ID, share does not exist');
    const patch: Record<string, string | number | null> = {};
    if (input.permissions !== undefined) {
      // The initiator's rights on this node now (the owner may edit a reshare, not widen it).
      checkPermissions(s.shareType, s.itemType, input.permissions, await this.#ceiling(s.initiator, cur.node));
      patch.permissions = input.permissions;
    }
    if (input.password !== undefined) {
      if (s.shareType !== SHARE_TYPE_LINK) throw new ValidationError('Only public links can have a password');
      patch.password_hash = input.password === '' ? null : await this.#hashPassword(input.password);
    }
    if (input.expireDate !== undefined) patch.expiration = input.expireDate === '' ? null : parseFutureExpireDate(input.expireDate, this.#now());
    if (input.note !== undefined) patch.note = checkNote(input.note);
    if (input.label !== undefined) patch.label = checkLabel(input.label);
    if (Object.keys(patch).length === 0) throw new ValidationError('Wrong or no update parameter given');
    await this.#repo.update(id, patch);
    await this.#audit.record('share.updated', {
      uid, shareId: id, shareType: s.shareType, fileId: s.fileId,
      fields: Object.keys(patch).map((k) => (k === 'password_hash' ? 'password' : k)),
      permissions: patch.permissions ?? undefined,
    });
    return this.get(uid, id);
  }

  /**
   * Deletes a share (initiator or owner; with the reshares its recipients made below it), or, for
   * a recipient, removes a received share from their own tree only.
   * @throws NotFoundError
   */
  async delete(uid: string, id: number): Promise<void> {
    const s = (await this.#repo.byId(id, this.#now()))?.share ?? await this.#repo.rawById(id);
    if (!s || !(await this.#canSee(uid, s))) throw new NotFoundError('Wrong share ID, share does not exist');
    if (s.initiator !== uid && s.owner !== uid) {
      if (s.shareType === SHARE_TYPE_GROUP) {
        await this.#repo.hideMount(id, uid);
        await this.#audit.record('share.unmounted', { uid, shareId: id, fileId: s.fileId });
        return;
      }
      await this.#deleteWithReshares(s);
      await this.#audit.record('share.deleted', { uid, shareId: id, shareType: s.shareType, fileId: s.fileId, by: 'recipient' });
      return;
    }
    await this.#deleteWithReshares(s);
    await this.#audit.record('share.deleted', { uid, shareId: id, shareType: s.shareType, fileId: s.fileId });
  }

  /**
   * A live public link by token.
   * @throws NotFoundError (unknown, expired, or its node is gone)
   */
  async byToken(token: string): Promise<ShareWithNode> {
    if (typeof token !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(token)) throw new NotFoundError('Share not found');
    const s = await this.#repo.byToken(token, this.#now());
    if (!s || s.share.shareType !== SHARE_TYPE_LINK) throw new NotFoundError('Share not found');
    return s;
  }

  /** True when `password` opens the link (always true for a link without a password). */
  async checkLinkPassword(share: Share, password: string): Promise<boolean> {
    const h = await this.#repo.passwordHash(share.id);
    if (h === null) return true;
    return this.#hasher.verify(h, password);
  }

  /** The stored password hash of a link (binds session cookies to the current password). */
  linkPasswordHash(share: Share): Promise<string | null> {
    return this.#repo.passwordHash(share.id);
  }

  /**
   * Renames a received share's mount point in the recipient's root (DAV MOVE of a mount root).
   * @throws NotFoundError (no such mount); ForbiddenError (name taken)
   */
  async renameMount(uid: string, from: string, to: string): Promise<void> {
    const name = normalizePath(to);
    if (name === '' || name.includes('/')) throw new ForbiddenError('A share can only be renamed within the root folder');
    if ((await this.#files.tryStat(uid, name)) || (await this.#resolver.mountsOf(uid)).some((m) => m.mountPoint === name)) {
      throw new ForbiddenError(`${name} already exists`);
    }
    if (await this.#repo.renameMount(uid, from, name) === 0) throw new NotFoundError(`${from} is not a share`);
  }

  /**
   * Removes a received share from the recipient's tree (DAV DELETE of a mount root): user shares
   * end, group shares are hidden for this member only.
   * @throws NotFoundError
   */
  async unshareFromSelf(uid: string, mountPoint: string): Promise<void> {
    const mounts = (await this.#resolver.mountsOf(uid)).filter((m) => m.mountPoint === mountPoint);
    if (mounts.length === 0) throw new NotFoundError(`${mountPoint} is not a share`);
    for (const id of mounts[0]!.shareIds) await this.delete(uid, id);
  }

  /** Deletes every share a user owns, made or receives directly (user deletion). */
  async deleteAllOfUser(uid: string): Promise<void> {
    await this.#deleteIds(await this.#repo.idsInvolving(uid));
    await this.#repo.deleteMountsOf(uid);
  }

  /** Deletes every share to a group (group deletion). */
  async deleteAllOfGroup(gid: string): Promise<void> {
    await this.#deleteIds(await this.#repo.idsOfGroup(gid));
  }

  /** Deletes share rows, then the per-user-mode grants they made (seals, link wraps, keyrings). */
  async #deleteIds(ids: number[]): Promise<void> {
    const gone: Share[] = [];
    if (this.#keySync) for (const id of ids) { const s = await this.#repo.rawById(id); if (s) gone.push(s); }
    await this.#repo.delete(ids);
    if (this.#keySync && gone.length > 0) await this.#keySync.afterDelete(gone);
    if (ids.length > 0) await this.#events?.deleted(ids);
  }

  async #deleteWithReshares(s: Share): Promise<void> {
    const ids = [s.id];
    const node = await this.#files.getById(s.fileId).catch(() => undefined);
    if (node && s.shareType !== SHARE_TYPE_LINK) {
      const recipients = s.shareType === SHARE_TYPE_USER ? [s.shareWith!] : await this.#groups.members(s.shareWith!);
      const others = recipients.filter((r) => r !== s.initiator && r !== s.owner);
      for (const id of await this.#repo.resharesUnder(s.owner, node.path, others)) if (!ids.includes(id)) ids.push(id);
    }
    await this.#deleteIds(ids);
  }

  async #canSee(uid: string, s: Share): Promise<boolean> {
    if (s.initiator === uid || s.owner === uid) return true;
    if (s.shareType === SHARE_TYPE_USER) return s.shareWith === uid;
    if (s.shareType === SHARE_TYPE_GROUP) return this.#groups.isMember(s.shareWith!, uid);
    return false;
  }

  async #hashPassword(pw: string): Promise<string> {
    if (Buffer.byteLength(pw) > 1024) throw new ValidationError('The password is too long');
    return this.#hasher.hash(pw);
  }
}
