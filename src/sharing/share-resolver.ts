import type { FilesService } from '../files/files-service.ts';
import { joinPath, normalizePath } from '../files/paths.ts';
import type { FileNode } from '../files/types.ts';
import { NotFoundError } from '../errors.ts';
import type { ShareRepository } from './share-repository.ts';
import { PERMISSION_ALL } from './share-types.ts';

/** Where a path of a user's tree really lives. */
export interface ResolvedPath {
  /** Owner of the tree the path lives in. */
  readonly owner: string;
  /** Path in the owner's tree. */
  readonly path: string;
  /** What the user may do there (31 in their own tree). */
  readonly permissions: number;
  /** The (first) share it came through, when inside a received share. */
  readonly shareId?: number;
  /** The first segment of the user's path naming the mount, when inside a received share. */
  readonly mountPoint?: string;
  /** Path of the mounted (shared) node in the owner's tree, when inside a received share. */
  readonly mountNodePath?: string;
}

/** A received share as it appears in the recipient's root listing. */
export interface Mount {
  readonly mountPoint: string;
  readonly owner: string;
  /** The shared node in the owner's tree. */
  readonly node: FileNode;
  /** Union of the permissions of every share of this node to the user. */
  readonly permissions: number;
  readonly shareIds: number[];
}

/** `Foo` → `Foo (2)`; `a.txt` → `a (2).txt` (Nextcloud's naming of clashing mount points). */
export function numberedName(name: string, n: number): string {
  if (n <= 1) return name;
  const dot = name.lastIndexOf('.');
  if (dot > 0) return `${name.slice(0, dot)} (${n})${name.slice(dot)}`;
  return `${name} (${n})`;
}

/**
 * Maps paths of a user's tree to the tree they live in: a path whose first segment is the mount
 * point of a received user or group share lives in the owner's tree below the shared node; any
 * other path is the user's own, with all permissions. Mount rows are created lazily, one per
 * recipient, with a name unique in that recipient's root ("Foo", then "Foo (2)").
 */
export class ShareResolver {
  readonly #repo: ShareRepository;
  readonly #files: FilesService;
  readonly #now: () => number;

  constructor(deps: { repo: ShareRepository; files: FilesService; now?: () => number }) {
    this.#repo = deps.repo;
    this.#files = deps.files;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Where `path` of `uid`'s tree lives. Does not check that the target exists.
   * @throws ValidationError for a malformed path; NotFoundError for a path below a shared file
   */
  async resolve(uid: string, path: string): Promise<ResolvedPath> {
    const p = normalizePath(path);
    if (p === '') return { owner: uid, path: '', permissions: PERMISSION_ALL };
    const slash = p.indexOf('/');
    const first = slash < 0 ? p : p.slice(0, slash);
    const rest = slash < 0 ? '' : p.slice(slash + 1);
    const found = await this.#repo.mountsNamedAndUnmounted(uid, first, this.#now());
    let rows = found.rows;
    if (rows.length === 0 && found.unmounted > 0) {
      await this.ensureMounts(uid);
      rows = await this.#repo.mountsNamed(uid, first, this.#now());
    }
    if (rows.length === 0) return { owner: uid, path: p, permissions: PERMISSION_ALL };
    const { node, share } = rows[0]!;
    if (node.kind === 'file' && rest !== '') throw new NotFoundError(`${p} does not exist`);
    const permissions = rows.reduce((acc, r) => acc | r.share.permissions, 0);
    return { owner: node.owner, path: joinPath(node.path, rest), permissions, shareId: share.id, mountPoint: first, mountNodePath: node.path };
  }

  /** The received shares shown in `uid`'s root, by mount point (each with the owner's node). */
  async mountsOf(uid: string): Promise<Mount[]> {
    const received = await this.#repo.effective(await this.ensureMounts(uid), this.#now());
    const rows = await this.#repo.mountRows(uid);
    const byName = new Map<string, Mount>();
    for (const r of received) {
      const m = rows.get(r.share.id);
      if (!m || m.hidden) continue;
      const cur = byName.get(m.fileTarget);
      if (cur) {
        if (cur.node.fileId !== r.node.fileId) continue; // a stale clash: the older mount wins
        byName.set(m.fileTarget, { ...cur, permissions: cur.permissions | r.share.permissions, shareIds: [...cur.shareIds, r.share.id] });
      } else {
        byName.set(m.fileTarget, { mountPoint: m.fileTarget, owner: r.node.owner, node: r.node, permissions: r.share.permissions, shareIds: [r.share.id] });
      }
    }
    return [...byName.values()].sort((a, b) => (a.mountPoint < b.mountPoint ? -1 : a.mountPoint > b.mountPoint ? 1 : 0));
  }

  /**
   * Creates the missing mount rows of `uid`'s received shares and returns the received shares
   * (stored permissions, inactive reshares included: they keep their name for when they come back).
   * A node already mounted for the user reuses its name; otherwise the share's target, numbered
   * until it clashes with nothing in the user's root.
   */
  async ensureMounts(uid: string): Promise<Awaited<ReturnType<ShareRepository['received']>>> {
    const received = await this.#repo.receivedAsStored(uid, this.#now());
    const rows = await this.#repo.mountRows(uid);
    const missing = received.filter((r) => !rows.has(r.share.id));
    if (missing.length === 0) return received;
    const taken = new Set<string>((await this.#files.children(uid, '')).map((n) => n.name));
    const nameOfNode = new Map<number, string>();
    for (const r of received) {
      const m = rows.get(r.share.id);
      if (m && !m.hidden) { taken.add(m.fileTarget); nameOfNode.set(r.node.fileId, m.fileTarget); }
    }
    for (const r of missing) {
      let name = nameOfNode.get(r.node.fileId);
      if (name === undefined) {
        for (let n = 1; ; n++) {
          name = numberedName(r.share.fileTarget, n);
          if (!taken.has(name)) break;
        }
        taken.add(name);
        nameOfNode.set(r.node.fileId, name);
      }
      await this.#repo.insertMount(r.share.id, uid, name);
    }
    return received;
  }

  /** Share types (0, 1, 3) of the owner's nodes that are shared: `oc:share-types` on the owner's side. */
  shareTypesOf(owner: string, fileIds: number[]): Promise<Map<number, number[]>> {
    return this.#repo.shareTypesOf(owner, fileIds, this.#now());
  }
}
