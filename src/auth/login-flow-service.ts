import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../errors.ts';
import type { AppPasswordService } from './app-password-service.ts';

/** Lifetime of an unfinished login flow (Nextcloud: 20 minutes). */
export const LOGIN_FLOW_TTL_MS = 20 * 60_000;

interface Flow {
  pollToken: string;
  loginToken: string;
  clientName: string;
  expires: number;
  result?: { loginName: string; appPassword: string };
}

/** What `start` returns: the client polls with `pollToken`; the browser opens the page for `loginToken`. */
export interface StartedFlow {
  readonly pollToken: string;
  readonly loginToken: string;
}

/**
 * Login Flow v2: a client starts a flow, opens `/login/v2/flow/<loginToken>` in a browser, and
 * polls with `pollToken`; once the user has logged in and granted access (`grant`), the next poll
 * gets a fresh app password, exactly once. Kept in process memory (flows are short-lived); with
 * several server processes, start/poll/grant must reach the same one (or move this to the DB).
 */
export class LoginFlowService {
  readonly #appPasswords: AppPasswordService;
  readonly #byPoll = new Map<string, Flow>();
  readonly #byLogin = new Map<string, Flow>();
  readonly #now: () => number;
  readonly #max: number;

  constructor(deps: { appPasswords: AppPasswordService; now?: () => number; maxFlows?: number }) {
    this.#appPasswords = deps.appPasswords;
    this.#now = deps.now ?? Date.now;
    this.#max = deps.maxFlows ?? 10_000;
  }

  /** Starts a flow for a client called `clientName` (its User-Agent; names the app password). */
  start(clientName: string): StartedFlow {
    this.#sweep();
    if (this.#byPoll.size >= this.#max) {
      const oldest = this.#byPoll.values().next().value!;
      this.#forget(oldest);
    }
    const flow: Flow = {
      pollToken: token(),
      loginToken: token(),
      clientName: (clientName || 'Login flow client').slice(0, 255),
      expires: this.#now() + LOGIN_FLOW_TTL_MS,
    };
    this.#byPoll.set(flow.pollToken, flow);
    this.#byLogin.set(flow.loginToken, flow);
    return { pollToken: flow.pollToken, loginToken: flow.loginToken };
  }

  /**
   * The client name of a pending flow (the web page shows "<client> wants access").
   * @throws NotFoundError for an unknown, expired or already granted login token
   */
  pending(loginToken: string): { clientName: string } {
    const f = this.#live(this.#byLogin.get(loginToken));
    if (!f || f.result) throw new NotFoundError('Login flow not found or expired');
    return { clientName: f.clientName };
  }

  /**
   * The authenticated user `uid` grants the flow `loginToken`: an app password is created for the
   * client and kept for its next poll.
   * @throws NotFoundError for an unknown, expired or already granted login token
   */
  async grant(loginToken: string, uid: string): Promise<void> {
    const f = this.#live(this.#byLogin.get(loginToken));
    if (!f || f.result) throw new NotFoundError('Login flow not found or expired');
    const { token: appPassword } = await this.#appPasswords.create(uid, f.clientName);
    f.result = { loginName: uid, appPassword };
    this.#byLogin.delete(loginToken);
  }

  /**
   * The flow's credentials once granted, exactly once.
   * @throws NotFoundError while not granted, or for an unknown/expired/used token
   */
  poll(pollToken: string): { loginName: string; appPassword: string } {
    const f = this.#live(this.#byPoll.get(pollToken));
    if (!f || !f.result) throw new NotFoundError('Login flow not granted yet');
    this.#forget(f);
    return f.result;
  }

  #live(f: Flow | undefined): Flow | undefined {
    if (!f) return undefined;
    if (f.expires <= this.#now()) { this.#forget(f); return undefined; }
    return f;
  }

  #forget(f: Flow): void {
    this.#byPoll.delete(f.pollToken);
    this.#byLogin.delete(f.loginToken);
  }

  #sweep(): void {
    const now = this.#now();
    for (const f of this.#byPoll.values()) if (f.expires <= now) this.#forget(f);
  }
}

function token(): string {
  return randomBytes(48).toString('base64url');
}
