import { AuthenticationError, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { UserKeyLockedError } from '../encryption/user-keys/user-key-errors.ts';
import type { ApiCall } from './web-api-files.ts';
import type { ResolvedSession } from './session-auth.ts';
import { readBody, sendJson, str } from './web-http.ts';

/**
 * The user's own settings: `me`, `me/password` {current, password}, `me/recovery` (GET state, POST
 * {enabled: boolean} to opt into or out of password recovery; 403 while the key is locked), `app-passwords` (list/create/
 * revoke), `sessions` (list/revoke).
 * @returns false when the request is not a personal-settings request
 */
export async function handlePersonalApi(c: ApiCall, s: ResolvedSession): Promise<boolean> {
  const { app, user, req, segments, ctx } = c;
  const m = req.method ?? 'GET';
  const [area, a1, a2] = segments;
  if (area === 'me' && a1 === undefined && m === 'GET') {
    const u = await app.users.get(user.uid);
    const quota = await app.files.quota(user.uid);
    sendJson(c.res, 200, { uid: u.uid, displayName: u.displayName, email: u.email, isAdmin: u.isAdmin, quota, lastLogin: u.lastLogin });
    return true;
  }
  if (area === 'me' && a1 === 'password' && m === 'POST') {
    const b = await readBody(req);
    // Throttled and audited like a login (a password check too); ends the other sessions; per-user
    // keys are re-wrapped under the new password (files stay readable).
    let ended: number;
    try {
      ended = await app.passwords.changeOwn(user, str(b, 'current'), str(b, 'password'), { ip: ctx.ip, via: 'web', keepSessionId: s.session.id });
    } catch (err) {
      if (err instanceof AuthenticationError) { sendJson(c.res, 403, { error: { code: 'wrong-password', message: 'The current password is wrong.' } }); return true; }
      throw err;
    }
    sendJson(c.res, 200, { ok: true, otherSessionsEnded: ended });
    return true;
  }
  if (area === 'me' && a1 === 'recovery' && m === 'GET') {
    const enc = await app.encryption.status();
    const imp = await app.userKeys.resetImpact(user.uid);
    sendJson(c.res, 200, {
      enabled: imp.optedIn, recoveryKeyEnabled: imp.recoveryEnabled,
      encryptionEnabled: enc.enabled, perUserMode: await app.userKeys.perUserMode(),
    });
    return true;
  }
  if (area === 'me' && a1 === 'recovery' && m === 'POST') {
    const v = (await readBody(req)).enabled;
    if (typeof v !== 'boolean') throw new ValidationError('enabled must be true or false');
    if (!(await app.userKeys.perUserMode())) throw new ValidationError('Password recovery applies to per-user encryption keys only (this server uses a master key)');
    let r: { sealed: number };
    try {
      r = await app.userKeys.setRecoveryFor(user.uid, v);
    } catch (err) {
      if (err instanceof UserKeyLockedError) {
        sendJson(c.res, 403, { error: { code: 'key-locked', message: 'Your encryption key is locked. Log out and log in again with your password, then retry.' } });
        return true;
      }
      if (err instanceof NotFoundError) throw new ConflictError('No recovery key exists yet: ask your administrator to enable one.');
      throw err;
    }
    await app.audit.record(v ? 'encryption.recovery_opt_in' : 'encryption.recovery_opt_out', { uid: user.uid, ip: ctx.ip, rootKeys: r.sealed, via: 'web' });
    sendJson(c.res, 200, { enabled: v });
    return true;
  }
  if (area === 'app-passwords') {
    if (a1 === undefined && m === 'GET') {
      sendJson(c.res, 200, { appPasswords: await app.appPasswords.list(user.uid) });
      return true;
    }
    if (a1 === undefined && m === 'POST') {
      const name = str(await readBody(req), 'name', false).trim();
      if (!name) throw new ValidationError('Give the app password a name (the device or app using it)');
      const r = await app.appPasswords.create(user.uid, name);
      await app.audit.record('app_password.created', { uid: user.uid, id: r.info.id, ip: ctx.ip, via: 'web' });
      sendJson(c.res, 201, { loginName: user.uid, token: r.token, info: r.info });
      return true;
    }
    if (a1 !== undefined && a2 === undefined && m === 'DELETE') {
      req.resume();
      const id = Number(a1);
      if (!Number.isSafeInteger(id)) throw new NotFoundError('No such app password');
      await app.appPasswords.revoke(user.uid, id);
      app.auth.invalidateUser(user.uid);
      await app.audit.record('app_password.revoked', { uid: user.uid, id, ip: ctx.ip, via: 'web' });
      sendJson(c.res, 200, { ok: true });
      return true;
    }
    return false;
  }
  if (area === 'sessions') {
    if (a1 === undefined && m === 'GET') {
      const list = await app.sessions.list(user.uid);
      sendJson(c.res, 200, { sessions: list.map((x) => ({ ...x, current: x.id === s.session.id })) });
      return true;
    }
    if (a1 !== undefined && m === 'DELETE') {
      req.resume();
      const id = Number(a1);
      if (!Number.isSafeInteger(id)) throw new NotFoundError('No such session');
      await app.sessions.revoke(user.uid, id);
      sendJson(c.res, 200, { ok: true, current: id === s.session.id });
      return true;
    }
    return false;
  }
  return false;
}
