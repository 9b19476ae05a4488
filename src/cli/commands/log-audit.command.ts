import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { CliError, EXIT, cliOptions, outputOption, withApp } from '../cli-support.ts';
import type { AuditEntry } from '../../audit/audit-log.ts';

/**
 * Parses `--since`: an ISO 8601 date/time, a Unix timestamp in seconds, or a relative age
 * (`30m`, `2h`, `7d`).
 * @throws CliError (exit 2) for anything else.
 */
export function parseSince(v: string, nowMs = Date.now()): number {
  const rel = /^(\d+)\s*([smhd])$/.exec(v.trim());
  if (rel) return nowMs - Number(rel[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d{9,11}$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CliError(`--since: not a date, timestamp or age (e.g. 2026-01-31T12:00Z, 1700000000, 2h): ${v}`, EXIT.USAGE);
  return t;
}

/** True when the entry is about `uid` (the subject) or was done by `uid` (an admin action). */
function concerns(e: AuditEntry, uid: string): boolean {
  return e.uid === uid || e.by === uid;
}

/** `./occ log:audit [--since T] [--user U] [--event E] [--output=json|plain]` */
export function register(program: Command): void {
  program
    .command('log:audit')
    .description('show the audit log (logins, failures, throttling, shares, admin actions, integrity failures)')
    .option('--since <time>', 'only entries at or after this time (ISO 8601, Unix seconds, or an age like 2h, 7d)')
    .option('--user <uid>', 'only entries about or by this user')
    .option('--event <prefix>', 'only events starting with this (e.g. login., integrity)')
    .addOption(new Option('--limit <n>', 'only the last n matching entries').argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: ${v}`);
      return n;
    }))
    .addOption(outputOption())
    .action(async (flags: { since?: string; user?: string; event?: string; limit?: number }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      const since = flags.since === undefined ? undefined : parseSince(flags.since);
      await withApp(async (app) => {
        const tail: AuditEntry[] = [];
        const out: AuditEntry[] = [];
        for await (const e of app.audit.read({ since })) {
          if (flags.user !== undefined && !concerns(e, flags.user)) continue;
          if (flags.event !== undefined && !e.event.startsWith(flags.event)) continue;
          if (flags.limit !== undefined) {
            tail.push(e);
            if (tail.length > flags.limit) tail.shift();
          } else if (output === 'plain') {
            process.stdout.write(plainLine(e));
          } else {
            out.push(e);
          }
        }
        const rows = flags.limit !== undefined ? tail : out;
        if (output === 'json') {
          // JSON lines, one entry per line, as in the file
          for (const e of rows) process.stdout.write(JSON.stringify(e) + '\n');
        } else if (output === 'json_pretty') {
          process.stdout.write(JSON.stringify(rows, null, 4) + '\n');
        } else {
          for (const e of tail) process.stdout.write(plainLine(e));
        }
      }, { migrate: false });
    });
}

function plainLine(e: AuditEntry): string {
  const { ts, event, ...rest } = e;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
  return `${ts} ${event}${fields ? ' ' + fields : ''}\n`;
}
