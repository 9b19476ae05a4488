import type { Command } from 'commander';
import { parseAddressRange } from '../../config/address-range.ts';
import { ValidationError } from '../../errors.ts';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';

/**
 * The client address an admin typed (IPv4 or IPv6, no range).
 * @throws ValidationError (exit 2) for anything else
 */
function addressArg(s: string): string {
  const p = parseAddressRange(s);
  if (!p || s.includes('/')) throw new ValidationError(`Not an IP address: ${s}`);
  return p.address;
}

/**
 * `./occ security:bruteforce:attempts ADDRESS [--output=json]`: what an unknown client from that
 * address faces now (Nextcloud's keys: bypass-listed, attempts, delay in ms; plus the address as
 * counted — IPv6 by /64 — and how long it is blocked for).
 * `./occ security:bruteforce:reset ADDRESS`: forgets the attempts counted for that address.
 */
export function register(program: Command): void {
  program
    .command('security:bruteforce:attempts')
    .description('show the brute-force attempts counted for a client address, and the delay it gets')
    .argument('<address>', 'IPv4 or IPv6 address')
    .addOption(outputOption())
    .action(async (address: string, _flags: unknown, cmd: Command) => {
      const ip = addressArg(address);
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const s = await app.throttle.addressStatus(ip);
        printData({ 'address': s.address, 'bypass-listed': s.allowlisted, 'attempts': s.attempts, 'delay': s.allowlisted ? 0 : s.delayMs, 'blocked-for': s.allowlisted ? 0 : s.blockedForSeconds }, output);
      });
    });
  program
    .command('security:bruteforce:reset')
    .description('forget the brute-force attempts counted for a client address')
    .argument('<address>', 'IPv4 or IPv6 address')
    .action(async (address: string) => {
      const ip = addressArg(address);
      await withApp(async (app) => {
        await app.throttle.resetAddress(ip);
        await app.audit.record('bruteforce.reset', { ip, via: 'cli' });
        process.stdout.write(`The brute-force attempts of ${ip} have been reset\n`);
      });
    });
}
