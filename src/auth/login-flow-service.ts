import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { NotFoundError, ThrottledError } from '../errors.ts';
import { addressBucket } from './address-bucket.ts';
import type { AppPasswordService } from './app-password-service.ts';

/** Lifetime of an unfinished login flow (Nextcloud: 20 minutes). */
export const LOGIN_FLOW_TTL_MS = 20 * 60_000;
/**
 * Most flows one address (IPv6: one /64) may have open at a time. Flows are anonymous, so this is
 * what keeps one client from filling memory or Redis; nobody else's flows are ever pushed out.
 */
export const LOGIN_FLOW_MAX_PER_ADDRESS = 30;
/** Safety cap of open flows in one process: beyond it new starts wait (old flows are never evicted). */
export const LOGIN_FLOW_MAX_TOTAL = 200_000;

/** @throws ThrottledError saying when a slot frees up. */
function tooMany(retryAtMs: number, now: number, what: string): never {
  throw new ThrottledError(Math.max(1, Math.ceil((retryAtMs - now) / 1000)), `Too many login flows ${what}: try again later`);
}

interface Flow {
  pollToken: string;
  loginToken: string;
  clientName: string;
  /** addressBucket of the client that started it. */
  address: string;
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
 * several server processes, use SharedLoginFlowService. Flows expire after 20 minutes; each address
 * may have LOGIN_FLOW_MAX_PER_ADDRESS open at a time.
 */
export class LoginFlowService {
  readonly #appPasswords: AppPasswordService;
  readonly #byPoll = new Map<string, Flow>();
  readonly #byLogin = new Map<string, Flow>();
  /** Open flows per address bucket, oldest first. */
  readonly #byAddress = new Map<string, Set<Flow>>();
  readonly #now: () => number;
  readonly #max: number;
  readonly #maxPerAddress: number;

  constructor(deps: { appPasswords: AppPasswordService; now?: () => number; maxFlows?: number; maxPerAddress?: number }) {
    this.#appPasswords = deps.appPasswords;
    this.#now = deps.now ?? Date.now;
    this.#max = deps.maxFlows ?? LOGIN_FLOW_MAX_TOTAL;
    this.#maxPerAddress = deps.maxPerAddress ?? LOGIN_FLOW_MAX_PER_ADDRESS;
  }

  /**
   * Starts a flow for a client called `clientName` (its User-Agent; names the app password) at
   * address `ip`.
   * @throws ThrottledError when that address already has its maximum of open flows (or the
   *   process its cap): nothing is evicted, the client retries once one expires
   */
  start(clientName: string, ip: string): StartedFlow {
    this.#sweep();
    const now = this.#now();
    const address = addressBucket(ip);
    const mine = this.#byAddress.get(address);
    if (mine && mine.size >= this.#maxPerAddress) tooMany(mine.values().next().value!.expires, now, 'from your address');
    if (this.#byPoll.size >= this.#max) tooMany(this.#byPoll.values().next().value!.expires, now, 'on this server');
    const flow: Flow = {
      pollToken: token(),
      loginToken: token(),
      clientName: (clientName || 'Login flow client').slice(0, 255),
      address,
      expires: now + LOGIN_FLOW_TTL_MS,
    };
    this.#byPoll.set(flow.pollToken, flow);
    this.#byLogin.set(flow.loginToken, flow);
    if (mine) mine.add(flow); else this.#byAddress.set(address, new Set([flow]));
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
    const mine = this.#byAddress.get(f.address);
    mine?.delete(f);
    if (mine?.size === 0) this.#byAddress.delete(f.address);
  }

  #sweep(): void {
    const now = this.#now();
    // insertion order is expiry order (fixed TTL): stop at the first live flow
    for (const f of this.#byPoll.values()) {
      if (f.expires > now) break;
      this.#forget(f);
    }
  }
}

function token(): string {
  return randomBytes(48).toString('base64url');
}

/** A pending flow as a shared store keeps it: looked up by the hash of its login token. */
export interface PendingFlowRecord {
  readonly clientName: string;
  /** addressBucket of the client that started it (the per-address limit). */
  readonly address: string;
  /** SHA-256 (hex) of the poll token: where the granted result goes. */
  readonly pollHash: string;
  /** Expiry, ms since epoch. */
  readonly expires: number;
  /** X25519 public key (SPKI DER, base64) the result is sealed to. */
  readonly publicKey: string;
  /** The matching private key (PKCS#8 DER), sealed under a key derived from the poll token (base64). */
  readonly sealedPrivateKey: string;
}

/**
 * Where a SharedLoginFlowService keeps flows so that start, the browser page, grant and poll may
 * reach different server processes. Keys are SHA-256 hashes of the tokens (the store never holds a
 * usable token), and the granted app password is sealed so that only the holder of the poll token
 * can open it (as Nextcloud does with its per-flow key pair).
 */
export interface LoginFlowStore {
  /** How many unexpired flows `address` has pending at `now`, and when the oldest expires. */
  pendingFor(address: string, now: number): Promise<{ count: number; oldestExpires: number }>;
  putPending(loginHash: string, rec: PendingFlowRecord): Promise<void>;
  getPending(loginHash: string): Promise<PendingFlowRecord | undefined>;
  /** Removes and returns the pending flow atomically: of two concurrent grants only one gets it. */
  takePending(loginHash: string): Promise<PendingFlowRecord | undefined>;
  putResult(pollHash: string, sealed: string, expires: number): Promise<void>;
  /** Removes and returns the sealed result atomically (exactly-once poll). */
  takeResult(pollHash: string): Promise<string | undefined>;
}

const hashToken = (t: string): string => createHash('sha256').update(t, 'utf8').digest('hex');
const POLL_INFO = Buffer.from('coffer login flow poll key v1', 'latin1');
const RESULT_INFO = Buffer.from('coffer login flow result v1', 'latin1');
const hkdf = (ikm: Buffer, info: Buffer) => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, 32));

