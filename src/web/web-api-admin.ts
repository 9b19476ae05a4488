import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppRegistry } from '../apps/app-registry.ts';
import type { UserRecord } from '../auth/types.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { ApiCall } from './web-api-files.ts';
import { readBody, sendJson, str } from './web-http.ts';

function requireAdmin(c: ApiCall): void {
  if (!c.user.isAdmin) throw new ForbiddenError('Only administrators may do this');
}

/** Minimum length of a key backup password. */
export const MIN_BACKUP_PASSWORD = 10;

async function encryptionState(c: ApiCall) {
  const st = await c.app.encryption.status();
  return {
    enabled: st.enabled, appEnabled: st.appEnabled, masterKeyPresent: st.masterKeyPresent,
    // Nextcloud's two key modes: one master key (the default) or per-user keys (occ encryption:disable-master-key).
    mode: (await c.app.userKeys.perUserMode()) ? 'per-user' as const : 'master-key' as const,
    recoveryKeyEnabled: (await c.app.userKeys.recovery.current()) !== undefined,
    keysBackedUpAt: st.keysBackedUpAt, encryptedFiles: st.enabled ? await c.app.encryption.countEncrypted() : 0,
    defaultModule: st.defaultModule,
  };
}

function userJson(u: UserRecord, used?: number) {
  return { uid: u.uid, displayName: u.displayName, email: u.email, quota: u.quota, enabled: u.enabled, isAdmin: u.isAdmin, lastLogin: u.lastLogin, used };
}

function parseQuota(v: unknown): number | null {
  if (v === null || v === undefined || v === '' || v === 'none' || v === 'unlimited') return null;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new ValidationError('Invalid quota');
  return n;
}

/**
 * Admin endpoints: `apps`, `apps/<id>/enable|disable`, `encryption`, `encryption/enable`,
 * `encryption/recovery-key` {password} (create the recovery key), `encryption/recovery-key/password`
 * {old, password} (change its password),
 * `encryption/backup` (streams a password-protected key archive), `users…` (list, create, delete,
 * quota, password {password, recoveryPassword?, confirmKeyReset?}, reset-impact).
 * @returns false when the request is not an admin request
 */
