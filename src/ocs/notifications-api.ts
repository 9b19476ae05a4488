import { createHash } from 'node:crypto';
import { userActor } from '../actor.ts';
import type { NotificationRow } from '../notifications/notification-repository.ts';
import type { OcsCall } from './ocs-call.ts';
import { OcsError, sendOcsData } from './ocs-response.ts';

/** `/ocs/vN.php/apps/notifications/api/v1|v2/notifications[/{id}]` (Nextcloud's notifications app). */
export const NOTIFICATIONS_PATH = /^apps\/notifications\/api\/v[12]\/notifications$/;
export const NOTIFICATION_PATH = /^apps\/notifications\/api\/v[12]\/notifications\/([^/]+)$/;

/** What the `notifications` capability offers (the desktop client checks `ocs-endpoints`). */
export const NOTIFICATIONS_CAPABILITY = { 'ocs-endpoints': ['list', 'get', 'delete', 'delete-all'] };

/** One notification as the notifications app's API v2 shows it (absent optional fields are empty, as Nextcloud's). */
function format(n: NotificationRow, baseUrl: string): Record<string, unknown> {
  return {
    notification_id: n.id,
    app: n.app,
    user: n.uid,
    datetime: new Date(n.createdAt * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    object_type: n.objectType,
    object_id: n.objectId,
    subject: n.subject,
    subjectRich: '',
    subjectRichParameters: [],
    message: n.message,
    messageRich: '',
    messageRichParameters: [],
    link: n.link.startsWith('/') ? baseUrl + n.link : n.link,
    icon: '',
    shouldNotify: true,
    actions: [],
  };
}

function notificationId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new OcsError(404, 'Notification not found');
  return Number(raw);
}

/**
 * `GET …/notifications`: the user's newest notifications, with an ETag; `If-None-Match` with the
 * same one answers 304 without a body (API v2), as the notifications app does.
 */
export async function listNotifications(call: OcsCall): Promise<void> {
  const me = await call.user();
  const list = await call.ctx.app.notifications.list(userActor(me.uid, me.via));
  const data = list.map((n) => format(n, call.ctx.baseUrl));
  const etag = `"${createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 32)}"`;
  call.res.setHeader('ETag', etag);
  const ifNone = call.req.headers['if-none-match'];
  if (call.target.version === 2 && typeof ifNone === 'string' && ifNone.split(',').some((t) => t.trim() === etag)) {
    call.res.statusCode = 304;
    call.res.end();
    return;
  }
  sendOcsData(call.res, call.target, data);
}

/** `GET …/notifications/{id}`. @throws NotFoundError (unknown, or another user's) */
export async function getNotification(call: OcsCall, raw: string): Promise<void> {
  const me = await call.user();
  const n = await call.ctx.app.notifications.get(userActor(me.uid, me.via), notificationId(raw));
  sendOcsData(call.res, call.target, format(n, call.ctx.baseUrl));
}

/** `DELETE …/notifications/{id}`. @throws NotFoundError (unknown, or another user's) */
export async function deleteNotification(call: OcsCall, raw: string): Promise<void> {
  const me = await call.user();
  await call.ctx.app.notifications.delete(userActor(me.uid, me.via), notificationId(raw));
  sendOcsData(call.res, call.target, []);
}

/** `DELETE …/notifications`: dismisses all of the user's notifications. */
export async function deleteAllNotifications(call: OcsCall): Promise<void> {
  const me = await call.user();
  await call.ctx.app.notifications.deleteAll(userActor(me.uid, me.via));
  sendOcsData(call.res, call.target, []);
}
