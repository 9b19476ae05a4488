import type { Command } from 'commander';
import { CliError, EXIT, cliOptions, confirm, readSecret, withApp } from '../cli-support.ts';
import { obtainPassword } from './user-add.command.ts';

/** Env variable of the recovery key password (Nextcloud's name). */
export const RECOVERY_ENV = 'OC_RECOVERY_PASS';
/** Env variable of the new recovery key password (change-recovery-key-password). */
export const RECOVERY_NEW_ENV = 'OC_RECOVERY_NEW_PASS';

/**
 * The recovery key password: `$OC_RECOVERY_PASS` with `fromEnv`, else a prompt (twice when `twice`).
 * @throws CliError (exit 2) when empty, or the two entries differ.
 */
export async function recoveryPassword(o: { fromEnv: boolean; twice?: boolean; env?: string; prompt?: string }): Promise<string> {
  const env = o.env ?? RECOVERY_ENV;
  if (o.fromEnv) {
    const pw = process.env[env] ?? '';
    if (pw === '') throw new CliError(`--password-from-env given, but ${env} is empty!`, EXIT.USAGE);
    return pw;
  }
  const pw = await readSecret(o.prompt ?? 'Recovery key password: ');
  if (o.twice && (await readSecret('Repeat the recovery key password: ')) !== pw) throw new CliError('the passwords do not match', EXIT.USAGE);
  if (pw === '') throw new CliError('the recovery key password must not be empty', EXIT.USAGE);
  return pw;
}

/**
 * `encryption:disable-master-key`, `encryption:enable-master-key`, `encryption:enable-recovery-key`,
 * `encryption:disable-recovery-key`, `encryption:change-recovery-key-password`, `encryption:recover-user`.
 */
export function register(program: Command): void {
  for (const [name, perUser] of [['encryption:disable-master-key', true], ['encryption:enable-master-key', false]] as const) {
    program
      .command(name)
      .description(perUser
        ? 'switch to per-user encryption keys (X25519 key pair per user, unlocked by the login password); only while no file is encrypted'
        : 'switch back to the instance master key; only while no file is encrypted')
      .action(async (_flags: unknown, cmd: Command) => {
        const { noInteraction } = cliOptions(cmd);
        await withApp(async (app) => {
          const n = await app.encryption.countEncrypted();
          if (n === 0 && perUser) {
            process.stderr.write('Per-user keys: each user\'s files can only be decrypted after that user logs in with the password.\n'
              + 'An admin password reset makes a user\'s files unreadable unless the user opted into the recovery key.\n'
              + 'Users get their keys at their next login (log out and log in again).\n');
          }
          if (n === 0 && !(await confirm(`${perUser ? 'Switch to per-user keys' : 'Switch to the master key'}?`, { noInteraction, defaultYes: true }))) {
            throw new CliError('aborted; nothing was changed', EXIT.REFUSED);
          }
          await app.userKeys.setPerUserMode(perUser, n); // ConflictError (exit 5) while encrypted files exist
          await app.audit.record(perUser ? 'encryption.master_key_disabled' : 'encryption.master_key_enabled', { via: 'cli' });
          process.stdout.write(perUser ? 'Master key disabled: per-user keys are used from now on.\n' : 'Master key enabled.\n');
          // Each process chooses its key policy when it starts (app.ts).
          process.stdout.write('Restart the running server processes for them to use the new key mode.\n');
        });
      });
  }

  program
    .command('encryption:enable-recovery-key')
    .description('create the recovery key (per-user-key mode); users opt in to let it restore their files after a password reset')
    .option('--password-from-env', `read the recovery key password from ${RECOVERY_ENV}`)
    .action(async (flags: { passwordFromEnv?: boolean }) => {
      await withApp(async (app) => {
        const pw = await recoveryPassword({ fromEnv: !!flags.passwordFromEnv, twice: true });
        const r = await app.userKeys.recovery.enable(pw);
        await app.audit.record('encryption.recovery_key_enabled', { via: 'cli', id: r.id });
        process.stdout.write(`Recovery key enabled (id ${r.id}). Keep its password safe: it is the only way to restore opted-in users' files after a password reset.\n`);
      });
    });

  program
    .command('encryption:disable-recovery-key')
    .description('delete the recovery key and every user\'s recovery copy of their keys')
    .option('--password-from-env', `read the recovery key password from ${RECOVERY_ENV}`)
    .action(async (flags: { passwordFromEnv?: boolean }, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      await withApp(async (app) => {
        const pw = await recoveryPassword({ fromEnv: !!flags.passwordFromEnv });
        if (!(await confirm('Users who opted in lose recovery of their files after a password reset. Continue?', { noInteraction, defaultYes: true }))) {
          throw new CliError('aborted; nothing was changed', EXIT.REFUSED);
        }
        await app.userKeys.disableRecoveryKey(pw);
        await app.audit.record('encryption.recovery_key_disabled', { via: 'cli' });
        process.stdout.write('Recovery key disabled.\n');
      });
    });

  program
    .command('encryption:change-recovery-key-password')
    .description(`change the recovery key password (with --password-from-env: old from ${RECOVERY_ENV}, new from ${RECOVERY_NEW_ENV})`)
    .option('--password-from-env', 'read the passwords from the environment')
    .action(async (flags: { passwordFromEnv?: boolean }) => {
      await withApp(async (app) => {
        const fromEnv = !!flags.passwordFromEnv;
        const oldPw = await recoveryPassword({ fromEnv, prompt: 'Current recovery key password: ' });
        const newPw = await recoveryPassword({ fromEnv, twice: true, env: RECOVERY_NEW_ENV, prompt: 'New recovery key password: ' });
        await app.userKeys.recovery.changePassword(oldPw, newPw);
        await app.audit.record('encryption.recovery_key_password_changed', { via: 'cli' });
        process.stdout.write('Recovery key password changed.\n');
      });
    });

  program
    .command('encryption:recover-user')
    .description(`give a user who opted into recovery a new login password, keeping their files readable (recovery key password from ${RECOVERY_ENV}, new login password from OC_PASS with --password-from-env)`)
    .argument('<uid>', 'user id')
    .option('--password-from-env', `read the passwords from ${RECOVERY_ENV} and OC_PASS`)
    .action(async (uid: string, flags: { passwordFromEnv?: boolean }, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      await withApp(async (app) => {
        await app.users.get(uid);
        const imp = await app.userKeys.resetImpact(uid);
        if (!imp.hasKeys) throw new CliError(`user ${uid} has no per-user encryption keys: nothing to recover (use ./occ user:resetpassword)`, EXIT.REFUSED);
        if (!imp.recoveryEnabled) throw new CliError('the recovery key is not enabled', EXIT.REFUSED);
        if (!imp.optedIn) throw new CliError(`user ${uid} has not opted into recovery: their files cannot be recovered`, EXIT.REFUSED);
        const fromEnv = !!flags.passwordFromEnv;
        const recPw = await recoveryPassword({ fromEnv });
        const password = await obtainPassword({ fromEnv, noInteraction, prompt: 'New login password: ', confirm: 'Confirm the new login password: ' });
        // (ends the user's web sessions too)
        await app.passwords.adminReset(undefined, uid, password, { ip: '', via: 'cli', recoveryPassword: recPw, confirmedLoss: false });
        process.stdout.write(`User ${uid} recovered: new login password set, files stay readable.\n`);
      });
    });
}
