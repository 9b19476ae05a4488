import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Actor } from '../actor.ts';
import type { App } from '../app.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import type { HttpContext } from '../http/context.ts';
import type { DavTarget } from './dav-target.ts';

/** One authenticated DAV request on a files-tree target, as the method handlers get it. */
export interface DavRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: HttpContext;
  readonly app: App;
  readonly user: AuthenticatedUser;
  /** Who acts: the authenticated user, or the visitor of a public link (public-link DAV). */
  readonly actor: Actor;
  readonly target: DavTarget;
}

/** Sends a response without a body (status and headers only). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (status !== 204 && status !== 304) res.setHeader('Content-Length', 0);
  res.end();
}
