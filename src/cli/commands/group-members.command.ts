import type { Command } from 'commander';
import { withApp } from '../cli-support.ts';

/** `./occ group:adduser GROUP USER` and `./occ group:removeuser GROUP USER` */
export function register(program: Command): void {
  program
    .command('group:adduser')
    .description('add a user to a group')
    .argument('<group>', 'group id')
    .argument('<user>', 'user id')
    .action(async (gid: string, uid: string) => {
      await withApp(async (app) => {
        await app.groups.addUser(gid, uid); // NotFoundError → exit 4
        await app.audit.record('group.user-added', { gid, uid, via: 'cli' });
      });
    });
  program
    .command('group:removeuser')
    .description('remove a user from a group')
    .argument('<group>', 'group id')
    .argument('<user>', 'user id')
    .action(async (gid: string, uid: string) => {
      await withApp(async (app) => {
        await app.groups.removeUser(gid, uid); // NotFoundError → exit 4
        await app.audit.record('group.user-removed', { gid, uid, via: 'cli' });
      });
    });
}
