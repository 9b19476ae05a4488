import { StorageFullError, classifyDiskFull } from '../errors.ts';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { PushHub, PUSH_WS_PATH, type PushLimits } from '../push/push-hub.ts';
import { refuseUpgrade } from '../push/websocket.ts';
import type { App } from '../app.ts';
import type { Config } from '../config/config.ts';
import type { HttpContext, Route } from './context.ts';
import { loggablePath } from './log-redaction.ts';
import { cliBaseUrl, isTrustedProxy, publicOrigin, type PublicOrigin } from './public-origin.ts';
import { buildRoutes } from './routes.ts';
import { CONNECTIONS_CHECK_INTERVAL_MS, DEFAULT_TIMEOUTS, MAX_HEADER_BYTES, type ServerTimeouts } from './limits.ts';
import { STREAM_BUFFER } from '../storage/buffer-sizes.ts';

export interface ServeOptions {
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  /** Slow-client limits (defaults in src/http/limits.ts); tests shorten them. */
  timeouts?: Partial<ServerTimeouts>;
  /** Push connection limits (defaults in src/push/push-hub.ts); tests shorten them. */
  push?: Partial<PushLimits>;
}

export interface RunningServer {
  readonly server: Server;
  /** The push endpoint of this server (WebSocket upgrades on /push/ws). */
  readonly push: PushHub;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The client's address for throttling and the audit log. X-Forwarded-For is believed only when
 * the peer is a trusted proxy, and then read from the right: proxies append, so the right-most
 * entry that is not itself a trusted proxy is the one no client could forge.
 */
export function clientIp(req: IncomingMessage, trusted: readonly string[]): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!isTrustedProxy(peer, trusted)) return peer;
  const fwd = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(fwd) ? fwd.join(',') : fwd ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted.includes(hops[i])) return hops[i];
  }
  return hops[0] ?? peer;
}

/**
 * The Strict-Transport-Security value for a response, or undefined: always over direct TLS; when
 * https comes from a trusted proxy (or overwriteprotocol) only if `hsts.behindProxy`; never over
 * plain http (browsers ignore it there) or with `hsts.maxAge` 0.
 */
export function hstsHeader(config: Pick<Config, 'hsts'>, directTls: boolean, origin: PublicOrigin): string | undefined {
  const h = config.hsts;
  if (h.maxAge === 0 || origin.scheme !== 'https' || (!directTls && !h.behindProxy)) return undefined;
  return `max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}`;
}

/** One listener for every upgraded socket's errors (the WebSocket layer sees them too), not a closure each. */
function ignoreError(): void {}

/**
 * Starts the HTTP(S) server on `host:port` with every adapter's routes.
 * @throws Error when the port cannot be bound or the TLS files cannot be read.
 */
export async function startServer(app: App, opts: ServeOptions): Promise<RunningServer> {
  const routes: Route[] = [...buildRoutes(app)].sort((a, b) => b.prefix.length - a.prefix.length);
  const tls = opts.tlsCert && opts.tlsKey;
  const scheme = tls ? 'https' : 'http';
  // for a request without a usable Host header: the configured public URL's host, else the bound address
  // (set once bound: the port may be chosen by the OS)
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let fallbackHost = `${hostForUrl}:${opts.port}`;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const reqId = (typeof req.headers['x-request-id'] === 'string' && /^[\w-]{1,64}$/.test(req.headers['x-request-id']))
      ? req.headers['x-request-id'] : randomBytes(8).toString('hex');
    const started = process.hrtime.bigint();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    const log = app.log.child({ reqId });
    const origin = publicOrigin(req, app.config, fallbackHost);
    const ctx: HttpContext = { app, reqId, log, ip: clientIp(req, app.config.trustedProxies), rawPath, query, baseUrl: origin.origin, secure: origin.scheme === 'https' };
    res.setHeader('X-Request-Id', reqId);
    const hsts = hstsHeader(app.config, Boolean(tls), origin);
    if (hsts) res.setHeader('Strict-Transport-Security', hsts);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: req.method, path: loggablePath(rawPath), status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    const route = routes.find((r) => (r.exact ? rawPath === r.prefix : rawPath.startsWith(r.prefix)));
    const run = route ? route.handler(req, res, ctx) : notFound(res);
    run.catch((err: unknown) => {
      log.error({ err }, 'unhandled error');
      if (!res.headersSent) {
        const full = classifyDiskFull(err) instanceof StorageFullError;
        res.statusCode = full ? 507 : 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(full ? 'Insufficient Storage\n' : 'Internal Server Error\n');
      } else {
        res.destroy();
      }
    });
  };

  const limits = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  // headersTimeout is only enforced at each connectionsCheckingInterval (Node's default 30 s)
  const httpOpts = {
    connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, limits.headersMs), maxHeaderSize: MAX_HEADER_BYTES,
    highWaterMark: STREAM_BUFFER,
  };
  const server: Server = tls
    ? createHttps({ ...httpOpts, cert: readFileSync(opts.tlsCert!), key: readFileSync(opts.tlsKey!) }, onRequest)
    : createHttp(httpOpts, onRequest);
  // Push: WebSocket upgrades on the same port and TLS as everything else (notify_push's protocol).
  const push = new PushHub({
    bus: app.changeBus, preAuth: app.preAuth, log: app.log, limits: opts.push,
    authenticate: async (login, password, ip) => (await app.auth.authenticatePassword(login, password, ip, { method: 'push' })).uid,
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', ignoreError);
    const rawPath = (req.url ?? '/').split('?', 1)[0];
    if (rawPath !== PUSH_WS_PATH) { refuseUpgrade(socket, 404, 'No WebSocket endpoint here'); return; }
    push.handleUpgrade(req, socket, head, clientIp(req, app.config.trustedProxies));
  });
  server.keepAliveTimeout = limits.keepAliveMs;
  server.headersTimeout = limits.headersMs;
  server.requestTimeout = 0; // large uploads stream for as long as they need; idle sockets time out below
  server.timeout = limits.idleMs; // no traffic for this long: the socket is destroyed
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  fallbackHost = app.config['overwrite.cli.url'] ? new URL(cliBaseUrl(app.config)).host : `${hostForUrl}:${port}`;
  return {
    server,
    push,
    port,
    url: `${scheme}://${hostForUrl}:${port}`,
    close(graceMs = 10_000) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        push.close();
        server.close(() => { clearTimeout(timer); resolve(); });
        server.closeIdleConnections();
      });
    },
  };
}

async function notFound(res: ServerResponse): Promise<void> {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end('Not Found\n');
}
