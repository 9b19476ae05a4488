import { AddressRanges, parseAddressRange } from '../config/address-range.ts';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/config.ts';

/** The scheme and host clients use to reach this instance (behind a TLS proxy, the proxy's). */
export interface PublicOrigin {
  readonly scheme: 'http' | 'https';
  /** `host[:port]` as it goes into a URL. */
  readonly host: string;
  /** `scheme://host`, no trailing slash. */
  readonly origin: string;
}

/** What of the config decides the public origin. */
export type OriginConfig = Pick<Config, 'trustedProxies' | 'overwriteprotocol' | 'overwritehost'>;

/** A host[:port] fit for a URL: name, IPv4 or [IPv6], optional port; nothing else. */
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Whether `peer` (a socket's remote address) is one of the configured trusted proxies. */
export function isTrustedProxy(peer: string, trusted: readonly string[]): boolean {
  if (trusted.length === 0) return false;
  let ranges = TRUSTED.get(trusted);
  if (!ranges) {
    // as Nextcloud's trusted_proxies: addresses or CIDR ranges; an entry that is neither trusts nothing
    ranges = new AddressRanges(trusted.filter((r) => parseAddressRange(r) !== undefined));
    TRUSTED.set(trusted, ranges);
  }
  return ranges.has(peer); // an IPv4 peer on a dual-stack socket (::ffff:a.b.c.d) matches IPv4 ranges
}

/** Parsed `trustedProxies` lists, by the (frozen) config array. */
const TRUSTED = new WeakMap<readonly string[], AddressRanges>();

function first(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/**
 * The public origin of a request, the one function every URL, cookie `Secure` flag and HSTS
 * decision uses (as Nextcloud's getServerProtocol/getServerHost):
 * - scheme: config `overwriteprotocol`; else, from a trusted proxy, the first `X-Forwarded-Proto`
 *   value (http or https only); else https when the socket is TLS;
 * - host: config `overwritehost`; else, from a trusted proxy, the last `X-Forwarded-Host` value
 *   (the one the nearest proxy appended); else the Host header; else `fallbackHost`.
 * Forwarded headers from any other peer are ignored: a client could forge them. A host that is not
 * a plain host[:port] falls back to `fallbackHost` (no header injection into URLs).
 */
export function publicOrigin(req: IncomingMessage, config: OriginConfig, fallbackHost: string): PublicOrigin {
  const trusted = isTrustedProxy(req.socket?.remoteAddress ?? '', config.trustedProxies);
  let scheme: 'http' | 'https' = (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
  if (config.overwriteprotocol) scheme = config.overwriteprotocol;
  else if (trusted) {
    const proto = first(req.headers['x-forwarded-proto']).split(',')[0]!.trim().toLowerCase();
    if (proto === 'https' || proto === 'http') scheme = proto;
  }
  let host = first(req.headers.host).trim();
  if (config.overwritehost) host = config.overwritehost;
  else if (trusted) {
    const fwd = first(req.headers['x-forwarded-host']).split(',').map((h) => h.trim()).filter(Boolean);
    if (fwd.length > 0) host = fwd[fwd.length - 1]!;
  }
  if (!HOST_RE.test(host)) host = fallbackHost;
  return { scheme, host, origin: `${scheme}://${host}` };
}

/**
 * The base URL for links made outside a request (the CLI, background jobs): config
 * `overwrite.cli.url` (as Nextcloud), without a trailing slash; else `http://localhost`.
 */
export function cliBaseUrl(config: Pick<Config, 'overwrite.cli.url'>): string {
  return (config['overwrite.cli.url'] ?? 'http://localhost').replace(/\/+$/, '');
}
