import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.ts';
import type { ChangeBus, PushEvent } from './change-bus.ts';
import type { PreAuthTokens } from './pre-auth-tokens.ts';
import { SendQueue, type PushKind } from './send-queue.ts';
import { handshakeProblem, handshakeResponse, refuseUpgrade, ServerWebSocket, type WebSocketEvents } from './websocket.ts';

/** Path of the WebSocket endpoint (capability `notify_push.endpoints.websocket`). */
export const PUSH_WS_PATH = '/push/ws';

export interface PushLimits {
  /** Time to send username and password after the upgrade, ms (notify_push: 15 s). */
  authTimeoutMs: number;
  /** A ping goes out after this long without sending anything; no pong by the next one closes, ms. */
  pingIntervalMs: number;
  /** How often held messages and pings are looked at, ms (notify_push: 500). */
  tickMs: number;
  /** Bytes that may wait in a socket for the client to read: beyond, the client is dropped. */
  maxBufferedBytes: number;
  /** Connections of one user (notify_push: 64). */
  perUserConnections: number;
  /** Upper bound of the debounce, seconds (notify_push's max_debounce_time: 15). */
  maxDebounceSeconds: number;
}

export const DEFAULT_PUSH_LIMITS: PushLimits = Object.freeze({
  authTimeoutMs: 15_000, pingIntervalMs: 30_000, tickMs: 500, maxBufferedBytes: 64 * 1024,
  perUserConnections: 64, maxDebounceSeconds: 15,
});

/** Checks a username and password (login or app password); the user's id, or throws. */
export type PushAuthenticator = (loginName: string, password: string, ip: string) => Promise<string>;

export interface PushHubDeps {
  bus: ChangeBus;
  authenticate: PushAuthenticator;
  preAuth: PreAuthTokens;
  log: Logger;
  limits?: Partial<PushLimits>;
}

/**
 * One push connection, from the upgrade on: the WebSocket's event handler (methods, so that an
 * idle connection holds no closures of its own) and, once authenticated, what it is owed and when
 * it last spoke. The send queue is made when the first message for it arrives.
 */
class Conn implements WebSocketEvents {
  readonly #hub: PushHub;
  readonly ip: string;
  readonly ws: ServerWebSocket;
  /** The username, until the password arrives. */
  #username: string | undefined;
  #authing = false;
  /** Set once authenticated. */
  uid: string | undefined;
  listenIds = false;
  /** Spreads the clients' reactions to a change (notify_push: 0.5 to 1.5). */
  readonly factor = 0.5 + Math.random();
  queue: SendQueue | undefined;
  lastSend = 0;
  /** Payload of the ping not yet answered (0 = none outstanding). */
  expectPong = 0;

  constructor(hub: PushHub, ip: string, socket: Duplex) {
    this.#hub = hub;
    this.ip = ip;
    this.ws = new ServerWebSocket(socket, this, 4096);
  }

