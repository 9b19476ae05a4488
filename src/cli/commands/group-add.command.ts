import type { Command } from 'commander';
import { withApp } from '../cli-support.ts';

/** `./occ group:add NAME [--display-name=…]` */
export function register(program: Command): void {
  program
    .command('group:add')
    .description('add a group')
    .argument('<groupid>', 'group id')
    .option('--display-name <name>', 'group display name')
    .action(async (gid: string, flags: { displayName?: string }) => {
      await withApp(async (app) => {
        await app.groups.create(gid, flags.displayName ?? gid); // AlreadyExistsError → exit 5
        await app.audit.record('group.created', { gid, via: 'cli' });
        process.stdout.write(`Created group "${gid}"\n`);
      });
    });
}
