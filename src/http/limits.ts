/**
 * Request limits shared by the HTTP server and the adapters: one place to read (and document) how
 * much a client may send and how long it may take. Values are Nextcloud-compatible where Nextcloud
 * has one.
 */

/** Time a client has to send the complete request headers (slowloris), ms. */
export const HEADERS_TIMEOUT_MS = 30_000;
/**
 * A socket with no traffic in either direction for this long is closed (stalled uploads, idle
 * downloads, idle connections that never send a request), ms. Large uploads that keep streaming
 * are never cut: the request itself has no total time limit.
 */
export const IDLE_TIMEOUT_MS = 120_000;
/** Keep-alive connections between requests (above the usual 60 s of reverse proxies), ms. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** How often the server checks headers timeouts (Node defaults to 30 s, which doubles the bound), ms. */
export const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
/** Largest request header block, bytes (Node's default 16 KiB; long If headers fit). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Largest XML request body (PROPFIND, PROPPATCH), bytes → 413 beyond; held in memory whole to parse. */
export const XML_BODY_BYTES = 1024 * 1024;
/** Deepest XML nesting → 400 beyond. */
export const XML_MAX_DEPTH = 64;
/** Most entries a Depth: infinity PROPFIND lists before it is refused (403 propfind-finite-depth). */
export const PROPFIND_INFINITY_ENTRIES = 10_000;

/** Server timeouts; tests pass shorter ones. */
export interface ServerTimeouts {
  headersMs: number;
  idleMs: number;
  keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = Object.freeze({
  headersMs: HEADERS_TIMEOUT_MS, idleMs: IDLE_TIMEOUT_MS, keepAliveMs: KEEP_ALIVE_TIMEOUT_MS,
});
