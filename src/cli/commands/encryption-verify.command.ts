import type { Command } from 'commander';
import { NotFoundError } from '../../errors.ts';
import { IntegrityVerifier } from '../../encryption/bulk-conversion/integrity-verifier.ts';
import { CliError, EXIT, cliOptions, outputOption, printData, withApp } from '../cli-support.ts';
import { createProgress, formatBytes } from './encryption-convert.command.ts';
import { bulkConverter } from './encryption-status.command.ts';
import { NodeFileRows } from '../../files/node-file-rows.ts';

/** `encryption:verify [USER]`: reads every file fully; exit 7 when any is damaged. */
export function register(program: Command): void {
  program
    .command('encryption:verify')
    .description('read (and authenticate) every file; name each damaged one; exit 7 if any is damaged')
    .argument('[user]', 'only this user\'s files')
    .addOption(outputOption())
    .option('-j, --jobs <n>', 'concurrent reads', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new CliError('--jobs must be an integer from 1 to 64', EXIT.USAGE);
      return n;
    }, 4)
    .action(async (user: string | undefined, flags: { jobs: number }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        if (user && !(await app.users.exists(user))) throw new NotFoundError(`user "${user}" does not exist`);
        const conv = bulkConverter(app);
        const total = (await conv.pending('encrypt', user)).files + (await conv.pending('decrypt', user)).files;
        const progress = total > 0 ? createProgress('verify', total) : undefined;
        let report;
        try {
          report = await new IntegrityVerifier({ encryption: app.encryption, audit: app.audit, rows: new NodeFileRows(app.db) }).verify({
            owner: user, concurrency: flags.jobs,
            onProgress: (p) => progress?.update({ done: p.done, total: Math.max(total, p.done), bytesDone: p.bytes, elapsedMs: p.elapsedMs }),
          });
        } finally {
          progress?.stop();
        }
        if (output === 'plain') {
          for (const d of report.damaged) process.stdout.write(`${d.file}: ${d.reason}\n`);
          process.stdout.write(`Verified ${report.checked} files (${report.encrypted} encrypted, ${report.plain} plain, ${formatBytes(report.bytes)} read) in ${report.seconds.toFixed(1)} s: ` +
            (report.damaged.length === 0 ? 'no damage found.\n' : `${report.damaged.length} damaged (recorded in the audit log).\n`));
        } else {
          printData({
            checked: report.checked, encrypted: report.encrypted, plain: report.plain, bytes: report.bytes, seconds: report.seconds,
            damaged: report.damaged.map((d) => ({ file: d.file, fileid: d.fileid, owner: d.owner, path: d.path, encrypted: d.encrypted, reason: d.reason })),
          }, output);
        }
        if (report.damaged.length > 0) {
          throw new CliError(`${report.damaged.length} damaged files; restore them from a backup (the damage was detected, never served)`, EXIT.INTEGRITY);
        }
      });
    });
}
