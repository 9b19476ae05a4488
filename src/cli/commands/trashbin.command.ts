import type { Command } from 'commander';
import type { App } from '../../app.ts';
import { InvalidArgumentError, Option } from 'commander';
import { SYSTEM } from '../../actor.ts';
import { runRetention } from '../../versions/retention-run.ts';
import { trashName } from '../../trash/trash-service.ts';
import { storedTrashSize } from '../../trash/trash-expiry.ts';
import { cliOptions, CliError, EXIT, outputOption, printData, withApp, type OutputFormat } from '../cli-support.ts';
import { usersOf } from './versions.command.ts';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** "5 GB", "500M", "1024", -1 (Nextcloud's computerFileSize, binary units). */
export function parseSize(v: string): number {
  if (v.trim() === '-1') return -1;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b?)\s*$/i.exec(v);
  if (!m) throw new InvalidArgumentError(`not a size: ${v}`);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** A time given as seconds since the epoch or a date (ISO 8601, "2024-01-31"). */
function parseTime(v: string): number {
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`not a date: ${v}`);
  return Math.floor(ms / 1000);
}

function formatSize(n: number): string {
  if (n < 0) return 'default';
  for (const [u, f] of [['TB', 1024 ** 4], ['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) if (n >= f) return `${+(n / f).toFixed(1)} ${u}`;
  return `${n} B`;
}

/**
 * Nextcloud's trash bin commands: `trashbin:cleanup [--all-users|USER...]`, `trashbin:expire
 * [USER...]`, `trashbin:restore USER... [--all-users] [--scope] [--since] [--until] [--dry-run]`,
 * `trashbin:size [--user=USER] [SIZE]`.
 */
export function register(program: Command): void {
  program
    .command('trashbin:cleanup')
    .description('remove deleted files')
    .argument('[user_id...]', 'remove the deleted files of these users')
    .option('--all-users', 'run action on all users')
    .addOption(outputOption())
    .action(async (uids: string[], flags: { allUsers?: boolean }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      if (!flags.allUsers && uids.length === 0) throw new CliError('Either specify a user_id or --all-users', EXIT.USAGE);
      if (flags.allUsers && uids.length > 0) throw new CliError('Either specify a user_id or --all-users, not both', EXIT.USAGE);
      await withApp(async (app) => {
        const out: Record<string, number> = {};
        for (const uid of await usersOf(app, flags.allUsers ? [] : uids)) {
          if (output === 'plain') process.stdout.write(`Remove deleted files of   ${uid}\n`);
          out[uid] = await app.trash.empty(SYSTEM, uid);
        }
        await app.audit.record('trashbin.cleanup', { via: 'cli', users: Object.keys(out).length, items: Object.values(out).reduce((a, b) => a + b, 0) });
        if (output !== 'plain') printData(out, output);
      });
    });

  program
    .command('trashbin:expire')
    .description('expires the users trashbin')
    .argument('[user_id...]', 'expire the trash bin of these users (default: all users)')
    .addOption(outputOption())
    .action(async (uids: string[], _flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        // Nextcloud's command refuses only without any age (`disabled`); under `auto` it expires what space needs
        const { enabled, minDays, maxDays } = app.retention.trash.policy;
        if (!enabled || (minDays === null && maxDays === null)) {
          throw new CliError('Auto expiration is configured - keeps files and folders in the trash bin for 30 days and automatically deletes anytime after that if space is needed (note: files may not be deleted if space is not needed)', EXIT.FAILURE);
        }
        const r = await runRetention(app, Math.floor(Date.now() / 1000), 'trash', uids.length ? await usersOf(app, uids) : undefined);
        if (output === 'plain') process.stdout.write(`Expired ${r.trash.expired} item(s) (${r.trash.bytes} bytes) of ${r.users} user(s)\n`);
        else printData({ users: r.users, ...r.trash }, output);
      });
    });

  program
    .command('trashbin:restore')
    .description('restore all deleted files according to the given filters')
    .argument('[user_id...]', 'restore the deleted files of these users')
    .option('--all-users', 'run action on all users')
    .addOption(new Option('-s, --scope <scope>', 'restore files from the given scope').choices(['user', 'groupfolders', 'all']).default('user'))
    .addOption(new Option('--since <time>', 'only restore files deleted after the given date and time (seconds or ISO 8601)').argParser(parseTime))
    .addOption(new Option('--until <time>', 'only restore files deleted before the given date and time (seconds or ISO 8601)').argParser(parseTime))
    .option('--dry-run', 'only show which files would have been restored')
    .addOption(outputOption())
    .action(async (uids: string[], flags: { allUsers?: boolean; scope: string; since?: number; until?: number; dryRun?: boolean }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      if (!flags.allUsers && uids.length === 0) throw new CliError('Either specify a user_id or --all-users', EXIT.USAGE);
      if (flags.allUsers && uids.length > 0) throw new CliError('Either specify a user_id or --all-users, not both', EXIT.USAGE);
      if (flags.since !== undefined && flags.until !== undefined && flags.since > flags.until) throw new CliError('--since must be before --until', EXIT.USAGE);
      await withApp(async (app) => {
        const restored: { user: string; name: string; location: string }[] = [];
        for (const uid of await usersOf(app, flags.allUsers ? [] : uids)) {
          if (flags.scope === 'groupfolders') continue; // no group folders in Coffer
          for await (const item of app.trash.itemsOf(uid)) {
            // as Nextcloud: strictly after --since, strictly before --until
            if (flags.since !== undefined && item.deletedAt <= flags.since) continue;
            if (flags.until !== undefined && item.deletedAt >= flags.until) continue;
            const node = flags.dryRun ? undefined : await app.trash.restore(SYSTEM, uid, trashName(item));
            restored.push({ user: uid, name: item.name, location: node?.path ?? item.originalLocation });
            if (output === 'plain') process.stdout.write(`${flags.dryRun ? 'Would restore' : 'Restored'} ${uid}: ${item.originalLocation}${node && node.path !== item.originalLocation ? ` as ${node.path}` : ''}\n`);
          }
        }
        if (!flags.dryRun) await app.audit.record('trashbin.restore', { via: 'cli', items: restored.length });
        if (output === 'plain') process.stdout.write(`${flags.dryRun ? 'Would restore' : 'Restored'} ${restored.length} item(s)\n`);
        else printData(restored, output);
      });
    });

  program
    .command('trashbin:size')
    .description('configure the target trashbin size')
    .argument('[size]', 'the new target size of the trash bin ("5 GB", "500MB"; -1 for the default)', parseSize)
    .option('-u, --user <user>', 'the user to set or show the trash bin size of (else the default size)')
    .addOption(outputOption())
    .action(async (bytes: number | undefined, flags: { user?: string }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        if (flags.user) await app.users.get(flags.user);
        if (bytes !== undefined) {
          if (flags.user) {
            if (bytes < 0) await app.users.deletePreference(flags.user, 'files_trashbin', 'trashbin_size').catch(() => {});
            else await app.users.setPreference(flags.user, 'files_trashbin', 'trashbin_size', String(bytes));
          } else {
            if (bytes < 0) await app.appConfig.delete('files_trashbin', 'trashbin_size');
            else await app.appConfig.set('files_trashbin', 'trashbin_size', String(bytes));
            if (output === 'plain') process.stdout.write('Warning: changing the default trashbin size will automatically trigger cleanup of existing trashbins,\nat the next background run of the server (every 15 minutes).\n');
          }
          return;
        }
        await printSize(app, flags.user, output);
      });
    });
}

