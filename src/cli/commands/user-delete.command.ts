import type { Command } from 'commander';
import { withApp } from '../cli-support.ts';

/** `./occ user:delete NAME`: the user, their app passwords, settings and files. */
export function register(program: Command): void {
  program
    .command('user:delete')
    .description("delete a user with their app passwords, settings and files")
    .argument('<uid>', 'user id')
    .action(async (uid: string) => {
      await withApp(async (app) => {
        await app.users.delete(uid); // NotFoundError → exit 4
        await app.files.deleteAll(uid);
        await app.audit.record('user.deleted', { uid, via: 'cli' });
        process.stdout.write(`User "${uid}" deleted.\n`);
      });
    });
}
