import type { Command } from 'commander';
import { cliOptions, outputOption, printData, withApp, type OutputFormat } from '../cli-support.ts';
import { IMPORT_APP } from '../../import/nextcloud-importer.ts';

const MiB = 1024 * 1024;

/** One user's state after a per-user-key import. */
interface UserState {
  uid: string;
  /** waiting-for-login: keys sealed for the first password login; converting / done once opened. */
  keys: 'waiting-for-login' | 'opened';
  pendingFiles: number;
  pendingBytes: number;
  /** Files whose conversion failed (a block whose signature fails), named in the log. */
  failedFiles: number;
}

/**
 * `./occ import:nextcloud:status [--output json]`: per user, what a per-user-key Nextcloud import
 * left pending (keys awaiting the first password login, files still in Nextcloud's encrypted form).
 */
export function register(program: Command): void {
  program
    .command('import:nextcloud:status')
    .description('show, per user, the imported Nextcloud files still awaiting conversion (per-user keys)')
    .addOption(outputOption())
    .action(async (_flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const instance = await app.appConfig.get(IMPORT_APP, 'instanceid');
        const completed = await app.appConfig.get(IMPORT_APP, 'completed');
        const totals = new Map((await app.ncPending.repo.totals()).map((t) => [t.owner, t]));
        const users: UserState[] = [];
        for (let offset = 0; ; offset += 500) {
          const page = await app.users.list({ limit: 500, offset });
          for (const u of page) {
            const t = totals.get(u.uid);
            const waiting = await app.ncPendingKeys.isPending(u.uid);
            if (!t && !waiting) continue;
            users.push({ uid: u.uid, keys: waiting ? 'waiting-for-login' : 'opened', pendingFiles: t?.files ?? 0, pendingBytes: t?.bytes ?? 0, failedFiles: t?.failed ?? 0 });
          }
          if (page.length < 500) break;
        }
        print({ imported: instance !== undefined, completed: completed !== undefined, users }, output);
      });
    });
}

function print(s: { imported: boolean; completed: boolean; users: UserState[] }, output: OutputFormat): void {
  if (output !== 'plain') { printData(s, output); return; }
  const lines: string[] = [];
  if (!s.imported) lines.push('No Nextcloud import in this Coffer.');
  else lines.push(`Nextcloud import: ${s.completed ? 'completed' : 'in progress or interrupted (run ./occ import:nextcloud again)'}`);
  if (s.imported && s.users.length === 0) lines.push('Nothing pending: every imported file is in Coffer\'s format.');
  for (const u of s.users) {
    const what = u.pendingFiles === 0 ? 'no file pending'
      : `${u.pendingFiles} files (${(u.pendingBytes / MiB).toFixed(1)} MiB) in Nextcloud's encrypted form`
        + (u.keys === 'waiting-for-login' ? ', converted after their first login with the password' : ', being converted (or at their next login)');
    lines.push(`  ${u.uid}: ${u.keys === 'waiting-for-login' ? 'keys waiting for the first login' : 'keys opened'}; ${what}${u.failedFiles ? `; ${u.failedFiles} failed their integrity check (see the log)` : ''}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
