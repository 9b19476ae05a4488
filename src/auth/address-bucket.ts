import { isIPv6 } from 'node:net';

/**
 * The key under which per-address limits count a client: an IPv4 address as is (also when shown
 * as ::ffff:a.b.c.d), an IPv6 address by its /64 (one subscriber usually holds a whole /64, so
 * counting single IPv6 addresses would limit nobody).
 */
export function addressBucket(ip: string): string {
  const v4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!isIPv6(ip)) return ip;
  const [head, tail] = ip.toLowerCase().split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const full = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return `${full.slice(0, 4).map((x) => x.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
