import type { Command } from 'commander';
import { withApp } from '../cli-support.ts';

/** `./occ group:delete NAME`: the group, its memberships and the shares to it. */
export function register(program: Command): void {
  program
    .command('group:delete')
    .description('remove a group (its members keep their accounts; shares to the group end)')
    .argument('<groupid>', 'group id')
    .action(async (gid: string) => {
      await withApp(async (app) => {
        await app.groups.delete(gid); // NotFoundError → exit 4
        await app.shares.deleteAllOfGroup(gid);
        await app.audit.record('group.deleted', { gid, via: 'cli' });
        process.stdout.write(`Group "${gid}" was removed\n`);
      });
    });
}
