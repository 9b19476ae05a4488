import { userActor } from '../actor.ts';
import type { ActivityRow } from '../activity/activity-repository.ts';
import { ValidationError } from '../errors.ts';
import type { OcsCall } from './ocs-call.ts';
import { sendOcsData } from './ocs-response.ts';

/** `/ocs/v2.php/apps/activity/api/v2/activity[/{filter}]` (Nextcloud's activity app, API v2). */
export const ACTIVITY_PATH = /^apps\/activity\/api\/v2\/activity(?:\/([^/]+))?$/;

/** What the `activity` capability offers (the desktop client uses the stream when `apiv2` is there). */
export const ACTIVITY_CAPABILITY = { apiv2: ['filters', 'rich-strings'] };

const VERBS: Record<string, string> = { file_created: 'created', file_changed: 'changed', file_deleted: 'deleted', file_restored: 'restored' };

/** The subject of `a` as its user reads it: a template with `{file}`/`{user}` placeholders, and its parameters. */
function subjectOf(a: ActivityRow): [string, Record<string, Record<string, string>>] {
  const name = a.objectName.slice(a.objectName.lastIndexOf('/') + 1);
  const params: Record<string, Record<string, string>> = { file: { type: 'file', id: String(a.objectId), name, path: a.objectName } };
  const self = a.actor === a.uid;
  if (a.actor !== '' && !self) params.user = { type: 'user', id: a.actor, name: a.actor };
  if (a.type === 'shared') {
    if (self) return [`You shared {file} with ${a.other}`, params];
    return [a.other === '' ? '{user} shared {file} with you' : `{user} shared {file} with ${a.other}`, params];
  }
  if (a.type === 'file_changed' && a.other !== '') {
    // a move: renamed within its folder, else moved
    params.oldfile = { type: 'file', id: String(a.objectId), name: a.other.slice(a.other.lastIndexOf('/') + 1), path: a.other };
    const dir = (p: string) => p.slice(0, p.lastIndexOf('/'));
    const verb = dir(a.other) === dir(a.objectName) ? 'renamed' : 'moved';
    if (self) return [`You ${verb} {oldfile} to {file}`, params];
    return [a.actor === '' ? `{oldfile} was ${verb} to {file}` : `{user} ${verb} {oldfile} to {file}`, params];
  }
  const verb = VERBS[a.type] ?? 'changed';
  if (self) return [`You ${verb} {file}`, params];
  return [a.actor === '' ? `{file} was ${verb}` : `{user} ${verb} {file}`, params];
}

function format(a: ActivityRow): Record<string, unknown> {
  const [template, params] = subjectOf(a);
  const subject = template.replace(/\{(file|oldfile|user)\}/g, (_, k: string) => params[k]?.name ?? '');
  return {
    activity_id: a.id,
    app: a.app,
    type: a.type,
    user: a.actor,
    affecteduser: a.uid,
    subject,
    subject_rich: [template, params],
    message: '',
    message_rich: ['', []],
    object_type: a.objectType,
    object_id: a.objectId,
    object_name: a.objectName,
    objects: { [String(a.objectId)]: a.objectName },
    link: '',
    icon: '',
    datetime: new Date(a.createdAt * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    previews: [],
  };
}

/** An optional non-negative integer parameter. @throws ValidationError */
function intParam(p: URLSearchParams, name: string): number | undefined {
  const v = p.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v.trim())) throw new ValidationError(`Invalid ${name}`);
  return Number(v.trim());
}

/**
 * `GET …/activity[/{filter}]` with `since`, `limit`, `sort`, `object_type` + `object_id` (filter
 * `filter`): a page of the user's stream; `X-Activity-Last-Given` and a `Link: …; rel="next"`
 * header when there may be more; 304 without a body at the end of the stream (as the activity app).
 * `…/activity/filters` lists the filters.
 * @throws NotFoundError (unknown filter); ValidationError; ForbiddenError (`since` of another user)
 */
export async function getActivity(call: OcsCall, filterRaw: string | undefined): Promise<void> {
  const me = await call.user();
  if (filterRaw === 'filters') {
    sendOcsData(call.res, call.target, [
      { id: 'all', name: 'All activities', icon: '', priority: 0 },
      { id: 'self', name: 'By you', icon: '', priority: 1 },
      { id: 'by', name: 'By others', icon: '', priority: 2 },
    ]);
    return;
  }
  const p = await call.params();
  const sort = p.get('sort') ?? 'desc';
  if (sort !== 'asc' && sort !== 'desc') throw new ValidationError('Invalid sort');
  const objectId = intParam(p, 'object_id');
  const objectType = p.get('object_type') ?? undefined;
  const filter = filterRaw ?? 'all';
  const limit = intParam(p, 'limit');
  const rows = await call.ctx.app.activity.page(userActor(me.uid, me.via), {
    filter, since: intParam(p, 'since'), limit, sort,
    ...(objectType !== undefined && objectType !== '' ? { objectType } : {}), ...(objectId !== undefined ? { objectId } : {}),
  });
  if (rows.length === 0) {
    call.res.statusCode = 304;
    call.res.end();
    return;
  }
  const last = rows[rows.length - 1]!.id;
  call.res.setHeader('X-Activity-Last-Given', String(last));
  if (limit === undefined || rows.length >= limit) {
    const next = new URLSearchParams(p);
    next.set('since', String(last));
    next.delete('format');
    call.res.setHeader('Link', `<${call.ctx.baseUrl}/ocs/v2.php/apps/activity/api/v2/activity/${encodeURIComponent(filter)}?${next}>; rel="next"`);
  }
  sendOcsData(call.res, call.target, rows.map(format));
}
