import type { App } from '../app.ts';
import type { Route } from './context.ts';
import { ocsRoutes } from '../ocs/ocs-routes.ts';
import { davRoutes } from '../dav/dav-handler.ts';
import { shareApiRoutes } from '../ocs/share-api.ts';
import { publicLinkRoutes } from '../web/public-link.ts';
import { webRoutes } from '../web/web-routes.ts';
import { previewRoutes } from '../web/preview-routes.ts';
import { pushRoutes } from '../push/pre-auth-route.ts';

/**
 * Every adapter's routes. Each adapter exports a function that returns its routes; add yours here.
 */
export function buildRoutes(app: App): Route[] {
  return [
    ...ocsRoutes(app),
    ...davRoutes(),
    ...shareApiRoutes(),
    ...publicLinkRoutes(),
    ...webRoutes(app),
    ...previewRoutes(),
    ...pushRoutes(),
  ];
}
