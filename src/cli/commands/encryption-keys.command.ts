import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ValidationError } from '../../errors.ts';
import { CliError, EXIT, cliOptions, confirm, outputOption, printData, readSecret, withApp } from '../cli-support.ts';

const PASSWORD_ENV = 'COFFER_BACKUP_PASSWORD';

/**
 * The backup password: `$COFFER_BACKUP_PASSWORD`, else a prompt (twice when `twice`).
 * @throws ValidationError when empty or shorter than 8 characters; CliError when the two entries differ.
 */
async function backupPassword(twice: boolean): Promise<string> {
  let pw = process.env[PASSWORD_ENV];
  if (pw === undefined) {
    pw = await readSecret('Backup password: ');
    if (twice) {
      const again = await readSecret('Repeat the backup password: ');
      if (again !== pw) throw new CliError('the passwords do not match', EXIT.USAGE);
    }
  }
  if (twice && pw.length < 8) throw new ValidationError('the backup password must have at least 8 characters');
  if (!pw) throw new ValidationError('a backup password is required');
  return pw;
}

/**
 * `encryption:show-key-storage-root`, `encryption:change-key-storage-root [DIR]`,
 * `encryption:rotate-master-key`, `encryption:backup-keys FILE`, `encryption:restore-keys FILE`.
 */
export function register(program: Command): void {
  program
    .command('encryption:show-key-storage-root')
    .description('show where the encryption keys are stored')
    .addOption(outputOption())
    .action(async (_flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const root = await app.encryption.keyStorageRoot();
        const isDefault = resolve(root) === resolve(app.config.datadirectory);
        if (output === 'plain') {
          process.stdout.write(`Current key storage root: ${root}${isDefault ? ' (default storage location: the data directory)' : ''}\n`);
        } else {
          printData({ keyStorageRoot: root, default: isDefault }, output);
        }
      });
    });

  program
    .command('encryption:change-key-storage-root')
    .description('move the encryption keys to another (existing) folder; files stay readable')
    .argument('[dir]', 'new key storage root (default: the data directory)')
    .action(async (dir: string | undefined, _flags: unknown, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      await withApp(async (app) => {
        const from = await app.encryption.keyStorageRoot();
        const to = dir ? resolve(dir) : app.config.datadirectory;
        if (!noInteraction && !(await confirm(`Change key storage root from ${from} to ${to}?`, { noInteraction: false, defaultYes: true }))) {
          throw new CliError('aborted; nothing was changed', EXIT.REFUSED);
        }
        const r = await app.encryption.changeKeyStorageRoot(to);
        await app.audit.record('encryption.key_root_changed', { via: 'cli', root: r.root });
        process.stdout.write(`Key storage root changed to ${r.root} (${r.moved} key files moved${r.late ? `, ${r.late} of them written by a running server during the move` : ''}). Files stay readable.\n`);
        if (r.left.length > 0) {
          process.stderr.write(`warning: ${r.left.length} key file(s) in the old root differ from the new root's and were left in ${from}: ${r.left.join(', ')}. Compare them before deleting anything.\n`);
        }
      });
    });

  program
    .command('encryption:rotate-master-key')
    .description('create a new master key and re-wrap the user keys with it (never rewrites file content; resumable)')
    .action(async () => {
      await withApp(async (app) => {
        const r = await app.encryption.rotateMasterKey();
        await app.audit.record('encryption.master_key_rotated', { via: 'cli' });
        process.stdout.write(`Master key rotated: the new master key is ${r.newMasterKeyId}.\n` +
          `${r.rewrapped} user keys re-wrapped (${r.users} users); no file content was rewritten.\n` +
          'Make a new key backup (./occ encryption:backup-keys FILE): older backups hold the old master key.\n');
      });
    });

  program
    .command('encryption:backup-keys')
    .description(`write a password-protected archive of all encryption keys (password from $${PASSWORD_ENV} or a prompt)`)
    .argument('<file>', 'archive to write')
    .action(async (file: string) => {
      await withApp(async (app) => {
        const pw = await backupPassword(true);
        const r = await app.encryption.backupKeys(resolve(file), pw);
        await app.audit.record('encryption.keys_backed_up', { via: 'cli' });
        process.stdout.write(`Backed up ${r.files} key files to ${resolve(file)}.\n` +
          'Keep the archive and its password apart from the server. With the config file\'s "secret" they recover every encrypted file.\n');
      });
    });

  program
    .command('encryption:restore-keys')
    .description(`restore the encryption keys from an archive made by backup-keys (password from $${PASSWORD_ENV} or a prompt)`)
    .argument('<file>', 'archive to read')
    .action(async (file: string, _flags: unknown, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      const path = resolve(file);
      if (!existsSync(path)) throw new CliError(`${path} does not exist`, EXIT.NOT_FOUND);
      await withApp(async (app) => {
        const root = await app.encryption.keyStorageRoot();
        if (!noInteraction && !(await confirm(`Restore the keys of ${path} into ${root}? Key files with the same names are replaced.`, { noInteraction: false, defaultYes: false }))) {
          throw new CliError('aborted; nothing was changed', EXIT.REFUSED);
        }
        const pw = await backupPassword(false);
        const r = await app.encryption.restoreKeys(path, pw);
        await app.audit.record('encryption.keys_restored', { via: 'cli' });
        process.stdout.write(`Restored ${r.files} key files into ${root}.\n`);
      });
    });
}
