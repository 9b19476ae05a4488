import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AlreadyExistsError, NotFoundError } from '../../errors.ts';
import { decryptBlobFile } from '../../encryption/bulk-conversion/offline-decrypt.ts';
import { createKeyHolder } from '../../encryption/key-holders/key-holder.ts';
import { KeyManager } from '../../encryption/master-key/key-manager.ts';
import { KeyStore } from '../../keys/key-store.ts';
import { CliError, EXIT, loadInstalledConfig } from '../cli-support.ts';

/**
 * `encryption:decrypt-blob BLOBFILE --out FILE`: decrypts one stored blob with the key storage and
 * the config's key holder (the secret, or the PKCS#11 token it names: token + PIN needed then).
 * Never opens the database (recovery when it is lost).
 */
export function register(program: Command): void {
  program
    .command('encryption:decrypt-blob')
    .description('decrypt one stored blob with the keys and the configured key holder (config secret or PKCS#11 token), without the database')
    .argument('<blobfile>', 'path of the blob file (or a blob id under <datadirectory>/blobs)')
    .requiredOption('-o, --out <file>', 'where to write the plaintext (must not exist)')
    .option('--keys-root <dir>', 'key storage root (default: the data directory; give it when the keys were moved)')
    .option('--file-id <id>', 'expected file id (refuse a blob of another file)')
    .action(async (blobArg: string, flags: { out: string; keysRoot?: string; fileId?: string }) => {
      const config = loadInstalledConfig();
      let blobFile = resolve(blobArg);
      if (!existsSync(blobFile) && /^[0-9a-f]{32}$/.test(blobArg)) {
        blobFile = join(config.datadirectory, 'blobs', blobArg.slice(0, 2), blobArg.slice(2, 4), blobArg);
      }
      if (!existsSync(blobFile)) throw new NotFoundError(`blob file ${blobFile} does not exist`);
      const out = resolve(flags.out);
      if (existsSync(out)) throw new AlreadyExistsError(`${out} already exists; choose another --out`);
      let expectFileId: number | undefined;
      if (flags.fileId !== undefined) {
        expectFileId = Number(flags.fileId);
        if (!Number.isSafeInteger(expectFileId) || expectFileId < 0) throw new CliError('--file-id must be a non-negative integer', EXIT.USAGE);
      }
      // The configured key holder opens the master key: a missing token or a wrong PIN is refused here.
      const holder = await createKeyHolder(config);
      let r: { fileId: number; bytes: number };
      try {
        await holder.open();
        const keys = new KeyManager({ keyStore: new KeyStore(resolve(flags.keysRoot ?? config.datadirectory)), secret: config.secret, instanceId: config.instanceid, holder });
        r = await decryptBlobFile({ blobFile, outFile: out, keys, expectFileId });
      } finally {
        await holder.close();
      }
      process.stdout.write(`Decrypted ${r.bytes} bytes of file id ${r.fileId} to ${out} (authenticated; no database used).\n`);
    });
}
