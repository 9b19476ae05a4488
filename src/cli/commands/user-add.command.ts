import type { Command } from 'commander';
import { CliError, EXIT, cliOptions, readSecret, withApp } from '../cli-support.ts';

/**
 * The password for user:add / user:resetpassword: `$OC_PASS` with `--password-from-env` (as
 * Nextcloud), else asked twice on a terminal.
 * @throws CliError (exit 2) when OC_PASS is empty, no terminal is available (or -n), or the two
 *   entries differ
 */
export async function obtainPassword(opts: { fromEnv: boolean; noInteraction: boolean; prompt: string; confirm: string }): Promise<string> {
  if (opts.fromEnv) {
    const pw = process.env.OC_PASS ?? '';
    if (pw === '') throw new CliError('--password-from-env given, but OC_PASS is empty!', EXIT.USAGE);
    return pw;
  }
  if (opts.noInteraction || !process.stdin.isTTY) {
    throw new CliError('Interactive input or --password-from-env is needed for setting a password', EXIT.USAGE);
  }
  const a = await readSecret(opts.prompt);
  const b = await readSecret(opts.confirm);
  if (a !== b) throw new CliError('Passwords did not match!', EXIT.USAGE);
  if (a === '') throw new CliError('The password must not be empty', EXIT.USAGE);
  return a;
}

/** `./occ user:add [--password-from-env] [--display-name N] [--email E] [--group G…] NAME` */
export function register(program: Command): void {
  program
    .command('user:add')
    .description('add a user (password from OC_PASS with --password-from-env, else asked twice)')
    .argument('<uid>', 'user id (letters, digits, space and _.@-\', at most 64 characters)')
    .option('--password-from-env', 'read the password from the environment variable OC_PASS')
    .option('--display-name <name>', 'display name (default: the user id)')
    .option('--email <email>', 'email address')
    .option('-g, --group <group>', 'add the user to a group ("admin" makes an administrator); repeatable',
      (v: string, prev: string[] = []) => [...prev, v])
    .action(async (uid: string, flags: { passwordFromEnv?: boolean; displayName?: string; email?: string; group?: string[] }, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      await withApp(async (app) => {
        if (await app.users.exists(uid)) throw new CliError(`The user "${uid}" already exists.`, EXIT.REFUSED);
        const password = await obtainPassword({ fromEnv: !!flags.passwordFromEnv, noInteraction, prompt: 'Enter password: ', confirm: 'Confirm password: ' });
        const groups = flags.group ?? [];
        const user = await app.users.create({ uid, password, displayName: flags.displayName, email: flags.email, isAdmin: groups.includes('admin') });
        await app.audit.record('user.created', { uid: user.uid, via: 'cli', admin: user.isAdmin });
        process.stdout.write(`The user "${user.uid}" was created successfully\n`);
        if (flags.displayName) process.stdout.write(`Display name set to "${user.displayName}"\n`);
        if (flags.email) process.stdout.write(`Email address set to "${user.email}"\n`);
        for (const g of groups) {
          if (g === 'admin') process.stdout.write(`User "${user.uid}" added to group "admin"\n`);
          else process.stderr.write(`warning: groups other than "admin" are not supported yet; "${g}" ignored\n`);
        }
      });
    });
}
