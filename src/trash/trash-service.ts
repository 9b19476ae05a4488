import type { Actor } from '../actor.ts';
import type { ContentEvents } from '../files/content-events.ts';
import { transact, type Db } from '../db/database.ts';
import { ForbiddenError, NotFoundError, QuotaExceededError, ValidationError } from '../errors.ts';
import type { FilesService } from '../files/files-service.ts';
import type { NodeRepository } from '../files/node-repository.ts';
import { baseName, joinPath, normalizePath, parentPath } from '../files/paths.ts';
import type { FileContent, FileNode } from '../files/types.ts';
import type { Logger } from '../logger.ts';
import type { ByteRange } from '../storage/blob-store.ts';
import type { VersionService } from '../versions/version-service.ts';
import type { ShareView, ShareViews } from '../versions/share-permissions.ts';
import { PERMISSION_CREATE, PERMISSION_READ } from '../sharing/share-types.ts';
import type { TrashRepository, TrashItem, TrashNode } from './trash-repository.ts';
import type { TrashRecorder } from './trash-recorder.ts';

/** Items read at a time when a trash bin is walked (emptied, expired, restored by ./occ). */
const ITEMS_PER_PAGE = 500;

/** `<name>.d<deleted_at>`: an item's name in Nextcloud's trash API. */
export function trashName(item: Pick<TrashItem, 'name' | 'deletedAt'>): string {
  return `${item.name}.d${item.deletedAt}`;
}

/** Splits `<name>.d<seconds>`. @throws NotFoundError when it is not such a name */
export function parseTrashName(s: string): { name: string; deletedAt: number } {
  const m = /^(.+)\.d(\d{1,15})$/s.exec(s);
  if (!m) throw new NotFoundError(`${s} is not in the trash bin`);
  return { name: m[1]!, deletedAt: Number(m[2]) };
}

/**
 * Nextcloud's name for a restored node that would clash: `a.txt` → `a (restored).txt`, then
 * `a (restored 2).txt`, … (a leading dot does not start an extension).
 */
export function restoredName(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  return n <= 1 ? `${stem} (restored)${ext}` : `${stem} (restored ${n})${ext}`;
}

export interface TrashServiceDeps {
  db: Db;
  repo: TrashRepository;
  /** What FilesService trashes through (replacing COPY/MOVE); deletes go the same way. */
  recorder: TrashRecorder;
  nodes: NodeRepository;
  files: FilesService;
  versions: VersionService;
  log: Logger;
  /** A user's view of others' trees through their received shares (versions/share-permissions.ts). */
  views: ShareViews;
  /** Seconds since the epoch (tests pass a controlled clock). */
  now?: () => number;
  /** Told when a restore brings content back below a shared node (per-user keys: its keyring). */
  events?: ContentEvents;
}

/** An item as a user sees it: `location` is where it was deleted from, in their own tree. */
export interface SeenItem {
  readonly item: TrashItem;
  readonly location: string;
}

/**
 * The trash bin (issue #15), Nextcloud's files_trashbin with zero copy: a delete moves the node's
 * rows (its whole subtree, in two statements) out of the tree into `trash_nodes`, with their file
 * ids, blobs and row seals; the content is never read or written, so it stays encrypted under its
 * own data keys and bound to its file ids. Restore moves the rows back (the same file ids), to the
 * original location or, when that name is taken, as "name (restored)". Versions are kept by file
 * id: they go to the trash with their file and come back with it.
 *
 * A delete inside a received share puts the node in the owner's trash, and the deleter sees that
 * same item in theirs (Nextcloud copies it into the deleter's trash; here it is one item, no copy):
 * it counts once, in the owner's trash size and retention; a restore or a purge by either side
 * settles it for both, so nothing dangles. The deleter sees it while the share still lets them read
 * where it was, at that place of their own tree; they restore it when the share lets them create
 * there; only the owner deletes it for good.
 */
export class TrashService {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #files: FilesService;
  readonly #versions: VersionService;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly repo: TrashRepository;
  readonly #recorder: TrashRecorder;
  readonly #views: ShareViews;
  readonly #events: ContentEvents | undefined;