/** A stored size, -1 when unset or not a size (Nextcloud reads it as an int, -1 by default). */
const storedSize = (v: string | undefined) => storedTrashSize(v) ?? -1;

/** `trashbin:size` without a size: Nextcloud's output (plain and JSON, with its keys). */
async function printSize(app: App, user: string | undefined, output: OutputFormat): Promise<void> {
  const global = storedSize(await app.appConfig.get('files_trashbin', 'trashbin_size'));
  const globalHuman = global < 0 ? 'default (50% of available space)' : formatSize(global);
  const globalValue = global < 0 ? 'default' : global;
  if (user) {
    const size = storedSize(await app.users.getPreference(user, 'files_trashbin', 'trashbin_size'));
    if (output === 'plain') {
      process.stdout.write(`${size >= 0 ? formatSize(size) : global < 0 ? globalHuman : `default(${globalHuman})`}\n`);
    } else {
      const userValue = size < 0 ? 'default' : size;
      printData({ user_size: userValue, global_size: globalValue, effective_size: size < 0 ? globalValue : userValue }, output);
    }
    return;
  }
  const perUser = await app.users.preferenceOfAll('files_trashbin', 'trashbin_size');
  if (output !== 'plain') {
    printData({ global_size: globalValue, user_sizes: perUser }, output);
    return;
  }
  process.stdout.write(`Default size: ${globalHuman}\n\n`);
  const entries = Object.entries(perUser);
  if (entries.length === 0) process.stdout.write('No per-user sizes configured\n');
  else process.stdout.write(`Per-user sizes:\n${entries.map(([u, v]) => `  - ${u}: ${formatSize(storedSize(v))}`).join('\n')}\n`);
}
