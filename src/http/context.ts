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
  /**
   * Public base URL of this request, e.g. `https://cloud.example.org` (src/http/public-origin.ts:
   * the TLS proxy's scheme and host when a trusted proxy says so). Every URL Coffer hands out uses it.
   */
  readonly baseUrl: string;
  /** Whether that public URL is https (cookies get `Secure`). */
  readonly secure: boolean;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: HttpContext) => Promise<void>;

/** A route: requests whose raw path starts with `prefix` go to `handler`. Longest prefix wins. */
export interface Route {
  readonly prefix: string;
  readonly handler: Handler;
  /** Exact match only. */
  readonly exact?: boolean;
}
