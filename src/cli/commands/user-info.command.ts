import type { Command } from 'commander';
import { join } from 'node:path';
import type { App } from '../../app.ts';
import type { UserRecord } from '../../auth/types.ts';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';

/** What `user:info` shows (Nextcloud's keys). */
export async function userInfo(app: App, u: UserRecord): Promise<Record<string, unknown>> {
  const { used } = await app.files.quota(u.uid);
  return {
    user_id: u.uid,
    display_name: u.displayName,
    email: u.email,
    enabled: u.enabled,
    groups: await app.groups.groupsShown(u),
    quota: u.quota === null ? 'none' : u.quota,
    storage: { used, quota: u.quota === null ? -3 : u.quota },
    // outside the quota, as in Nextcloud; kept within half of the free space by the expiry
    versions: await app.versions.usage(u.uid),
    trashbin: await app.trash.usage(u.uid),
    first_seen: new Date(u.createdAt * 1000).toISOString(),
    last_seen: u.lastLogin === null ? 'never' : new Date(u.lastLogin * 1000).toISOString(),
    user_directory: join(app.config.datadirectory, u.uid),
    backend: 'Database',
  };
}

/** `./occ user:info NAME [--output=json|plain]` */
export function register(program: Command): void {
  program
    .command('user:info')
    .description('show information about a user')
    .argument('<uid>', 'user id')
    .addOption(outputOption())
    .action(async (uid: string, _flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => printData(await userInfo(app, await app.users.get(uid)), output));
    });
}
