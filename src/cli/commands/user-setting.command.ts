import type { Command } from 'commander';
import type { App } from '../../app.ts';
import { CliError, EXIT, cliOptions, outputOption, printData, withApp } from '../cli-support.ts';

interface SettingFlags {
  delete?: boolean;
  defaultValue?: string;
  errorIfNotExists?: boolean;
  updateOnly?: boolean;
}

/**
 * Account fields that Nextcloud exposes as the pseudo-app `settings`
 * (`user:setting alice settings email a@b.c`).
 */
async function setAccountField(app: App, uid: string, key: string, value: string): Promise<boolean> {
  if (key === 'email') { await app.users.setEmail(uid, value || null); return true; }
  if (key === 'display_name') { await app.users.setDisplayName(uid, value); return true; }
  return false;
}

/** `./occ user:setting NAME [APP] [KEY] [VALUE] [--delete] [--default-value V] [--error-if-not-exists]` */
export function register(program: Command): void {
  program
    .command('user:setting')
    .description('read, set or delete user settings (no APP: list all; no KEY: list the app\'s)')
    .argument('<uid>', 'user id')
    .argument('[app]', 'app id')
    .argument('[key]', 'setting key')
    .argument('[value]', 'new value (sets the setting)')
    .option('--delete', 'delete the setting')
    .option('--default-value <value>', 'printed when the setting is not set')
    .option('--error-if-not-exists', 'with --delete: fail when the setting is not set')
    .option('--update-only', 'only update a setting that exists')
    .addOption(outputOption())
    .action(async (uid: string, appId: string | undefined, key: string | undefined, value: string | undefined, flags: SettingFlags, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const user = await app.users.get(uid); // NotFoundError → exit 4
        if (key === undefined) {
          if (flags.delete) throw new CliError('--delete needs an app and a key', EXIT.USAGE);
          const prefs = await app.users.listPreferences(uid, appId);
          if (appId === undefined || appId === 'settings') {
            const settings = { ...(prefs.settings ?? {}), display_name: user.displayName, ...(user.email ? { email: user.email } : {}) };
            if (appId === 'settings') { printData({ settings }, output); return; }
            prefs.settings = settings;
          }
          printData(prefs, output);
          return;
        }
        const current = await app.users.getPreference(uid, appId!, key);
        if (flags.delete) {
          if (value !== undefined) throw new CliError('--delete takes no value', EXIT.USAGE);
          if (current === undefined) {
            if (flags.errorIfNotExists) throw new CliError(`The setting does not exist for user "${uid}".`, EXIT.NOT_FOUND);
            return;
          }
          await app.users.deletePreference(uid, appId!, key);
          await app.audit.record('user.setting_deleted', { uid, app: appId, key, via: 'cli' });
          return;
        }
        if (value !== undefined) {
          if (flags.updateOnly && current === undefined) throw new CliError(`The setting does not exist for user "${uid}".`, EXIT.NOT_FOUND);
          if (!(appId === 'settings' && await setAccountField(app, uid, key, value))) {
            await app.users.setPreference(uid, appId!, key, value);
          }
          await app.audit.record('user.setting_changed', { uid, app: appId, key, via: 'cli' });
          return;
        }
        let shown = current;
        if (appId === 'settings' && key === 'email') shown = user.email ?? undefined;
        if (appId === 'settings' && key === 'display_name') shown = user.displayName;
        if (shown !== undefined) { process.stdout.write(shown + '\n'); return; }
        if (flags.defaultValue !== undefined) { process.stdout.write(flags.defaultValue + '\n'); return; }
        throw new CliError(`The setting does not exist for user "${uid}".`, EXIT.FAILURE);
      });
    });
}