function seal(key: Buffer, plain: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]);
}

/** @throws Error when the tag does not verify */
function open(key: Buffer, sealed: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([d.update(sealed.subarray(28)), d.final()]);
}

/**
 * Login Flow v2 over a shared LoginFlowStore (Redis: src/redis/redis-login-flow-store.ts), for
 * several server processes. Same behaviour as LoginFlowService, but every method is async.
 * Each flow gets an X25519 key pair; its private key is sealed under HKDF(poll token). Grant seals
 * the new app password to the public key (ephemeral ECDH + AES-256-GCM), so what the store holds
 * opens only with the poll token, which only the client knows.
 */
export class SharedLoginFlowService {
  readonly #appPasswords: AppPasswordService;
  readonly #store: LoginFlowStore;
  readonly #now: () => number;
  readonly #maxPerAddress: number;

  constructor(deps: { appPasswords: AppPasswordService; store: LoginFlowStore; now?: () => number; maxPerAddress?: number }) {
    this.#appPasswords = deps.appPasswords;
    this.#store = deps.store;
    this.#now = deps.now ?? Date.now;
    this.#maxPerAddress = deps.maxPerAddress ?? LOGIN_FLOW_MAX_PER_ADDRESS;
  }

  /**
   * Starts a flow for a client at address `ip`.
   * @throws ThrottledError when the address has its maximum of open flows (in all processes);
   *   the store's error when it is unreachable.
   */
  async start(clientName: string, ip: string): Promise<StartedFlow> {
    const address = addressBucket(ip);
    const now = this.#now();
    const open = await this.#store.pendingFor(address, now);
    if (open.count >= this.#maxPerAddress) tooMany(open.oldestExpires, now, 'from your address');
    const pollToken = token();
    const loginToken = token();
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    await this.#store.putPending(hashToken(loginToken), {
      clientName: (clientName || 'Login flow client').slice(0, 255),
      address,
      pollHash: hashToken(pollToken),
      expires: now + LOGIN_FLOW_TTL_MS,
      publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      sealedPrivateKey: seal(hkdf(Buffer.from(pollToken, 'utf8'), POLL_INFO), privateKey.export({ type: 'pkcs8', format: 'der' })).toString('base64'),
    });
    return { pollToken, loginToken };
  }

  /** @throws NotFoundError for an unknown, expired or already granted login token */
  async pending(loginToken: string): Promise<{ clientName: string }> {
    const rec = await this.#store.getPending(hashToken(loginToken));
    if (!rec || rec.expires <= this.#now()) throw new NotFoundError('Login flow not found or expired');
    return { clientName: rec.clientName };
  }

  /** @throws NotFoundError for an unknown, expired or already granted login token */
  async grant(loginToken: string, uid: string): Promise<void> {
    const rec = await this.#store.takePending(hashToken(loginToken));
    if (!rec || rec.expires <= this.#now()) throw new NotFoundError('Login flow not found or expired');
    const { token: appPassword } = await this.#appPasswords.create(uid, rec.clientName);
    const eph = generateKeyPairSync('x25519');
    const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: createPublicKey({ key: Buffer.from(rec.publicKey, 'base64'), format: 'der', type: 'spki' }) });
    const sealed = seal(hkdf(shared, RESULT_INFO), Buffer.from(JSON.stringify({ loginName: uid, appPassword }), 'utf8'));
    await this.#store.putResult(rec.pollHash, JSON.stringify({
      eph: eph.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      key: rec.sealedPrivateKey, box: sealed.toString('base64'),
    }), rec.expires);
  }

  /** @throws NotFoundError while not granted, or for an unknown/expired/used token */
  async poll(pollToken: string): Promise<{ loginName: string; appPassword: string }> {
    const raw = await this.#store.takeResult(hashToken(pollToken));
    if (!raw) throw new NotFoundError('Login flow not granted yet');
    try {
      const r = JSON.parse(raw) as { eph: string; key: string; box: string };
      const priv = createPrivateKey({ key: open(hkdf(Buffer.from(pollToken, 'utf8'), POLL_INFO), Buffer.from(r.key, 'base64')), format: 'der', type: 'pkcs8' });
      const shared = diffieHellman({ privateKey: priv, publicKey: createPublicKey({ key: Buffer.from(r.eph, 'base64'), format: 'der', type: 'spki' }) });
      return JSON.parse(open(hkdf(shared, RESULT_INFO), Buffer.from(r.box, 'base64')).toString('utf8')) as { loginName: string; appPassword: string };
    } catch {
      throw new NotFoundError('Login flow not granted yet');
    }
  }
}
