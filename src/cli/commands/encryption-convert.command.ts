import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { ConflictError, NotFoundError } from '../../errors.ts';
import type { ConvertProgress, ConvertSummary, ConvertTarget } from '../../encryption/bulk-conversion/bulk-convert.ts';
import { occFileName } from '../../encryption/bulk-conversion/integrity-verifier.ts';
import { CliError, EXIT, cliOptions, confirm, withApp } from '../cli-support.ts';
import { BACKUP_WARNING, bulkConverter } from './encryption-status.command.ts';

const MiB = 1024 * 1024;

/** `12.3 MiB` style sizes. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < MiB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024 / MiB).toFixed(2)} GiB`;
}

function rate(bytes: number, ms: number): string {
  return ms <= 0 ? '0.0' : (bytes / MiB / (ms / 1000)).toFixed(1);
}

/** A progress display on stderr: a cli-progress bar on a terminal, else a line every second. */
export interface Progress {
  update(p: { done: number; total: number; bytesDone: number; elapsedMs: number }): void;
  stop(): void;
}

/** Progress on stderr for `label` (e.g. "encrypt-all"). */
export function createProgress(label: string, total: number): Progress {
  if (process.stderr.isTTY) {
    // Loaded only for a terminal: every other ./occ start skips it.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
    const bar = new cliProgress.SingleBar({
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} files | {mib} MiB | {speed} MiB/s | ETA {eta_formatted}`,
      hideCursor: true,
      fps: 5,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { mib: '0.0', speed: '0.0' });
    return {
      update(p) {
        if (p.total !== bar.getTotal()) bar.setTotal(p.total);
        bar.update(p.done, { mib: (p.bytesDone / MiB).toFixed(1), speed: rate(p.bytesDone, p.elapsedMs) });
      },
      stop() { bar.stop(); },
    };
  }
  let last = 0;
  let lastLine = '';
  const line = (p: { done: number; total: number; bytesDone: number; elapsedMs: number }) => {
    const pct = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
    return `${label}: ${p.done}/${p.total} files (${pct}%), ${(p.bytesDone / MiB).toFixed(1)} MiB, ${rate(p.bytesDone, p.elapsedMs)} MiB/s\n`;
  };
  let latest: Parameters<Progress['update']>[0] | undefined;
  return {
    update(p) {
      latest = p;
      const now = Date.now();
      if (now - last >= 1000) {
        last = now;
        lastLine = line(p);
        process.stderr.write(lastLine);
      }
    },
    stop() {
      if (latest && line(latest) !== lastLine) process.stderr.write(line(latest));
    },
  };
}

function warningText(target: ConvertTarget, files: number, bytes: number, owner: string | undefined): string {
  const what = owner ? `the files of user "${owner}"` : 'all files stored in this Coffer instance';
  const size = `${files} files, ${formatBytes(bytes)}`;
  if (target === 'encrypt') {
    return `You are about to encrypt ${what} (${size}) with the Default encryption module (master key).\n` +
      'Depending on the number and size of the files this may take some time; progress and MiB/s are shown.\n' +
      'Users can keep working meanwhile: the server may keep running and no maintenance mode is needed.\n' +
      'If the command is interrupted or killed, run it again: it continues where it stopped, and no file is left half-encrypted.\n' +
      'Back up the keys first (./occ encryption:backup-keys FILE) and keep the config file\'s "secret": without the keys\n' +
      'and the secret, encrypted files cannot be recovered. Encrypted files take 16 bytes more per 64 KiB (+140 bytes).\n';
  }
  return `You are about to decrypt ${what} (${size}). They will be stored unencrypted on disk afterwards.\n` +
    (owner
      ? 'Server-side encryption stays enabled for new files.\n'
      : 'Server-side encryption is disabled for new files first (as Nextcloud does), so that nothing new gets encrypted meanwhile.\n') +
    'Depending on the number and size of the files this may take some time; progress and MiB/s are shown.\n' +
    'The server may keep running; if the command is interrupted or killed, run it again to continue.\n';
}

function summaryText(s: ConvertSummary): string {
  const verb = s.target === 'encrypt' ? 'Encrypted' : 'Decrypted';
  const secs = Math.max(s.seconds, 0.001);
  let out = `${verb} ${s.converted} files (${formatBytes(s.bytes)}) in ${s.seconds.toFixed(1)} s: ` +
    `${(s.bytes / MiB / secs).toFixed(1)} MiB/s, ${(s.converted / secs).toFixed(1)} files/s.\n`;
  if (s.history.versions + s.history.trash > 0) {
    out += `Of these, ${s.history.versions} were kept versions and ${s.history.trash} files in the trash bin.\n`;
  }
  if (s.skipped > 0) out += `${s.skipped} files changed or were deleted during the run and were skipped (new versions are written in the current mode).\n`;
  return out;
}

async function runConvert(target: ConvertTarget, owner: string | undefined, cmd: Command, concurrency: number): Promise<void> {
  const { noInteraction } = cliOptions(cmd);
  await withApp(async (app) => {
    const st = await app.encryption.status();
    if (owner && !(await app.users.exists(owner))) throw new NotFoundError(`user "${owner}" does not exist`);
    const conv = bulkConverter(app);
    if (target === 'encrypt') {
      if (!st.appEnabled) throw new ConflictError('the Default encryption module is not enabled: run ./occ app:enable encryption, then ./occ encryption:enable');
      if (!st.enabled) throw new ConflictError('server-side encryption is not enabled: run ./occ encryption:enable first');
    } else if (!st.masterKeyPresent) {
      throw new ConflictError('server-side encryption was never enabled on this instance: there is nothing to decrypt');
    }
    const todo = await conv.pending(target, owner);
    if (todo.files > 0) {
      process.stdout.write(warningText(target, todo.files, todo.bytes, owner));
      if (target === 'encrypt' && st.keysBackedUpAt === null) process.stdout.write(BACKUP_WARNING);
      if (!noInteraction && !(await confirm('Continue?', { noInteraction: false, defaultYes: false }))) {
        throw new CliError('aborted; nothing was changed', EXIT.REFUSED);
      }
    }
    await app.audit.record(target === 'encrypt' ? 'encryption.encrypt_all' : 'encryption.decrypt_all', { via: 'cli', ...(owner ? { user: owner } : {}), files: todo.files });
    if (target === 'decrypt' && !owner && st.enabled) {
      await app.encryption.disable({ force: true });
      process.stdout.write('Server-side encryption disabled for new files.\n');
    }
    if (todo.files === 0) process.stdout.write(target === 'encrypt' ? 'Every file is already encrypted.\n' : 'No encrypted files to decrypt.\n');

    let stop = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stop) process.exit(130);
      stop = true;
      process.stderr.write(`\n${sig}: finishing the files in progress, then stopping (run the command again to continue; ${sig} again to quit now)\n`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const progress = todo.files > 0 ? createProgress(`${target}-all`, todo.files) : undefined;
    let summary: ConvertSummary;
    try {
      summary = await conv.run({
        target, owner, concurrency,
        onProgress: (p: ConvertProgress) => progress?.update(p),
        onStart: ({ recovered }) => {
          if (recovered > 0) process.stdout.write(`Cleaned up ${recovered} conversions left unfinished by an interrupted earlier run (no file was affected).\n`);
        },
        shouldStop: () => stop,
      });
    } finally {
      progress?.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    process.stdout.write(summaryText(summary));
    // the previews of the replaced versions (made in the old form) go now, not at the next cleanup
    await app.previews.purgeOrphans();
    if (target === 'decrypt') {
      process.stdout.write(owner
        ? `Server-side encryption ${st.enabled ? 'stays enabled' : 'stays disabled'} for new files.\n`
        : 'Server-side encryption is disabled: new files are stored unencrypted (./occ encryption:enable turns it on again).\n');
    }
    if (summary.interrupted) throw new CliError('interrupted: run the command again to convert the remaining files', 130);
    if (summary.failed.length > 0) {
      for (const f of summary.failed) {
        process.stderr.write(`${occFileName(f.owner, f.path)}: ${f.reason}\n`);
        if (f.integrity) {
          await app.audit.record('integrity.failure', { uid: f.owner, path: occFileName(f.owner, f.path), fileid: f.fileid, source: `encryption:${target}-all`, message: f.reason }).catch(() => {});
        }
      }
      const integrity = summary.failed.some((f) => f.integrity);
      throw new CliError(`${summary.failed.length} files could not be ${target}ed and were left as they are (see above; ./occ encryption:verify checks every file)`, integrity ? EXIT.INTEGRITY : EXIT.FAILURE);
    }
  });
}

function parseConcurrency(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new CliError('--jobs must be an integer from 1 to 64', EXIT.USAGE);
  return n;
}

/**
 * Files converted at a time. Most files are small, and each waits for its fsync on the thread pool
 * (4 threads): 8 in flight keep both the pool and the main thread busy (measured 4 → 8: about a
 * fifth faster on 1,000 mixed files; more than 8 gained nothing).
 */
const DEFAULT_JOBS = 8;

/** `encryption:encrypt-all`, `encryption:decrypt-all [USER]`. */
export function register(program: Command): void {
  program
    .command('encryption:encrypt-all')
    .description('encrypt every file not yet encrypted (parallel, resumable, works while the server runs)')
    .option('-j, --jobs <n>', 'concurrent conversions', parseConcurrency, DEFAULT_JOBS)
    .action(async (flags: { jobs: number }, cmd: Command) => {
      await runConvert('encrypt', undefined, cmd, flags.jobs);
    });

  program
    .command('encryption:decrypt-all')
    .description('decrypt every encrypted file (or those of USER), then disable encryption for new files')
    .argument('[user]', 'only this user\'s files (encryption then stays enabled)')
    .option('-j, --jobs <n>', 'concurrent conversions', parseConcurrency, DEFAULT_JOBS)
    .action(async (user: string | undefined, flags: { jobs: number }, cmd: Command) => {
      await runConvert('decrypt', user || undefined, cmd, flags.jobs);
    });
}
