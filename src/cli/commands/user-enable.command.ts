import type { Command } from 'commander';
import { withApp } from '../cli-support.ts';

/** `./occ user:enable NAME`, `./occ user:disable NAME` */
export function register(program: Command): void {
  for (const [name, enabled] of [['user:enable', true], ['user:disable', false]] as const) {
    program
      .command(name)
      .description(enabled ? 'enable a user' : 'disable a user (they can no longer log in)')
      .argument('<uid>', 'user id')
      .action(async (uid: string) => {
        await withApp(async (app) => {
          await app.users.setEnabled(uid, enabled);
          await app.audit.record(enabled ? 'user.enabled' : 'user.disabled', { uid, via: 'cli' });
          process.stdout.write(`The specified user is ${enabled ? 'enabled' : 'disabled'}\n`);
        });
      });
  }
}
