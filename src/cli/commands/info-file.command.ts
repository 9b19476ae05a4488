import type { Command } from 'commander';
import { CliError, EXIT, cliOptions, outputOption, printData, withApp } from '../cli-support.ts';
import { hasLocalPaths, PLAIN_CODEC } from '../../storage/blob-store.ts';
import { normalizePath } from '../../files/paths.ts';
import type { FileNode } from '../../files/types.ts';

/** `USER/files/PATH` (leading slash optional) → uid and path relative to the user's root. */
export function parseFileArg(arg: string): { uid: string; path: string } {
  const m = /^\/?([^/]+)\/files(?:\/(.*))?$/.exec(arg);
  if (!m) throw new CliError(`expected USER/files/PATH or a file id, got "${arg}"`, EXIT.USAGE);
  return { uid: m[1]!, path: normalizePath((m[2] ?? '').replace(/\/+$/, '')) };
}

/** `./occ info:file USER/files/PATH | FILEID`. */
export function register(program: Command): void {
  program
    .command('info:file')
    .description('show what Coffer knows about a file or folder')
    .argument('<file>', 'USER/files/PATH or a numeric file id')
    .addOption(outputOption())
    .action(async (arg: string, _flags: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      const info = await withApp(async (app) => {
        let node: FileNode;
        if (/^\d+$/.test(arg)) {
          node = await app.files.getById(Number(arg));
        } else {
          const { uid, path } = parseFileArg(arg);
          node = await app.files.stat(uid, path);
        }
        const codec = node.blobCodec;
        return {
          fileid: node.fileId,
          path: `/${node.owner}/files${node.path === '' ? '' : '/' + node.path}`,
          name: node.name,
          type: node.kind === 'dir' ? 'folder' : 'file',
          owner: node.owner,
          size: node.size,
          mtime: node.mtime,
          etag: node.etag,
          mimetype: node.mimetype,
          checksum: node.checksum,
          encrypted: node.kind === 'file' && codec !== null && codec !== PLAIN_CODEC,
          codec,
          blobId: node.blobId,
          blobPath: node.blobId && hasLocalPaths(app.rawBlobs) ? app.rawBlobs.pathOf(node.blobId) : null,
        };
      });
      printData(info, output);
    });
}