  constructor(deps: TrashServiceDeps) {
    this.#db = deps.db;
    this.repo = deps.repo;
    this.#recorder = deps.recorder;
    this.#nodes = deps.nodes;
    this.#files = deps.files;
    this.#versions = deps.versions;
    this.#log = deps.log;
    this.#views = deps.views;
    this.#events = deps.events;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Moves `path` of `owner`'s tree to the owner's trash (`actor` deleted it: the owner, or a share
   * recipient, who sees the item in their trash too). A metadata move, whatever the size.
   * @throws NotFoundError; ForbiddenError for the root
   */
  async moveToTrash(actor: Actor, owner: string, path: string): Promise<TrashItem> {
    const p = normalizePath(path);
    if (p === '') throw new ForbiddenError('the root folder cannot be deleted');
    const now = this.#now();
    const deletedBy = actor.kind === 'user' ? actor.uid : owner;
    const item = await transact(this.#db, async (trx) => {
      const node = await this.#nodes.byPath(trx, owner, p);
      if (!node) throw new NotFoundError(`${p} does not exist`);
      const made = await this.#recorder.trash(trx, node, deletedBy, now);
      await this.#nodes.propagate(trx, owner, p, -node.size, now);
      return made;
    });
    const blobs = (await this.repo.subtree(this.#db, item.id, '')).flatMap((n) => (n.blobId ? [n.blobId] : []));
    await this.#files.changedElsewhere(owner, p, item.fileId, blobs, { action: 'deleted', actor });
    return item;
  }

  /** The items `actor` sees, newest first. */
  async list(actor: Actor, uid: string): Promise<SeenItem[]> {
    return (await this.listWithNodes(actor, uid)).map(({ item, location }) => ({ item, location }));
  }

  /** As list, each item with its root node (one query). */
  async listWithNodes(actor: Actor, uid: string): Promise<Array<SeenItem & { root: TrashNode }>> {
    const me = this.#uidOf(actor, uid);
    const rows = await this.repo.visibleWithRoots(this.#db, me);
    let view: ((at: { owner: string; path: string }) => ShareView) | undefined;
    const out: Array<SeenItem & { root: TrashNode }> = [];
    for (const r of rows) {
      if (r.item.owner === me) { out.push({ ...r, location: r.item.originalLocation }); continue; }
      view ??= await this.#views(me);
      const seen = view({ owner: r.item.owner, path: r.item.originalLocation });
      if (seen.permissions & PERMISSION_READ) out.push({ ...r, location: seen.path });
    }
    return out;
  }

  /**
   * The item `name` (`<name>.d<seconds>`) and the node at `rel` inside it.
   * @throws NotFoundError
   */
  async resolve(actor: Actor, uid: string, name: string, rel = ''): Promise<SeenItem & { node: TrashNode }> {
    const { name: n, deletedAt } = parseTrashName(name);
    const me = this.#uidOf(actor, uid);
    let location: string | undefined;
    let item: TrashItem | undefined;
    for (const it of await this.repo.findAll(this.#db, me, n, deletedAt)) {
      location = await this.#locationFor(me, it);
      if (location !== undefined) { item = it; break; }
    }
    if (!item || location === undefined) throw new NotFoundError(`${name} is not in the trash bin`);
    const node = await this.repo.node(this.#db, item.id, normalizePath(rel));
    if (!node) throw new NotFoundError(`${name}/${rel} is not in the trash bin`);
    return { item, node, location };
  }

  /** Where `uid` sees `item` deleted from: the owner, its location; a deleter, its place in their tree while their shares let them read there. */
  async #locationFor(uid: string, item: TrashItem): Promise<string | undefined> {
    if (item.owner === uid) return item.originalLocation;
    const seen = (await this.#views(uid))({ owner: item.owner, path: item.originalLocation });
    return seen.permissions & PERMISSION_READ ? seen.path : undefined;
  }

  /** Members of a trashed folder. */
  children(node: TrashNode): Promise<TrashNode[]> {
    return node.kind === 'dir' ? this.repo.children(this.#db, node.itemId, node.fileId) : Promise.resolve([]);
  }

  /** Opens a trashed file's content (verified as any file's: same file id, blob, row seal). */
  open(actor: Actor, node: TrashNode, range?: ByteRange): Promise<FileContent> {
    return this.#files.openNode(actor, node, range);
  }

  /**
   * Restores the node at `rel` of the item to where it was deleted from (its parent folder gone:
   * to the root), named "name (restored)" when the name is taken; file ids come back.
   * @throws NotFoundError; QuotaExceededError when it does not fit the owner's quota
   */
  async restore(actor: Actor, uid: string, name: string, rel = ''): Promise<FileNode> {
    const { item, node } = await this.resolve(actor, uid, name, rel);
    const owner = item.owner;
    // a share recipient restores into the owner's tree: only where their shares let them create
    const view = owner === uid || actor.kind !== 'user' ? undefined : await this.#views(uid);
    await this.#files.ensureHome(owner);
    const now = this.#now();
    const restored = await transact(this.#db, async (trx) => {
      const still = await this.repo.node(trx, item.id, node.relPath);
      if (!still) throw new NotFoundError(`${name} is not in the trash bin`);
      const wanted = still.relPath === '' ? item.originalLocation : joinPath(item.originalLocation, still.relPath);
      let dir = parentPath(wanted);
      let parent = await this.#nodes.byPath(trx, owner, dir);
      if (!parent || parent.kind !== 'dir') {
        if (view) throw new ForbiddenError(`the folder ${still.name} was deleted from is gone: only ${owner} can restore it`);
        dir = '';
        parent = await this.#nodes.byPath(trx, owner, '');
      }
      if (view && !(view({ owner, path: dir }).permissions & PERMISSION_CREATE)) {
        throw new ForbiddenError(`the share does not allow creating files in the folder ${still.name} was deleted from`);
      }
      const quota = await this.#nodes.userQuota(trx, owner);
      const root = await this.#nodes.byPath(trx, owner, '');
      if (quota !== null && (root?.size ?? 0) + still.size > quota) throw new QuotaExceededError(`not enough space to restore ${still.name}`);
      let target = joinPath(dir, still.name);
      for (let n = 1; await this.#nodes.byPath(trx, owner, target); n++) target = joinPath(dir, restoredName(still.name, n));
      await this.#nodes.restoreSubtreeFromTrash(trx, item.id, still.relPath, owner, target, baseName(target), parent!.fileId);
      if (still.relPath === '') await this.repo.deleteItem(trx, item.id);
      else await this.repo.shrink(trx, item.id, still.relPath, still.size);
      await this.#nodes.propagate(trx, owner, target, still.size, now);
      return (await this.#nodes.byPath(trx, owner, target))!;
    });
    this.#log.info({ owner, fileId: restored.fileId, by: actor.kind === 'user' ? actor.uid : actor.kind }, 'restored from the trash bin');
    // keys never move with rows: content back below a shared node (maybe not where it was, or
    // trashed before the share) has its data keys, versions' too, added to that node's keyring
    await this.#events?.afterArrival(actor, owner, restored.fileId);
    await this.#files.changedElsewhere(owner, restored.path, restored.fileId, [], { action: 'restored', actor });
    return restored;
  }

  /**
   * Deletes the node at `rel` of an item for good, with its versions and content. An item `uid`
   * deleted from someone else's share leaves `uid`'s view only (its owner keeps it, as Nextcloud
   * keeps the owner's copy).
   * @throws NotFoundError; ForbiddenError for a part of such an item (only the whole leaves the view)
   */
  async deleteForGood(actor: Actor, uid: string, name: string, rel = ''): Promise<void> {
    const { item, node } = await this.resolve(actor, uid, name, rel);
    if (item.owner !== uid) {
      if (node.relPath !== '') throw new ForbiddenError(`${name} was deleted from ${item.owner}'s share: only the whole of it can leave your trash bin`);
      await this.repo.dismissForDeleter(this.#db, item.id);
      return;
    }
    await this.#purge(item, node.relPath);
  }

  /**
   * Empties `uid`'s trash: their own items go for good, a page at a time (flat memory); those they
   * deleted from others' shares leave their view and stay with their owners. Items trashed while it
   * runs stay. @returns how many items left the bin
   */
  async empty(actor: Actor, uid: string): Promise<number> {
    const owner = this.#uidOf(actor, uid);
    let n = await this.repo.dismissAllDeletedBy(this.#db, owner);
    for await (const item of this.itemsOf(owner)) {
      await this.#purge(item, '');
      n++;
    }
    return n;
  }

  /**
   * `uid`'s own items, oldest first, read a page at a time (flat memory), up to item id `upTo`
   * (default: the newest when the walk starts); an item removed meanwhile is skipped by its page.
   */
  async *itemsOf(uid: string, upTo?: number): AsyncGenerator<TrashItem> {
    const maxId = upTo ?? await this.repo.maxIdOf(this.#db, uid);
    let after: TrashItem | undefined;
    for (;;) {
      const page = await this.repo.oldestPage(this.#db, uid, after, ITEMS_PER_PAGE, maxId);
      if (page.length === 0) return;
      yield* page;
      after = page[page.length - 1];
    }
  }

  /** Count and bytes of `uid`'s trash. */
  usage(uid: string): Promise<{ count: number; bytes: number }> { return this.repo.usage(this.#db, uid); }

  owners(): Promise<string[]> { return this.repo.owners(this.#db); }

  /** Deletes an item (or the part of it at `relPath`) with the versions of its files; content after the commit. */
  async purgeItem(item: TrashItem): Promise<void> { await this.#purge(item, ''); }

  async #purge(item: TrashItem, relPath: string): Promise<void> {
    const blobs = await transact(this.#db, async (trx) => {
      const nodes = await this.repo.subtree(trx, item.id, relPath);
      if (nodes.length === 0) return [];
      const ids = nodes.map((n) => n.fileId);
      const out = nodes.map((n) => n.blobId).filter((b): b is string => !!b);
      out.push(...await this.#versions.repo.removeForFiles(trx, ids));
      await this.#nodes.deleteProperties(trx, ids);
      await this.repo.removeSubtree(trx, item.id, relPath);
      if (relPath !== '') await this.repo.shrink(trx, item.id, relPath, nodes[0]!.size);
      return out;
    });
    await this.#versions.deleteBlobs(blobs);
  }

  #uidOf(actor: Actor, uid: string): string {
    if (actor.kind === 'system') return uid;
    if (actor.kind !== 'user' || actor.uid !== uid) throw new ForbiddenError('a trash bin is seen by its user only');
    return uid;
  }
}

/** @throws ValidationError unless `s` is a plain relative path inside a trash item. */
export function trashRelPath(s: string): string {
  try { return normalizePath(s); } catch (err) { throw new ValidationError(`invalid path in the trash bin: ${(err as Error).message}`); }
}
