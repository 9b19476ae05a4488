import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import { DEVICE_TOKEN_DAYS } from '../auth/device-token.ts';
import { appendSetCookie, cookieHeader, parseCookies } from './session-auth.ts';

/** The known-device cookie (docs/BRUTEFORCE.md): sent only to the login pages. */
export const DEVICE_COOKIE = 'coffer_device';

/** The browser's known-device token, if it sent one. */
export function deviceTokenOf(req: IncomingMessage): string | undefined {
  return parseCookies(req.headers.cookie).get(DEVICE_COOKIE);
}

/**
 * After a complete web login (password, and the second factor where one is needed): a device
 * token of this user stays (its budget and id); otherwise the browser gets one now.
 */
export function rememberDevice(app: App, req: IncomingMessage, res: ServerResponse, uid: string, secure: boolean): void {
  if (app.deviceTokens.verify(deviceTokenOf(req), uid)) return;
  appendSetCookie(res, cookieHeader(DEVICE_COOKIE, app.deviceTokens.issue(uid),
    { secure, sameSite: 'Strict', path: '/login', maxAge: DEVICE_TOKEN_DAYS * 86_400 }));
}
