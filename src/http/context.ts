import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.ts';
import type { Logger } from '../logger.ts';

/** Per-request context handed to adapter handlers. */
export interface HttpContext {
  readonly app: App;
  readonly reqId: string;
  readonly log: Logger;
  /** Client address (X-Forwarded-For only from trusted proxies). */
  readonly ip: string;
  /** Raw path of the request, still percent-encoded, without the query. */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  /** Base URL the client used, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: HttpContext) => Promise<void>;

/** A route: requests whose raw path starts with `prefix` go to `handler`. Longest prefix wins. */
export interface Route {
  readonly prefix: string;
  readonly handler: Handler;
  /** Exact match only. */
  readonly exact?: boolean;
}
