import type { OcsCall } from './ocs-call.ts';
import { OcsError, sendOcsData } from './ocs-response.ts';

/**
 * `GET core/getapppassword`: turns login-password Basic credentials into a new app password named
 * after the client's User-Agent. Already using an app password → 403, as Nextcloud.
 */
export async function getAppPassword(call: OcsCall): Promise<void> {
  const me = await call.user();
  if (me.via !== 'password') throw new OcsError(403, 'You are already using an app password');
  const name = String(call.req.headers['user-agent'] ?? '').slice(0, 255) || 'app password';
  const { token, info } = await call.ctx.app.appPasswords.create(me.uid, name);
  await call.ctx.app.audit.record('app_password.created', { uid: me.uid, ip: call.ctx.ip, name, appPasswordId: info.id });
  sendOcsData(call.res, call.target, { apppassword: token });
}

/** `DELETE core/apppassword`: revokes the app password the request authenticated with. */
export async function deleteAppPassword(call: OcsCall): Promise<void> {
  const me = await call.user();
  if (me.via !== 'app-password') throw new OcsError(403, 'Not authenticated with an app password');
  await call.ctx.app.appPasswords.revoke(me.uid, me.appPasswordId!);
  call.ctx.app.auth.invalidateUser(me.uid);
  await call.ctx.app.audit.record('app_password.revoked', { uid: me.uid, ip: call.ctx.ip });
  sendOcsData(call.res, call.target, []);
}
