import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { cliOptions, outputOption, printData, withApp } from '../cli-support.ts';
import { DEFAULT_BLOB_GRACE_SECONDS, GarbageCollector } from '../../files/garbage-collector.ts';
import { STALE_UPLOAD_SECONDS } from '../../files/upload-service.ts';

/**
 * `./occ files:cleanup [--grace-seconds N] [--upload-max-age N] [--dry-run] [--output=json]`:
 * removes orphaned blobs (no `nodes`/`upload_chunks` row, older than the grace period), temp files
 * of interrupted writes, chunked uploads idle for 24 h and expired locks. Safe while serving.
 */
export function register(program: Command): void {
  program
    .command('files:cleanup')
    .description('remove orphaned blobs, stale temp files, stale chunked uploads and expired locks')
    .addOption(new Option('--grace-seconds <n>', 'keep orphaned blobs and temp files younger than this').argParser(nonNegative).default(DEFAULT_BLOB_GRACE_SECONDS))
    .addOption(new Option('--upload-max-age <n>', 'remove chunked uploads idle for this many seconds').argParser(nonNegative).default(STALE_UPLOAD_SECONDS))
    .option('--dry-run', 'only count orphaned blobs and temp files, delete nothing')
    .addOption(outputOption())
    .action(async (flags: { graceSeconds: number; uploadMaxAge: number; dryRun?: boolean }, cmd: Command) => {
      const { output } = cliOptions(cmd);
      await withApp(async (app) => {
        const gc = new GarbageCollector({ db: app.db, rawBlobs: app.rawBlobs, uploads: app.uploads, locks: app.locks, sessions: app.sessions, log: app.log });
        const report = await gc.run({ graceSeconds: flags.graceSeconds, uploadMaxAgeSeconds: flags.uploadMaxAge, dryRun: !!flags.dryRun });
        if (!flags.dryRun) await app.audit.record('files.cleanup', { via: 'cli', ...report });
        if (output === 'plain') {
          process.stdout.write(`${flags.dryRun ? 'Would remove' : 'Removed'} ${report.orphanedBlobs} orphaned blob(s) of ${report.blobsScanned}, `
            + `${report.tempFiles} temp file(s), ${report.staleUploads} stale upload(s), ${report.expiredLocks} expired lock(s), ${report.endedSessions} expired session(s)\n`);
        } else {
          printData(report, output);
        }
      });
    });
}

function nonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a non-negative integer: ${v}`);
  return n;
}
