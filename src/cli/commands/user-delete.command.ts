import type { Command } from 'commander';
import { withApp } from '../cli-support.ts';

/** `./occ user:delete NAME`: the user with everything of theirs (UserDeletionService). */
export function register(program: Command): void {
  program
    .command('user:delete')
    .description("delete a user with everything of theirs: files, shares, group memberships, sessions, app passwords, keys")
    .argument('<uid>', 'user id')
    .action(async (uid: string) => {
      await withApp(async (app) => {
        await app.userDeletion.delete({ via: 'cli' }, uid); // NotFoundError → exit 4
        process.stdout.write(`User "${uid}" deleted.\n`);
      });
    });
}
