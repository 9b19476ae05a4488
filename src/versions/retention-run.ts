import type { TrashExpiry } from '../trash/trash-expiry.ts';
import type { TrashService } from '../trash/trash-service.ts';
import type { ExpiryReport, VersionExpiry } from './version-expiry.ts';
import type { VersionService } from './version-service.ts';
import type { RetentionQueue } from './retention-queue.ts';

export interface RetentionDeps {
  readonly versions: VersionService;
  readonly trash: TrashService;
  readonly retention: { readonly versions: VersionExpiry; readonly trash: TrashExpiry; readonly grew: RetentionQueue };
}

export interface RetentionReport {
  readonly users: number;
  readonly versions: ExpiryReport;
  readonly trash: ExpiryReport;
}

/**
 * One expiry pass over every user with versions or trash items (the background job, and
 * `versions:expire` / `trashbin:expire` without users): Nextcloud's ExpireVersions and
 * ExpireTrash jobs. `what` limits it to one of them; `uids` to some users.
 * @throws database errors (what expired before stays expired: each user is committed alone)
 */
export async function runRetention(app: RetentionDeps, now: number, what: 'all' | 'versions' | 'trash' = 'all', uids?: string[]): Promise<RetentionReport> {
  const v = { expired: 0, bytes: 0 };
  const t = { expired: 0, bytes: 0 };
  const users = new Set<string>(uids ?? []);
  if (!uids) {
    if (what !== 'trash') for (const u of await app.versions.owners()) users.add(u);
    if (what !== 'versions') for (const u of await app.trash.owners()) users.add(u);
  }
  for (const uid of users) {
    if (what !== 'trash') {
      const r = await app.retention.versions.expireUser(uid, now);
      v.expired += r.expired;
      v.bytes += r.bytes;
    }
    if (what !== 'versions') {
      const r = await app.retention.trash.expireUser(uid, now);
      t.expired += r.expired;
      t.bytes += r.bytes;
    }
  }
  return { users: users.size, versions: v, trash: t };
}

/**
 * The prompt pass (Nextcloud's scheduled expiry after a new version or a delete): for each user
 * marked since the last pass, the versions and the trash that are over the space they may take
 * are expired now, oldest first (the full expiry, thinning and age included, stays with runRetention).
 * @throws database errors (a user not reached is marked again)
 */
export async function runMarked(app: RetentionDeps, now: number): Promise<RetentionReport> {
  const v = { expired: 0, bytes: 0 };
  const t = { expired: 0, bytes: 0 };
  const uids = app.retention.grew.take();
  for (const [i, uid] of uids.entries()) {
    try {
      if (await app.retention.versions.overSpace(uid)) {
        const r = await app.retention.versions.expireUser(uid, now);
        v.expired += r.expired;
        v.bytes += r.bytes;
      }
      if (await app.retention.trash.overSpace(uid)) {
        const r = await app.retention.trash.expireUser(uid, now);
        t.expired += r.expired;
        t.bytes += r.bytes;
      }
    } catch (err) {
      for (const u of uids.slice(i)) app.retention.grew.mark(u);
      throw err;
    }
  }
  return { users: uids.length, versions: v, trash: t };
}
