import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticateSession } from '../web/session-auth.ts';
import type { AuthenticatedUser } from '../auth/types.ts';
import type { HttpContext } from '../http/context.ts';
import { readParams } from './form-body.ts';
import { isOcsApiRequest } from './ocs-csrf.ts';
import type { OcsTarget } from './ocs-response.ts';
import { OcsError } from './ocs-response.ts';

/** One OCS request as endpoint handlers see it. */
export class OcsCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: HttpContext;
  readonly target: OcsTarget;
  /** Path below `/ocs/vN.php/`, percent-decoded per segment, e.g. `cloud/users/alice`. */
  readonly path: string;
  #params: Promise<URLSearchParams> | undefined;
  #user: Promise<AuthenticatedUser> | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, target: OcsTarget, path: string) {
    this.req = req; this.res = res; this.ctx = ctx; this.target = target; this.path = path;
  }

  /** Query + form/JSON body parameters (read once). @throws TooLargeError, ValidationError */
  params(): Promise<URLSearchParams> {
    this.#params ??= readParams(this.req, this.ctx.query);
    return this.#params;
  }

  /**
   * The authenticated user: HTTP Basic (login password or app password), or a web session cookie
   * when the request carries `OCS-APIREQUEST: true` (a cross-site page cannot set it), as Nextcloud.
   * @throws AuthenticationError (401); ThrottledError (429)
   */
  user(): Promise<AuthenticatedUser> {
    this.#user ??= (async () => (!this.req.headers.authorization && isOcsApiRequest(this.req) && await authenticateSession(this.ctx.app, this.req))
      || this.ctx.app.auth.authenticateBasic(header(this.req.headers.authorization), this.ctx.ip))();
    return this.#user;
  }

  /** Whether credentials were presented at all. */
  hasCredentials(): boolean {
    return typeof this.req.headers.authorization === 'string';
  }

  /** The authenticated user, who must be an admin. @throws AuthenticationError; OcsError 403 */
  async admin(): Promise<AuthenticatedUser> {
    const u = await this.user();
    if (!u.isAdmin) throw new OcsError(403, 'Logged in user must be an admin');
    return u;
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