  text(m: string): void {
    if (this.uid !== undefined || this.#authing) { if (m === 'listen notify_file_id') this.listenIds = true; return; }
    if (this.#username === undefined) { this.#username = m; return; }
    this.#authing = true;
    const username = this.#username;
    this.#username = undefined;
    this.#hub.login(this, username, m);
  }

  pong(payload: Buffer): void {
    if (this.uid === undefined) return;
    const expected = this.expectPong;
    this.expectPong = 0;
    if (payload.length !== 4 || payload.readUInt32BE(0) !== expected) this.ws.close(1002, 'wrong pong');
  }

  closed(): void { this.#hub.remove(this); }
}

/**
 * The push endpoint inside the server process (notify_push's protocol without its daemon): it
 * takes WebSocket upgrades on `/push/ws`, authenticates each with two text messages (username,
 * then password or app password; or an empty username and a pre-auth token), answers
 * `authenticated`, and then sends `notify_file` (or `notify_file_id [ids]` after
 * `listen notify_file_id`), `notify_activity`, `notify_notification`, debounced as notify_push
 * does. One timer serves every connection (pings, authentication timeouts, debounced sends); an
 * idle connection holds its socket, two small objects and no buffers, closures or timers of its own. A client that stops reading is dropped once `maxBufferedBytes` wait for it.
 */
export class PushHub {
  readonly #bus: ChangeBus;
  readonly #authenticate: PushAuthenticator;
  readonly #preAuth: PreAuthTokens;
  readonly #log: Logger;
  readonly #limits: PushLimits;
  readonly #byUser = new Map<string, Set<Conn>>();
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;
  #count = 0;
  /** Connections not yet authenticated, with the time by which they must be (closed with the hub). */
  readonly #pendingAuth = new Map<Conn, number>();

  constructor(deps: PushHubDeps) {
    this.#bus = deps.bus;
    this.#authenticate = deps.authenticate;
    this.#preAuth = deps.preAuth;
    this.#log = deps.log;
    this.#limits = { ...DEFAULT_PUSH_LIMITS, ...deps.limits };
    this.#unsubscribe = this.#bus.subscribe((e) => this.#deliver(e));
    this.#timer = setInterval(() => this.#tick(), this.#limits.tickMs);
    this.#timer.unref();
  }

  /** Authenticated connections of this process. */
  get connections(): number { return this.#count; }

  /**
   * Takes an HTTP upgrade on PUSH_WS_PATH (the server's 'upgrade' event). `ip` is the client's
   * address for the login throttle.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ip: string): void {
    const problem = handshakeProblem(req);
    if (problem) { refuseUpgrade(socket, 400, problem); return; }
    socket.write(handshakeResponse(req));
    const net = socket as Duplex & { setNoDelay?: (b: boolean) => void; setTimeout?: (ms: number) => void };
    net.setNoDelay?.(true);
    // the HTTP server's idle timeout (a timer per socket) does not apply: pings find dead peers
    net.setTimeout?.(0);
    const conn = new Conn(this, ip, socket);
    this.#pendingAuth.set(conn, Date.now() + this.#limits.authTimeoutMs);
    if (head.length > 0) socket.unshift(head);
  }

  /** Checks the two messages a connection sent; on success the connection is authenticated. */
  login(conn: Conn, username: string, password: string): void {
    this.#login(conn, username, password).catch(() => {});
  }

  /** @throws after telling the client `err: …` and closing, when the credentials are refused. */
  async #login(conn: Conn, username: string, password: string): Promise<void> {
    const { ws, ip } = conn;
    let uid: string | undefined;
    try {
      // an empty username (or any) with a live pre-auth token: the token's user
      uid = await this.#preAuth.redeem(password);
      if (uid === undefined) {
        if (username === '') throw new Error('Invalid credentials');
        uid = await this.#authenticate(username, password, ip);
      }
    } catch (err) {
      const throttled = (err as { code?: string }).code === 'throttled';
      this.#log.info({ ip, throttled }, 'push: authentication refused');
      ws.sendText(throttled ? 'err: Too many failed attempts, try again later' : 'err: Invalid credentials');
      ws.close(1008, 'authentication failed');
      throw err;
    }
    this.#pendingAuth.delete(conn);
    if (ws.closed) throw new Error('gone');
    const set = this.#byUser.get(uid) ?? new Set<Conn>();
    if (set.size >= this.#limits.perUserConnections) {
      ws.sendText('err: Too many connections for this user');
      ws.close(1008, 'connection limit');
      throw new Error('limit');
    }
    conn.uid = uid;
    conn.lastSend = Date.now();
    set.add(conn);
    this.#byUser.set(uid, set);
    this.#count++;
    ws.sendText('authenticated');
  }

  /** Forgets a connection that is over (its WebSocket's `closed`). */
  remove(conn: Conn): void {
    this.#pendingAuth.delete(conn);
    if (conn.uid === undefined) return;
    const set = this.#byUser.get(conn.uid);
    if (!set?.delete(conn)) return;
    this.#count--;
    if (set.size === 0) this.#byUser.delete(conn.uid);
  }

  #deliver(e: PushEvent): void {
    const now = Date.now();
    for (const uid of e.uids) {
      const set = this.#byUser.get(uid);
      if (!set) continue;
      for (const c of set) (c.queue ??= new SendQueue(c.factor, this.#limits.maxDebounceSeconds)).push(e.kind, now, e.kind === 'file' ? e.fileIds : undefined);
    }
  }

  /** Sends what is due, pings the quiet, drops the silent and the slow. */
  #tick(): void {
    const now = Date.now();
    for (const [c, deadline] of this.#pendingAuth) {
      if (now < deadline) continue;
      this.#pendingAuth.delete(c);
      c.ws.sendText('err: Authentication timeout');
      c.ws.close(1008, 'authentication timeout');
    }
    for (const set of this.#byUser.values()) {
      for (const c of set) {
        if (c.ws.buffered > this.#limits.maxBufferedBytes) { this.#drop(c, 'not reading'); continue; }
        if (c.queue?.pending) {
          for (const m of c.queue.drain(now, this.#count)) this.#send(c, m.kind, m.ids, now);
        }
        if (now - c.lastSend >= this.#limits.pingIntervalMs) {
          if (c.expectPong !== 0) { this.#drop(c, 'no pong'); continue; }
          c.expectPong = randomBytes(4).readUInt32BE(0) || 1;
          const payload = Buffer.alloc(4);
          payload.writeUInt32BE(c.expectPong, 0);
          c.ws.ping(payload);
          c.lastSend = now;
        }
      }
    }
  }

  #send(c: Conn, kind: PushKind, ids: number[] | null, now: number): void {
    const text = kind === 'file'
      ? (c.listenIds && ids !== null ? `notify_file_id ${JSON.stringify(ids)}` : 'notify_file')
      : kind === 'activity' ? 'notify_activity' : 'notify_notification';
    c.ws.sendText(text);
    c.lastSend = now;
    if (c.ws.buffered > this.#limits.maxBufferedBytes) this.#drop(c, 'not reading');
  }

  #drop(c: Conn, why: string): void {
    this.#log.info({ uid: c.uid, why }, 'push: connection dropped');
    c.ws.destroy(why);
    this.remove(c);
  }

  /** Closes every connection and stops listening to the bus. */
  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe();
    for (const set of this.#byUser.values()) for (const c of set) c.ws.close(1001, 'server shutting down');
    for (const c of [...this.#pendingAuth.keys()]) c.ws.close(1001, 'server shutting down');
    this.#pendingAuth.clear();
    this.#byUser.clear();
    this.#count = 0;
  }
}
