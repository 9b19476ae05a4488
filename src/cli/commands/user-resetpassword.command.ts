import type { Command } from 'commander';
import { cliOptions, withApp } from '../cli-support.ts';
import { obtainPassword } from './user-add.command.ts';
import { CliError, EXIT, confirm } from '../cli-support.ts';
import { resetWarning } from '../../encryption/user-keys/password-events.ts';
import { RECOVERY_ENV, recoveryPassword } from './encryption-user-keys.command.ts';

/** `./occ user:resetpassword [--password-from-env] NAME` */
export function register(program: Command): void {
  program
    .command('user:resetpassword')
    .description("reset a user's password (from OC_PASS with --password-from-env, else asked twice)")
    .argument('<uid>', 'user id')
    .option('--password-from-env', `read the password from the environment variable OC_PASS (and the recovery key password from ${RECOVERY_ENV})`)
    .option('--force', 'per-user keys without recovery: reset even with -n although the user\'s encrypted files become unreadable')
    .action(async (uid: string, flags: { passwordFromEnv?: boolean; force?: boolean }, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      await withApp(async (app) => {
        await app.users.get(uid); // NotFoundError (exit 4) before asking for a password
        // Per-user-key mode: use the recovery key (opted-in users) or warn and ask before data loss.
        const impact = await app.userKeys.resetImpact(uid);
        const warning = resetWarning(uid, impact);
        let recPw: string | undefined;
        if (warning && impact.optedIn && impact.recoveryEnabled) {
          if (process.env[RECOVERY_ENV]) recPw = process.env[RECOVERY_ENV];
          else if (!noInteraction) recPw = await recoveryPassword({ fromEnv: false, prompt: 'Recovery key password (empty: reset without recovery): ' }).catch(() => undefined);
        }
        let confirmedLoss = !!flags.force;
        if (warning && recPw === undefined) {
          process.stderr.write(`Warning: ${warning}.\n`);
          if (!confirmedLoss && !noInteraction) confirmedLoss = await confirm('Reset the password anyway?', { noInteraction, defaultYes: false });
          if (!confirmedLoss) throw new CliError(`not reset: ${warning}. Run it interactively and confirm, or add --force`, EXIT.REFUSED);
        }
        const password = await obtainPassword({ fromEnv: !!flags.passwordFromEnv, noInteraction, prompt: 'Enter a new password: ', confirm: 'Confirm the new password: ' });
        // (ends the user's web sessions too)
        const outcome = await app.passwords.adminReset(undefined, uid, password, { ip: '', via: 'cli', recoveryPassword: recPw, confirmedLoss });
        if (outcome === 'keys-reset') process.stderr.write(`The encryption keys of ${uid} were reset: files encrypted before are unreadable.\n`);
        if (outcome === 'recovered') process.stderr.write(`The files of ${uid} stay readable (restored with the recovery key).\n`);
        process.stdout.write(`Successfully reset password for ${uid}\n`);
      });
    });
}
