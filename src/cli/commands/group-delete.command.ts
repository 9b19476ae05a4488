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
        await app.groups.get(gid); // NotFoundError → exit 4
        // the shares first, the group last: a deletion that fails half-way must not leave shares
        // to a name that a new group could take over
        await app.shares.deleteAllOfGroup(gid);
        await app.groups.delete(gid);
        await app.audit.record('group.deleted', { gid, via: 'cli' });
        process.stdout.write(`Group "${gid}" was removed\n`);
      });
    });
}