export async function handleAdminApi(c: ApiCall): Promise<boolean> {
  const { app, req, segments, ctx } = c;
  const m = req.method ?? 'GET';
  const [area, a1, a2] = segments;
  if (area === 'apps') {
    requireAdmin(c);
    const reg = new AppRegistry(app.appConfig);
    if (a1 === undefined && m === 'GET') {
      const apps = await Promise.all(reg.all().map(async (a) => ({ ...a, enabled: await reg.isEnabled(a.id) })));
      sendJson(c.res, 200, { apps });
      return true;
    }
    if (a1 !== undefined && (a2 === 'enable' || a2 === 'disable') && m === 'POST') {
      req.resume();
      if (a2 === 'enable') await reg.enable(a1); else await reg.disable(a1);
      await app.audit.record(`app.${a2}d`, { app: a1, by: c.user.uid, ip: ctx.ip });
      sendJson(c.res, 200, { id: a1, enabled: await reg.isEnabled(a1) });
      return true;
    }
    return false;
  }
  if (area === 'encryption') {
    requireAdmin(c);
    if (a1 === undefined && m === 'GET') { sendJson(c.res, 200, await encryptionState(c)); return true; }
    if (a1 === 'enable' && m === 'POST') {
      req.resume();
      await app.encryption.enable();
      await app.audit.record('encryption.enabled', { by: c.user.uid, ip: ctx.ip, via: 'web' });
      sendJson(c.res, 200, await encryptionState(c));
      return true;
    }
    if (a1 === 'recovery-key' && a2 === undefined && m === 'POST') {
      const password = str(await readBody(req), 'password');
      if (!password) throw new ValidationError('The recovery key password must not be empty');
      const r = await app.userKeys.recovery.enable(password); // ConflictError when one exists
      await app.audit.record('encryption.recovery_key_enabled', { by: c.user.uid, ip: ctx.ip, id: r.id, via: 'web' });
      sendJson(c.res, 200, await encryptionState(c));
      return true;
    }
    if (a1 === 'recovery-key' && a2 === 'password' && m === 'POST') {
      const b = await readBody(req);
      const oldPw = str(b, 'old');
      const password = str(b, 'password');
      if (!password) throw new ValidationError('The new recovery key password must not be empty');
      try {
        // A password check like a login: counted before it runs (throttled, as every secret check).
        await app.throttle.guard({ ip: ctx.ip, uid: c.user.uid }, () => app.userKeys.recovery.changePassword(oldPw, password),
          (err) => err instanceof ForbiddenError);
      } catch (err) {
        if (err instanceof ForbiddenError) throw new ForbiddenError('The current recovery key password is wrong.');
        throw err;
      }
      await app.audit.record('encryption.recovery_key_password_changed', { by: c.user.uid, ip: ctx.ip, via: 'web' });
      sendJson(c.res, 200, await encryptionState(c));
      return true;
    }
    if (a1 === 'backup' && m === 'POST') {
      const password = str(await readBody(req), 'password');
      if (password.length < MIN_BACKUP_PASSWORD) throw new ValidationError(`The backup password needs at least ${MIN_BACKUP_PASSWORD} characters`);
      const dir = await mkdtemp(join(tmpdir(), 'coffer-keybackup-'));
      try {
        const file = join(dir, 'keys.backup');
        const r = await app.encryption.backupKeys(file, password);
        await app.audit.record('encryption.keys_backed_up', { by: c.user.uid, ip: ctx.ip, files: r.files, via: 'web' });
        const day = new Date().toISOString().slice(0, 10);
        c.res.statusCode = 200;
        c.res.setHeader('Content-Type', 'application/octet-stream');
        c.res.setHeader('Content-Disposition', `attachment; filename="coffer-keys-${day}.backup"`);
        c.res.setHeader('Cache-Control', 'no-store');
        c.res.setHeader('X-Content-Type-Options', 'nosniff');
        await pipeline(createReadStream(file), c.res);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      return true;
    }
    return false;
  }
  if (area === 'users') {
    requireAdmin(c);
    if (a1 === undefined && m === 'GET') {
      const users = await app.users.list({ limit: 500 });
      const out = [];
      for (const u of users) out.push(userJson(u, (await app.files.quota(u.uid).catch(() => ({ used: 0 }))).used));
      sendJson(c.res, 200, { users: out });
      return true;
    }
    if (a1 === undefined && m === 'POST') {
      const b = await readBody(req);
      const uid = str(b, 'uid').trim();
      const password = str(b, 'password');
      const u = await app.users.create({
        uid, password, displayName: str(b, 'displayName', false).trim() || undefined,
        email: str(b, 'email', false).trim() || undefined, quota: parseQuota(b.quota), isAdmin: b.isAdmin === true,
      });
      await app.files.ensureHome(uid);
      await app.audit.record('user.created', { uid, by: c.user.uid, ip: ctx.ip, via: 'web' });
      sendJson(c.res, 201, { user: userJson(u, 0) });
      return true;
    }
    if (a1 === undefined) return false;
    if (a2 === undefined && m === 'DELETE') {
      req.resume();
      await app.userDeletion.delete({ uid: c.user.uid, ip: ctx.ip, via: 'web' }, a1);
      sendJson(c.res, 200, { ok: true });
      return true;
    }
    if (a2 === 'quota' && m === 'POST') {
      const q = parseQuota((await readBody(req)).quota);
      await app.users.get(a1);
      await app.users.setQuota(a1, q);
      sendJson(c.res, 200, { uid: a1, quota: q });
      return true;
    }
    if (a2 === 'reset-impact' && m === 'GET') {
      // What a password reset of this user costs: per-user keys (hasKeys), their opt-in, the recovery key.
      await app.users.get(a1);
      sendJson(c.res, 200, await app.userKeys.resetImpact(a1));
      return true;
    }
    if (a2 === 'password' && m === 'POST') {
      const body = await readBody(req);
      const password = str(body, 'password');
      if (!password) throw new ValidationError('The new password must not be empty');
      // your own password needs your current one (Personal settings), even for an admin
      if (a1 === c.user.uid) throw new ForbiddenError('Change your own password under Personal settings (it needs your current password)');
      // Per-user-key mode: without the recovery key the user's files would be lost; that needs an
      // explicit confirmation (KeyResetNotConfirmedError → 409 with the warning otherwise).
      // The service also ends every web session of the user.
      try {
        const recoveryPassword = typeof body.recoveryPassword === 'string' ? body.recoveryPassword : undefined;
        const reset = () => app.passwords.adminReset(c.user.uid, a1, password, {
          ip: ctx.ip, via: 'web',
          recoveryPassword,
          confirmedLoss: body.confirmKeyReset === true || body.confirmKeyReset === '1' || body.confirmKeyReset === 'true',
        });
        // With a recovery key password it is a password check: counted before it runs.
        if (recoveryPassword === undefined) await reset();
        else await app.throttle.guard({ ip: ctx.ip, uid: c.user.uid }, reset, (err) => err instanceof ForbiddenError);
      } catch (err) {
        if (err instanceof ForbiddenError) throw new ForbiddenError('The recovery key password is wrong.');
        throw err;
      }
      sendJson(c.res, 200, { ok: true });
      return true;
    }
    throw new NotFoundError('Unknown users request');
  }
  return false;
}
