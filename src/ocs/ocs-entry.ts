import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Handler, HttpContext } from '../http/context.ts';
import { maintenanceGuard } from '../setup/maintenance.ts';
import { OcsCall } from './ocs-call.ts';
import { assertOcsCsrfSafe } from './ocs-csrf.ts';
import { requestedFormat } from './ocs-format.ts';
import { sendOcsException, type OcsTarget, type OcsVersion } from './ocs-response.ts';

/**
 * The one entry of every OCS route (`/ocs/vN.php/…`, the Share API): maintenance guard, the CSRF
 * check, then `dispatch`; typed errors become OCS failures here. `path` is what the call reports
 * as its path (below `/ocs/vN.php/`).
 */
export function ocsEntry(version: OcsVersion, path: (ctx: HttpContext) => string | undefined,
  dispatch: (call: OcsCall, path: string | undefined) => Promise<void>): Handler {
  return async (req: IncomingMessage, res: ServerResponse, ctx: HttpContext) => {
    const target: OcsTarget = { version, format: requestedFormat(ctx.query, req.headers.accept) };
    if (await maintenanceGuard(req, res, ctx.app)) return;
    const p = path(ctx);
    const call = new OcsCall(req, res, ctx, target, p ?? '');
    try {
      assertOcsCsrfSafe(req);
      await dispatch(call, p);
    } catch (err) {
      req.resume();
      if (!sendOcsException(res, target, err)) throw err;
    }
  };
}
