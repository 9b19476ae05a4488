import type { Command } from 'commander';
import { SYSTEM } from '../../actor.ts';
import { withApp } from '../cli-support.ts';

/**
 * `./occ notification:generate [-l LONG] USER SHORT` (Nextcloud's command): an admin notification
 * to USER (app and object type `admin_notifications`, as Nextcloud's), which tells USER's push
 * connections `notify_notification` (through Redis when the server runs in other processes).
 * Unknown user → exit 4; an empty or too long message → exit 2 (nothing stored).
 */
export function register(program: Command): void {
  program
    .command('notification:generate')
    .description('generate a notification for a user')
    .argument('<user-id>', 'user id of the user to notify')
    .argument('<short-message>', 'short message to be sent to the user (max. 255 characters)')
    .option('-l, --long-message <text>', 'long message to be sent to the user (max. 4000 characters)', '')
    .action(async (uid: string, short: string, flags: { longMessage: string }) => {
      await withApp(async (app) => {
        await app.notifications.notify(SYSTEM, {
          uid, app: 'admin_notifications', objectType: 'admin_notifications', objectId: Math.floor(Date.now() / 1000).toString(16),
          subject: short, message: flags.longMessage,
        });
      });
    });
}
