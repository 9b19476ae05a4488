import type { Actor } from '../actor.ts';
import type { FileNode } from '../files/types.ts';
import type { TreeChange, TreeChangeSink } from '../files/tree-changes.ts';
import type { Logger } from '../logger.ts';
import type { ChangeBus } from '../push/change-bus.ts';
import type { Viewer } from '../push/change-audience.ts';
import type { ShareEvents } from '../sharing/share-events.ts';
import { SHARE_TYPE_GROUP, type Share } from '../sharing/share-types.ts';
import type { ActivityRepository, ActivityRow } from './activity-repository.ts';

/**
 * How long changes of one owner are gathered before they are stored, ms: longer than push's 30 ms,
 * so that a burst of writes costs a few inserts a second, not one per 30 ms (each is a commit);
 * short enough that notify_activity still goes out well within a second.
 */
export const ACTIVITY_GATHER_MS = 200;
/** Expired rows are looked for at most this often, ms. */
const EXPIRE_EVERY_MS = 3_600_000;

/** Who sees which paths of a tree (push's audience: src/push/change-audience.ts). */
export interface ViewerLookup {
  viewers(owner: string, paths: readonly string[]): Promise<Map<string, Viewer[]>>;
}

/**
 * Feeds the activity stream (Nextcloud's activity app): every file event the files service reports
 * with an action (created, changed, deleted, restored) becomes one row per user who sees the
 * node, with the path as that user sees it; every user or group share one row for the sharer and
 * one per recipient. Then `notify_activity` goes to those users through the change bus. Rows
 * older than the retention (`activity_expire_days`) are deleted as new ones come.
 */
export class ActivityRecorder implements TreeChangeSink, ShareEvents {
  readonly #repo: ActivityRepository;
  readonly #audience: ViewerLookup;
  readonly #bus: ChangeBus;
  readonly #log: Logger;
  readonly #retentionSeconds: number;
  readonly #pending = new Map<string, { changes: TreeChange[]; timer: NodeJS.Timeout }>();
  /** Flushes under way (close waits for them). */
  readonly #flushing = new Set<Promise<void>>();
  #lastExpiry = 0;

  constructor(deps: { repo: ActivityRepository; audience: ViewerLookup; bus: ChangeBus; log: Logger; retentionDays: number }) {
    this.#repo = deps.repo;
    this.#audience = deps.audience;
    this.#bus = deps.bus;
    this.#log = deps.log;
    this.#retentionSeconds = deps.retentionDays * 86_400;
  }

  changed(change: TreeChange): void {
    if (!change.action || change.fileId === undefined || change.path === '') return;
    let g = this.#pending.get(change.owner);
    if (!g) {
      g = { changes: [], timer: setTimeout(() => this.#flush(change.owner), ACTIVITY_GATHER_MS) };
      g.timer.unref();
      this.#pending.set(change.owner, g);
    }
    g.changes.push(change);
  }

  /** Records what is gathered now and waits for every flush (a ./occ command's changes are stored before it exits). */
  async close(): Promise<void> {
    for (const owner of [...this.#pending.keys()]) this.#flush(owner);
    await Promise.all([...this.#flushing]);
  }

  #flush(owner: string): void {
    const g = this.#pending.get(owner);
    this.#pending.delete(owner);
    if (!g) return;
    clearTimeout(g.timer);
    const p = this.#record(g.changes).finally(() => this.#flushing.delete(p));
    this.#flushing.add(p);
  }

  async #record(changes: TreeChange[]): Promise<void> {
    const owner = changes[0]!.owner;
    try {
      const paths = new Set(changes.flatMap((c) => (c.from === undefined ? [c.path] : [c.path, c.from])));
      const viewers = await this.#audience.viewers(owner, [...paths]);
      const now = Math.floor(Date.now() / 1000);
      const rows: Omit<ActivityRow, 'id'>[] = [];
      const row = (c: TreeChange, uid: string, type: string, objectName: string, other = ''): Omit<ActivityRow, 'id'> => ({
        uid, actor: c.by ?? '', app: 'files', type, objectType: 'files', objectId: c.fileId!, objectName, other, createdAt: now,
      });
      for (const c of changes) {
        const after = viewers.get(c.path) ?? [];
        if (c.action !== 'moved' || c.from === undefined) {
          for (const v of after) rows.push(row(c, v.uid, `file_${c.action}`, v.path));
          continue;
        }
        // a move as Nextcloud records it (file_changed, the old path kept); who saw only one side saw it appear or go
        const before = viewers.get(c.from) ?? [];
        for (const v of after) {
          const old = before.find((b) => b.uid === v.uid);
          rows.push(old ? row(c, v.uid, 'file_changed', v.path, old.path) : row(c, v.uid, 'file_created', v.path));
        }
        for (const b of before) if (!after.some((v) => v.uid === b.uid)) rows.push(row(c, b.uid, 'file_deleted', b.path));
      }
      await this.#store(rows, now);
    } catch (err) {
      this.#log.warn({ err }, 'activity: could not record file events');
    }
  }

  async created(_actor: Actor, share: Share, node: FileNode, recipients: readonly string[]): Promise<void> {
    try {
      const now = Math.floor(Date.now() / 1000);
      const seen = (await this.#audience.viewers(node.owner, [node.path])).get(node.path) ?? [];
      const rows: Omit<ActivityRow, 'id'>[] = [];
      for (const v of seen) {
        // the sharer and the owner: "… shared X with carol"; a recipient: "alice shared X with you" (or with the group)
        const isRecipient = recipients.includes(v.uid);
        if (!isRecipient && v.uid !== share.initiator && v.uid !== node.owner) continue;
        const other = isRecipient ? (share.shareType === SHARE_TYPE_GROUP ? share.shareWith ?? '' : '') : share.shareWith ?? '';
        rows.push({
          uid: v.uid, actor: share.initiator, app: 'files_sharing', type: 'shared', objectType: 'files', objectId: node.fileId,
          objectName: v.path, other, createdAt: now,
        });
      }
      await this.#store(rows, now);
    } catch (err) {
      this.#log.warn({ err }, 'activity: could not record a share');
    }
  }

  /** A deleted share stays in the streams as it happened. */
  async deleted(): Promise<void> {}

  async #store(rows: Omit<ActivityRow, 'id'>[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await this.#repo.insert(rows);
    this.#bus.publish({ kind: 'activity', uids: [...new Set(rows.map((r) => r.uid))] });
    if (Date.now() - this.#lastExpiry >= EXPIRE_EVERY_MS) {
      this.#lastExpiry = Date.now();
      const gone = await this.#repo.expire(now - this.#retentionSeconds);
      if (gone > 0) this.#log.info({ rows: gone }, 'activity: expired old rows');
    }
  }
}
