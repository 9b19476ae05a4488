import type { Command } from 'commander';
import { cliOptions, withApp } from '../cli-support.ts';
import { obtainPassword } from './user-add.command.ts';

/** `./occ user:resetpassword [--password-from-env] NAME` */
export function register(program: Command): void {
  program
    .command('user:resetpassword')
    .description("reset a user's password (from OC_PASS with --password-from-env, else asked twice)")
    .argument('<uid>', 'user id')
    .option('--password-from-env', 'read the password from the environment variable OC_PASS')
    .action(async (uid: string, flags: { passwordFromEnv?: boolean }, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      await withApp(async (app) => {
        await app.users.get(uid); // NotFoundError (exit 4) before asking for a password
        const password = await obtainPassword({ fromEnv: !!flags.passwordFromEnv, noInteraction, prompt: 'Enter a new password: ', confirm: 'Confirm the new password: ' });
        await app.users.setPassword(uid, password);
        await app.audit.record('user.password_reset', { uid, via: 'cli' });
        process.stdout.write(`Successfully reset password for ${uid}\n`);
      });
    });
}
