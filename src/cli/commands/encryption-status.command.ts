import type { Command } from 'commander';
import type { App } from '../../app.ts';
import { BulkConverter } from '../../encryption/bulk-conversion/bulk-convert.ts';
import { EncryptedBlobStore } from '../../encryption/encrypted-blob-store.ts';
import { CliError, EXIT, cliOptions, outputOption, printData, withApp } from '../cli-support.ts';
import { NodeFileRows } from '../../files/node-file-rows.ts';

/** The encryption decorator of an App. @throws CliError when the App has none. */
export function encryptedStore(app: App): EncryptedBlobStore {
  if (!(app.blobs instanceof EncryptedBlobStore)) throw new CliError('this instance has no encryption layer', EXIT.FAILURE);
  return app.blobs;
}

/** The bulk converter (encrypt-all / decrypt-all) of an App. */
export function bulkConverter(app: App): BulkConverter {
  return new BulkConverter({ rows: new NodeFileRows(app.db), encryption: app.encryption, blobs: encryptedStore(app), rawBlobs: app.rawBlobs, workDir: app.config.datadirectory });
}

export const BACKUP_WARNING =
  'Warning: the encryption keys have not been backed up yet. Run ./occ encryption:backup-keys FILE and keep the\n' +
  'archive and the config file (its "secret") safe: without the keys and the secret, encrypted files cannot be recovered.\n';

/** Prints the "keys not backed up" warning on stderr when it applies. */
export async function warnIfNoBackup(app: App): Promise<void> {
  const st = await app.encryption.status();
  if (st.masterKeyPresent && st.keysBackedUpAt === null) process.stderr.write(BACKUP_WARNING);
}

/**
 * `encryption:status`, `encryption:enable`, `encryption:disable`, `encryption:list-modules`,
 * `encryption:set-default-module`.
 */
export function register(program: Command): void {
  program
    .command('encryption:status')
    .description('show whether server-side encryption is enabled, and the state of the keys')
    .addOption(outputOption())
    .action(async (_flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const st = await app.encryption.status();
        const conv = bulkConverter(app);
        const plain = await conv.pending('encrypt');
        const enc = await conv.pending('decrypt');
        const perUser = await app.userKeys.perUserMode();
        printData({
          enabled: st.enabled,
          defaultModule: st.defaultModule,
          appEnabled: st.appEnabled,
          // Nextcloud's useMasterKey switch (encryption:disable-master-key / enable-master-key)
          mode: perUser ? 'per-user-keys' : 'masterkey',
          masterKeyPresent: st.masterKeyPresent,
          keyStorageRoot: st.keyStorageRoot,
          keysBackedUp: st.keysBackedUpAt !== null,
          keysBackedUpAt: st.keysBackedUpAt === null ? null : new Date(st.keysBackedUpAt * 1000).toISOString(),
          encryptedFiles: enc.files,
          plainFiles: plain.files,
        }, output);
        if (st.masterKeyPresent && st.keysBackedUpAt === null) process.stderr.write(BACKUP_WARNING);
        if (st.enabled && plain.files > 0 && output === 'plain') {
          process.stderr.write(`Note: ${plain.files} files written before encryption was enabled are not encrypted; run ./occ encryption:encrypt-all to encrypt them.\n`);
        }
      });
    });

  program
    .command('encryption:enable')
    .description('enable server-side encryption (the "encryption" app must be enabled first)')
    .action(async () => {
      await withApp(async (app) => {
        const before = await app.encryption.status();
        if (before.enabled) {
          process.stdout.write('Encryption is already enabled\n');
        } else {
          await app.encryption.enable();
          await app.audit.record('encryption.enabled', { via: 'cli' });
          process.stdout.write(`Encryption enabled\n\nDefault module: OC_DEFAULT_MODULE (${(await app.userKeys.perUserMode()) ? 'per-user keys' : 'master key'})\n`);
        }
        const plain = await bulkConverter(app).pending('encrypt');
        process.stdout.write(
          'Only files written from now on are encrypted; files stored before stay as they are and readable.\n' +
          (plain.files > 0 ? `${plain.files} existing files are not encrypted: run ./occ encryption:encrypt-all to encrypt them.\n` : ''),
        );
        await warnIfNoBackup(app);
      });
    });

  program
    .command('encryption:disable')
    .description('disable server-side encryption for new files (refused while encrypted files exist, unless --force)')
    .option('-f, --force', 'disable even though encrypted files exist (they stay readable)')
    .action(async (flags: { force?: boolean }) => {
      await withApp(async (app) => {
        const st = await app.encryption.status();
        const n = await app.encryption.countEncrypted();
        if (!st.enabled) {
          process.stdout.write('Encryption is already disabled\n');
          if (n > 0) process.stdout.write(`${n} files are still encrypted (and readable); run ./occ encryption:decrypt-all to decrypt them.\n`);
          return;
        }
        if (n > 0 && !flags.force) {
          throw new CliError(`${n} files are still encrypted. Run ./occ encryption:decrypt-all first (it decrypts them and then disables encryption), or use --force to disable encryption for new files only (encrypted files stay readable).`, EXIT.REFUSED);
        }
        await app.encryption.disable({ force: flags.force });
        await app.audit.record('encryption.disabled', { via: 'cli', force: Boolean(flags.force) });
        process.stdout.write('Encryption disabled\n');
        if (n > 0) process.stdout.write(`New files are stored unencrypted; ${n} files stay encrypted and readable. Run ./occ encryption:decrypt-all to decrypt them.\n`);
      });
    });

  program
    .command('encryption:list-modules')
    .description('list the encryption modules')
    .addOption(outputOption())
    .action(async (_flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const mods = app.encryption.listModules();
        const data: Record<string, unknown> = {};
        for (const m of mods) {
          data[m.id] = output === 'plain' ? `${m.displayName}${m.isDefault ? ' [default*]' : ''}` : { displayName: m.displayName, default: m.isDefault };
        }
        printData(data, output);
      });
    });

  program
    .command('encryption:set-default-module')
    .description('set the default encryption module')
    .argument('<module-id>', 'module id (OC_DEFAULT_MODULE)')
    .action(async (id: string) => {
      await withApp(async (app) => {
        const cur = app.encryption.listModules().find((m) => m.isDefault);
        if (cur?.id === id) {
          process.stdout.write(`"${id}" is already the default module\n`);
          return;
        }
        await app.encryption.setDefaultModule(id);
        process.stdout.write(`Set default module to "${id}"\n`);
      });
    });
}
