import { statfs } from 'node:fs/promises';
import type { AuthenticatedUser, UserRecord } from '../auth/types.ts';
import type { App } from '../app.ts';
import { AlreadyExistsError, AuthenticationError, ForbiddenError, ValidationError } from '../errors.ts';
import type { OcsCall } from './ocs-call.ts';
import { OcsError, sendOcsData } from './ocs-response.ts';
import { parseQuota, quotaInfo } from './quota-format.ts';


async function freeDiskBytes(app: App): Promise<number> {
  try {
    const s = await statfs(app.config.datadirectory);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return 0;
  }
}

/** Nextcloud's user data object (cloud/user, cloud/users/<id>). */
export async function userData(app: App, u: UserRecord): Promise<Record<string, unknown>> {
  const used = (await app.files.quota(u.uid)).used;
  return {
    enabled: u.enabled,
    id: u.uid,
    lastLogin: u.lastLogin === null ? 0 : u.lastLogin * 1000,
    backend: 'Database',
    subadmin: [],
    quota: quotaInfo(used, u.quota, u.quota === null ? await freeDiskBytes(app) : 0),
    email: u.email,
    displayname: u.displayName,
    'display-name': u.displayName,
    phone: '',
    address: '',
    website: '',
    twitter: '',
    groups: await app.groups.groupsShown(u),
    language: '',
    locale: '',
    backendCapabilities: { setDisplayName: true, setPassword: true },
  };
}

/** `GET cloud/user`: the authenticated user. */
export async function getCurrentUser(call: OcsCall): Promise<void> {
  const me = await call.user();
  const u = await call.ctx.app.users.get(me.uid);
  sendOcsData(call.res, call.target, await userData(call.ctx.app, u));
}

/** `GET cloud/users` (admin): `{users: [uid…]}`, with `search`, `limit`, `offset`. */
export async function listUsers(call: OcsCall): Promise<void> {
  await call.admin();
  const p = await call.params();
  const limit = p.get('limit') ? Number(p.get('limit')) : undefined;
  const offset = p.get('offset') ? Number(p.get('offset')) : undefined;
  if ((limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) || (offset !== undefined && !(Number.isInteger(offset) && offset >= 0))) {
    throw new OcsError(400, 'Invalid limit or offset');
  }
  const users = await call.ctx.app.users.list({ search: p.get('search') ?? undefined, limit, offset });
  sendOcsData(call.res, call.target, { users: users.map((u) => u.uid) });
}

/** `POST cloud/users` (admin): userid, password, displayName, email, groups[], quota → `{id}`. */
export async function addUser(call: OcsCall): Promise<void> {
  const admin = await call.admin();
  const p = await call.params();
  const uid = p.get('userid') ?? '';
  const password = p.get('password') ?? '';
  if (password === '') throw new OcsError(101, 'To send a password link to the user an email address is required.');
  const groups = p.getAll('groups');
  const quotaRaw = p.get('quota');
  try {
    const created = await call.ctx.app.users.create({
      uid,
      password,
      displayName: p.get('displayName') ?? p.get('displayname') ?? undefined,
      email: p.get('email') || undefined,
      isAdmin: groups.includes('admin'),
      quota: quotaRaw ? parseQuota(quotaRaw) : null,
    });
    await call.ctx.app.audit.record('user.created', { uid: created.uid, by: admin.uid, ip: call.ctx.ip, via: 'ocs' });
    sendOcsData(call.res, call.target, { id: created.uid });
  } catch (err) {
    if (err instanceof AlreadyExistsError) throw new OcsError(102, 'User already exists');
    if (err instanceof ValidationError) throw new OcsError(101, err.message);
    throw err;
  }
}

/** `GET cloud/users/<id>`: the user's data; yourself, or anyone for an admin. */
export async function getUser(call: OcsCall, uid: string): Promise<void> {
  const me = await call.user();
  if (me.uid !== uid && !me.isAdmin) throw new OcsError(403, 'Not allowed');
  const u = await call.ctx.app.users.get(uid);
  sendOcsData(call.res, call.target, await userData(call.ctx.app, u));
}

/**
 * `PUT cloud/users/<id>` with `key`/`value`: displayname (display), email, password — yourself or,
 * for an admin, anyone; quota — admins only.
 */
export async function editUser(call: OcsCall, uid: string): Promise<void> {
  const me = await call.user();
  const p = await call.params();
  const key = (p.get('key') ?? '').toLowerCase();
  const value = p.get('value') ?? '';
  const self = me.uid === uid;
  if (!self && !me.isAdmin) throw new OcsError(403, 'Not allowed');
  const app = call.ctx.app;
  await app.users.get(uid); // 404 before anything else
  try {
    switch (key) {
      case 'display':
      case 'displayname':
        await app.users.setDisplayName(uid, value);
        break;
      case 'email':
        await app.users.setEmail(uid, value === '' ? null : value);
        break;
      case 'password': {
        // One service for every path: per-user keys, caches, and the user's web sessions end.
        // Your own password needs your current one and a password login (never an app password):
        // with Basic the login password is it; a session gives it as currentPassword.
        if (self) {
          const current = me.via === 'password' ? me.loginPassword ?? '' : p.get('currentPassword') ?? '';
          try {
            await app.passwords.changeOwn(me, current, value, { ip: call.ctx.ip, via: 'ocs' });
          } catch (err) {
            if (err instanceof AuthenticationError) throw new OcsError(403, 'The current password is wrong');
            throw err;
          }
        } else {
          const recoveryPassword = p.get('recoveryPassword') ?? undefined;
          const reset = () => app.passwords.adminReset(me.uid, uid, value, {
            ip: call.ctx.ip, via: 'ocs', recoveryPassword, confirmedLoss: p.get('confirmKeyReset') === '1',
          });
          // With a recovery key password it is a password check: counted before it runs.
          if (recoveryPassword === undefined) await reset();
          else await app.throttle.guard({ ip: call.ctx.ip, uid: me.uid }, reset, (e) => e instanceof ForbiddenError);
        }
        break;
      }
      case 'quota':
        if (!me.isAdmin) throw new OcsError(403, 'Only admins may change quotas');
        await app.users.setQuota(uid, parseQuota(value));
        break;
      default:
        throw new OcsError(103, `Unknown key: ${key}`);
    }
  } catch (err) {
    if (err instanceof ValidationError) throw new OcsError(102, err.message);
    throw err;
  }
  sendOcsData(call.res, call.target, []);
}

/** `PUT cloud/users/<id>/enable|disable` (admin; not yourself). */
export async function setUserEnabled(call: OcsCall, uid: string, enabled: boolean): Promise<void> {
  const me = await call.admin();
  if (me.uid === uid && !enabled) throw new OcsError(101, 'You cannot disable yourself');
  await call.ctx.app.users.setEnabled(uid, enabled);
  call.ctx.app.auth.invalidateUser(uid);
  await call.ctx.app.audit.record(enabled ? 'user.enabled' : 'user.disabled', { uid, by: me.uid, ip: call.ctx.ip, via: 'ocs' });
  sendOcsData(call.res, call.target, []);
}

/** `DELETE cloud/users/<id>` (admin; not yourself): the user with everything of theirs (UserDeletionService). */
export async function deleteUser(call: OcsCall, uid: string): Promise<void> {
  const me: AuthenticatedUser = await call.admin();
  if (me.uid === uid) throw new OcsError(101, 'You cannot delete yourself');
  await call.ctx.app.userDeletion.delete({ uid: me.uid, ip: call.ctx.ip, via: 'ocs' }, uid);
  sendOcsData(call.res, call.target, []);
}
