import type { App } from '../app.ts';
import type { Handler, Route } from '../http/context.ts';
import { deleteAppPassword, getAppPassword } from './app-password-controller.ts';
import { capabilities } from './capabilities.ts';
import { loginFlowRoutes } from './login-flow-routes.ts';
import type { OcsCall } from './ocs-call.ts';
import { assertOcsCsrfSafe } from './ocs-csrf.ts';
import { ocsEntry } from './ocs-entry.ts';
import { OcsError, sendOcsData, sendOcsFailure, type OcsVersion } from './ocs-response.ts';
import { statusHandler } from './status-route.ts';
import { ACTIVITY_PATH, getActivity } from './activity-api.ts';
import {
  deleteAllNotifications, deleteNotification, getNotification, listNotifications, NOTIFICATION_PATH, NOTIFICATIONS_PATH,
} from './notifications-api.ts';
import { getRecovery, setRecovery } from './encryption-recovery-api.ts';
import { addUser, deleteUser, editUser, getCurrentUser, getUser, listUsers, setUserEnabled } from './users-controller.ts';

type Endpoint = (call: OcsCall, m: RegExpExecArray) => Promise<void>;

/**
 * The OCS API: method, path pattern below `/ocs/vN.php/`, handler, and `'changes-state'` for a GET
 * that changes state (it then needs OCS-APIREQUEST like any POST: ocs-csrf.ts).
 */
const ENDPOINTS: readonly [string, RegExp, Endpoint, 'changes-state'?][] = [
  ['GET', /^cloud\/capabilities$/, async (call) => {
    if (call.hasCredentials()) await call.user(); // wrong credentials still get a 401
    sendOcsData(call.res, call.target, capabilities(call.ctx.baseUrl));
  }],
  ['GET', /^cloud\/user$/, (call) => getCurrentUser(call)],
  ['GET', /^cloud\/users$/, (call) => listUsers(call)],
  ['POST', /^cloud\/users$/, (call) => addUser(call)],
  ['GET', /^cloud\/users\/([^/]+)$/, (call, m) => getUser(call, m[1])],
  ['PUT', /^cloud\/users\/([^/]+)$/, (call, m) => editUser(call, m[1])],
  ['DELETE', /^cloud\/users\/([^/]+)$/, (call, m) => deleteUser(call, m[1])],
  ['PUT', /^cloud\/users\/([^/]+)\/enable$/, (call, m) => setUserEnabled(call, m[1], true)],
  ['PUT', /^cloud\/users\/([^/]+)\/disable$/, (call, m) => setUserEnabled(call, m[1], false)],
  // creates an app password: a cross-site <img> with cached Basic credentials must not do that
  ['GET', /^core\/getapppassword$/, (call) => getAppPassword(call), 'changes-state'],
  ['DELETE', /^core\/apppassword$/, (call) => deleteAppPassword(call)],
  ['POST', /^apps\/encryption\/api\/v1\/recovery$/, (call) => setRecovery(call)],
  ['GET', /^apps\/encryption\/api\/v1\/recovery$/, (call) => getRecovery(call)],
  ['GET', NOTIFICATIONS_PATH, (call) => listNotifications(call)],
  ['DELETE', NOTIFICATIONS_PATH, (call) => deleteAllNotifications(call)],
  ['GET', NOTIFICATION_PATH, (call, m) => getNotification(call, m[1]!)],
  ['DELETE', NOTIFICATION_PATH, (call, m) => deleteNotification(call, m[1]!)],
  ['GET', ACTIVITY_PATH, (call, m) => getActivity(call, m[1])],
];

function decodePath(raw: string): string | undefined {
  try {
    const s = raw.split('/').map((seg) => decodeURIComponent(seg)).join('/');
    return s.includes('\0') ? undefined : s.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

function ocsHandler(version: OcsVersion): Handler {
  const prefix = `/ocs/v${version}.php/`;
  return ocsEntry(version, (ctx) => decodePath(ctx.rawPath.slice(prefix.length)), async (call, path) => {
    const { req, res, target } = call;
    if (path === undefined) throw new OcsError(400, 'Malformed path');
    let pathMatched = false;
    for (const [method, re, fn, changesState] of ENDPOINTS) {
      const m = re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (method === req.method || (method === 'GET' && req.method === 'HEAD')) {
        if (changesState) assertOcsCsrfSafe(req, true);
        await fn(call, m);
        return;
      }
    }
    req.resume();
    if (pathMatched) {
      res.setHeader('Allow', ENDPOINTS.filter(([, re]) => re.test(path)).map(([mt]) => mt).join(', '));
      sendOcsFailure(res, target, 405, 'Method not allowed');
      return;
    }
    sendOcsFailure(res, target, 404, 'Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.');
  });
}

/** Routes of the OCS adapter: `/status.php`, `/ocs/v1.php/…`, `/ocs/v2.php/…` and Login Flow v2. */
export function ocsRoutes(app: App): Route[] {
  return [
    { prefix: '/status.php', exact: true, handler: statusHandler },
    { prefix: '/ocs/v1.php/', handler: ocsHandler(1) },
    { prefix: '/ocs/v2.php/', handler: ocsHandler(2) },
    ...loginFlowRoutes(app),
  ];
}
