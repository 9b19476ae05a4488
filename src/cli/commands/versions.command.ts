import type { Command } from 'commander';
import type { App } from '../../app.ts';
import { normalizePath } from '../../files/paths.ts';
import { cliOptions, CliError, EXIT, outputOption, printData, withApp } from '../cli-support.ts';

/** The users a command acts on: those named (each must exist), else every user. @throws NotFoundError */
export async function usersOf(app: App, uids: string[]): Promise<string[]> {
  if (uids.length > 0) {
    for (const u of uids) await app.users.get(u);
    return uids;
  }
  return (await app.db.selectFrom('users').select('uid').orderBy('uid').execute()).map((r) => r.uid);
}

/** `--path` as Nextcloud takes it, `/USER/files[/PATH]`: the user and the canonical path. @throws CliError */
export function parseUserPath(v: string): { uid: string; path: string } {
  const m = /^\/([^/]+)\/files(\/.*)?$/.exec(v);
  if (!m) throw new CliError('Invalid path given', EXIT.USAGE);
  return { uid: m[1]!, path: normalizePath(m[2] ?? '') };
}

/**
 * `./occ versions:cleanup [--path=/USER/files/PATH] [USER...]` (delete every version, of the users
 * named or of all, or of the files at or below a path) and `./occ versions:expire [USER...]`
 * (expire under `versions_retention_obligation`), as Nextcloud's.
 */
export function register(program: Command): void {
  program
    .command('versions:cleanup')
    .description('delete versions')
    .argument('[user_id...]', 'delete the versions of these users (default: all users)')
    .option('-p, --path <path>', 'only delete versions of this path, e.g. --path="/alice/files/Music"')
    .addOption(outputOption())
    .action(async (uids: string[], flags: { path?: string }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      // Nextcloud's: the path names the user, in place of any given
      const at = flags.path === undefined ? undefined : parseUserPath(flags.path);
      await withApp(async (app) => {
        const users = await usersOf(app, at ? [at.uid] : uids);
        // a path that is not there is a mistake to report (Nextcloud deletes nothing and says nothing)
        if (at && at.path !== '') await app.files.stat(at.uid, at.path);
        if (output === 'plain' && !at && uids.length === 0) process.stdout.write('Delete all versions\n');
        const out: Record<string, number> = {};
        for (const uid of users) {
          if (output === 'plain') process.stdout.write(`Delete versions of   ${uid}\n`);
          out[uid] = await app.versions.cleanup(uid, at?.path);
        }
        await app.audit.record('versions.cleanup', {
          via: 'cli', users: Object.keys(out).length, versions: Object.values(out).reduce((a, b) => a + b, 0), ...(at ? { path: at.path } : {}),
        });
        if (output !== 'plain') printData(out, output);
      });
    });

  program
    .command('versions:expire')
    .description('expires the users file versions')
    .argument('[user_id...]', 'expire the versions of these users (default: all users)')
    .addOption(outputOption())
    .action(async (uids: string[], _flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        // Nextcloud's command: only with a maximum age (auto thinning runs in the background job)
        if (app.retention.versions.policy.maxDays === null) {
          throw new CliError('Auto expiration is configured - expiration will be handled automatically according to the expiration patterns detailed at the following link https://docs.nextcloud.com/server/latest/admin_manual/configuration_files/file_versioning.html.', EXIT.FAILURE);
        }
        const now = Math.floor(Date.now() / 1000);
        let expired = 0;
        let bytes = 0;
        const users = await usersOf(app, uids);
        for (const uid of users) {
          const r = await app.retention.versions.expireOlderThanMax(uid, now);
          expired += r.expired;
          bytes += r.bytes;
        }
        if (output === 'plain') process.stdout.write(`Expired ${expired} version(s) (${bytes} bytes) of ${users.length} user(s)\n`);
        else printData({ users: users.length, expired, bytes }, output);
      });
    });
}
