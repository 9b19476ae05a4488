import { AuthenticationError, ValidationError } from '../errors.ts';
import { qrDataUrl } from './qr-code.ts';
import type { ApiCall } from './web-api-files.ts';
import { readBody, sendJson, str } from './web-http.ts';

/**
 * Two-factor settings of the logged-in user (`/web/api/me/two-factor…`):
 * - GET `me/two-factor`: state (TOTP on/pending, backup codes left, enforced);
 * - POST `me/two-factor/totp`: a new secret, its otpauth URI and QR code (pending until verified);
 * - POST `me/two-factor/totp/verify` {code}: verifies a code from it and turns TOTP on (400 wrong-code);
 * - POST `me/two-factor/backup-codes`: a new set of backup codes, shown this once;
 * - POST `me/two-factor/disable` {password}: turns it off; needs the login password (a stolen
 *   session alone must not remove the second factor; 403 wrong-password).
 * Wrong codes and passwords count in the brute-force throttle (429).
 * @returns false when the request is not a two-factor request
 */
export async function handleTwoFactorApi(c: ApiCall): Promise<boolean> {
  const { app, user, req, res, segments, ctx } = c;
  const m = req.method ?? 'GET';
  if (segments[0] !== 'me' || segments[1] !== 'two-factor') return false;
  const [, , a, b] = segments;
  if (a === undefined && m === 'GET') {
    sendJson(res, 200, await app.twoFactor.state(user.uid));
    return true;
  }
  if (m !== 'POST') return false;
  if (a === 'totp' && b === undefined) {
    req.resume();
    const t = await app.twoFactor.beginTotp(user.uid);
    sendJson(res, 200, { secret: t.secret, uri: t.uri, qr: qrDataUrl(t.uri) });
    return true;
  }
  if (a === 'totp' && b === 'verify') {
    const code = str(await readBody(req), 'code');
    try {
      await app.twoFactor.confirmTotp(user.uid, code, ctx.ip);
    } catch (err) {
      if (err instanceof AuthenticationError) { sendJson(res, 400, { error: { code: 'wrong-code', message: 'Wrong code: check the time on your phone and try the next code.' } }); return true; }
      throw err;
    }
    sendJson(res, 200, { enabled: true });
    return true;
  }
  if (a === 'backup-codes' && b === undefined) {
    req.resume();
    sendJson(res, 200, { codes: await app.twoFactor.generateBackupCodes(user.uid) });
    return true;
  }
  if (a === 'disable' && b === undefined) {
    const password = str(await readBody(req), 'password', false);
    if (!password) throw new ValidationError('Enter your password to turn two-factor authentication off');
    try {
      await app.auth.authenticatePassword(user.uid, password, ctx.ip, { method: 'web-two-factor-disable', allowAppPassword: false, firstFactorOnly: true });
    } catch (err) {
      if (err instanceof AuthenticationError) { sendJson(res, 403, { error: { code: 'wrong-password', message: 'The password is wrong.' } }); return true; }
      throw err;
    }
    const off = await app.twoFactor.disable(user.uid);
    sendJson(res, 200, { disabled: off });
    return true;
  }
  return false;
}
