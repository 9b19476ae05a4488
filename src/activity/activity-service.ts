import type { UserActor } from '../actor.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { ActivityQuery, ActivityRepository, ActivityRow } from './activity-repository.ts';

/** Nextcloud's activity filters that Coffer has: everything, own actions, others' actions, one object. */
export const ACTIVITY_FILTERS = ['all', 'self', 'by', 'filter'] as const;
export type ActivityFilter = typeof ACTIVITY_FILTERS[number];

/** Page size when none is asked for, and the most one page returns. */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** A page request of the activity API. */
export interface ActivityPageRequest {
  filter: string;
  since?: number;
  limit?: number;
  sort?: 'asc' | 'desc';
  objectType?: string;
  objectId?: number;
}

/** Reading one user's activity stream (rows are written by ActivityRecorder). */
export class ActivityService {
  readonly #repo: ActivityRepository;
  constructor(repo: ActivityRepository) { this.#repo = repo; }

  /**
   * A page of `actor`'s stream.
   * @throws NotFoundError (unknown filter); ValidationError (object_type/object_id without the
   *   `filter` filter, or only one of them; a limit below 1); ForbiddenError (`since` is another user's activity)
   */
  async page(actor: UserActor, r: ActivityPageRequest): Promise<ActivityRow[]> {
    if (!(ACTIVITY_FILTERS as readonly string[]).includes(r.filter)) throw new NotFoundError('Invalid filter');
    const hasObject = r.objectType !== undefined || r.objectId !== undefined;
    if (r.filter === 'filter' && (r.objectType === undefined || r.objectId === undefined)) throw new ValidationError('object_type and object_id are needed with the filter "filter"');
    if (hasObject && r.filter !== 'filter') throw new ValidationError('object_type and object_id go only with the filter "filter"');
    // as the activity app: a larger limit is cut down, not refused
    const limit = Math.min(r.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new ValidationError('limit must be a positive integer');
    if (r.since !== undefined && r.since > 0) {
      const owner = await this.#repo.ownerOf(r.since);
      if (owner !== undefined && owner !== actor.uid) throw new ForbiddenError('The offset activity belongs to a different user');
    }
    const q: ActivityQuery = {
      limit, sort: r.sort ?? 'desc',
      ...(r.since !== undefined && r.since > 0 ? { since: r.since } : {}),
      ...(r.filter === 'self' ? { own: true } : r.filter === 'by' ? { own: false } : {}),
      ...(r.filter === 'filter' ? { object: { type: r.objectType!, id: r.objectId! } } : {}),
    };
    return this.#repo.page(actor.uid, q);
  }
}
