import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AlreadyExistsError, NotFoundError } from '../../errors.ts';
import { decryptBlobFile } from '../../encryption/offline-decrypt.ts';
import { CliError, EXIT, loadInstalledConfig } from '../cli-support.ts';

/**
 * `encryption:decrypt-blob BLOBFILE --out FILE`: decrypts one stored blob with the key storage and
 * the config secret alone. Never opens the database (recovery when it is lost).
 */
export function register(program: Command): void {
  program
    .command('encryption:decrypt-blob')
    .description('decrypt one stored blob with the keys and the config secret alone, without the database')
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
      const r = await decryptBlobFile({
        blobFile, outFile: out, keysRoot: resolve(flags.keysRoot ?? config.datadirectory),
        secret: config.secret, instanceId: config.instanceid, expectFileId,
      });
      process.stdout.write(`Decrypted ${r.bytes} bytes of file id ${r.fileId} to ${out} (authenticated; no database used).\n`);
    });
}
