import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import type { Route } from '../http/context.ts';
import type { AppConfigRepository } from '../db/app-config.ts';

/**
 * Maintenance mode: app config `core`/`maintenance` = '1' | '0', shared by every process through
 * the database; read through the settings cache (SETTINGS_MAX_AGE_MS), so a running server
 * notices `./occ maintenance:mode --on` within a second without a query per request.
 */
export class MaintenanceState {
  readonly #appConfig: AppConfigRepository;
  constructor(appConfig: AppConfigRepository) { this.#appConfig = appConfig; }

  /** Whether maintenance mode is on. @throws database errors */
  async isOn(): Promise<boolean> {
    return (await this.#appConfig.cachedGet('core', 'maintenance', '0')) === '1';
  }

  /** Turns maintenance mode on or off (effective immediately in this process). @throws database errors */
  async set(on: boolean): Promise<void> {
    await this.#appConfig.set('core', 'maintenance', on ? '1' : '0');
  }
}

/**
 * Whether the instance is in maintenance mode (cached ≤ 1 s per App).
 * @throws database errors
 */
export function isMaintenance(app: App): Promise<boolean> {
  return app.maintenance.isOn();
}

/**
 * For adapters (DAV, OCS, web), first thing in a handler: in maintenance mode, answers 503 (with
 * `Retry-After` and a Nextcloud-style body) and returns true: the caller must then return
 * without touching the request further. `/status.php` must not call it.
 * @throws database errors (the caller's usual 500 path)
 */
export async function maintenanceGuard(req: IncomingMessage, res: ServerResponse, app: App): Promise<boolean> {
  if (!(await isMaintenance(app))) return false;
  res.statusCode = 503;
  res.setHeader('Retry-After', '120');
  const len = Number(req.headers['content-length'] ?? 0);
  if (req.headers['transfer-encoding'] || len > 1024 * 1024) res.setHeader('Connection', 'close');
  const path = req.url ?? '';
  if (path.startsWith('/ocs/')) {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ ocs: { meta: { status: 'failure', statuscode: 503, message: 'Service unavailable: maintenance mode' }, data: [] } }));
  } else if (!path.startsWith('/remote.php')) {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Coffer is in maintenance mode. Please try again later.\n');
  } else {
    res.setHeader('Content-Type', 'application/xml; charset=utf-8');
    res.end('<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
      + '<s:exception>Sabre\\DAV\\Exception\\ServiceUnavailable</s:exception>'
      + '<s:message>System is in maintenance mode.</s:message></d:error>\n');
  }
  // drain a small request body so the keep-alive connection stays usable (big ones: closed)
  req.resume();
  return true;
}

/** Routes that stay up in maintenance mode (clients poll them to see when it ends). */
export const MAINTENANCE_OPEN_PATHS: readonly string[] = ['/status.php', '/nextcloud/status.php'];

/**
 * Wraps every route except MAINTENANCE_OPEN_PATHS with maintenanceGuard, so that adapters need not
 * call it themselves: `buildRoutes` returns `guardMaintenance([...routes])`.
 */
export function guardMaintenance(routes: readonly Route[]): Route[] {
  return routes.map((r) => {
    if (MAINTENANCE_OPEN_PATHS.includes(r.prefix)) return r;
    return { ...r, handler: async (req, res, ctx) => { if (!(await maintenanceGuard(req, res, ctx.app))) await r.handler(req, res, ctx); } };
  });
}
