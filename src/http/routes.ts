import type { App } from '../app.ts';
import type { Route } from './context.ts';

/**
 * Every adapter's routes. Each adapter exports a function that returns its routes; add yours here.
 */
export function buildRoutes(app: App): Route[] {
  void app;
  return [];
}
