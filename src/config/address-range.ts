import { BlockList, isIP } from 'node:net';

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything else unchanged (zone ids dropped). */
export function unmapAddress(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return v4 ? v4[1] : ip.split('%')[0];
}

/** Parses `ADDRESS` or `ADDRESS/PREFIX` (IPv4 or IPv6); undefined when it is neither. */
export function parseAddressRange(s: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [addr, bits, extra] = s.trim().split('/');
  if (extra !== undefined || addr === undefined) return undefined;
  const a = unmapAddress(addr);
  const v = isIP(a);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { address: a, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** A set of address ranges (CIDR, IPv4 and IPv6); an IPv4-mapped IPv6 client matches IPv4 ranges. */
export class AddressRanges {
  readonly #list = new BlockList();
  readonly size: number;

  /** @throws Error naming the entry when one is not an address or CIDR range */
  constructor(ranges: readonly string[]) {
    for (const r of ranges) {
      const p = parseAddressRange(r);
      if (!p) throw new Error(`not an IPv4/IPv6 address or CIDR range: ${r}`);
      this.#list.addSubnet(p.address, p.prefix, p.family);
    }
    this.size = ranges.length;
  }

  /** Whether `ip` lies in one of the ranges (false for anything that is not an address). */
  has(ip: string): boolean {
    if (this.size === 0) return false;
    const a = unmapAddress(ip);
    const v = isIP(a);
    return v !== 0 && this.#list.check(a, v === 4 ? 'ipv4' : 'ipv6');
  }
}
