import type { Command } from 'commander';
import { CliError, EXIT, loadInstalledConfig } from '../cli-support.ts';
import { createLogger } from '../../logger.ts';
import { parsePort } from './maintenance-install.command.ts';

export interface RunServerOptions {
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  /** How long in-flight requests may finish after SIGTERM/SIGINT (default 5 s). */
  graceMs?: number;
}

/**
 * Opens the App, serves until SIGTERM or SIGINT, then closes gracefully: stops accepting, lets
 * in-flight requests finish (up to `graceMs`), closes the database, and resolves. Prints
 * `Coffer is listening on <url>` on stdout once bound. Runs in this process (no child), so
 * SIGKILL kills the server.
 * @throws ConfigError when not installed; CliError when the address cannot be bound.
 */
export async function runServer(opts: RunServerOptions): Promise<void> {
  if (!!opts.tlsCert !== !!opts.tlsKey) throw new CliError('--tls-cert and --tls-key go together', EXIT.USAGE);
  const config = loadInstalledConfig();
  const log = createLogger(config.loglevel);
  const [{ openApp }, { startServer }] = await Promise.all([import('../../app.ts'), import('../../http/server.ts')]);
  const app = await openApp(config, { logger: log });
  let running;
  try {
    running = await startServer(app, { host: opts.host, port: opts.port, tlsCert: opts.tlsCert, tlsKey: opts.tlsKey });
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`cannot listen on ${opts.host}:${opts.port}: address already in use`, EXIT.FAILURE, { cause: err });
    if (code === 'EACCES') throw new CliError(`cannot listen on ${opts.host}:${opts.port}: permission denied`, EXIT.FAILURE, { cause: err });
    if (code === 'ENOENT') throw new CliError(`cannot read TLS file: ${(err as Error).message}`, EXIT.USAGE, { cause: err });
    throw err;
  }
  // Cleanup of orphaned blobs, stale uploads and expired locks; a database lease makes it run
  // in one process at a time when several serve the same instance.
  const { startBackgroundJobs } = await import('../../jobs/background-jobs.ts');
  const jobs = startBackgroundJobs(app);
  // Handlers first, announcement second: a supervisor that reads the line may signal at once,
  // and a signal before the handler exists would kill the process without a graceful close.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      // a second signal while shutting down ends the process at once
      const hard = () => process.exit(1);
      process.once('SIGTERM', hard);
      process.once('SIGINT', hard);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
  log.info({ url: running.url }, 'Coffer is listening');
  process.stdout.write(`Coffer is listening on ${running.url}\n`);
  const signal = await stopSignal;
  log.info({ signal }, 'shutting down');
  const graceMs = opts.graceMs ?? 5000;
  // should closing hang (a stuck database), leave anyway
  const watchdog = setTimeout(() => { log.error('shutdown timed out'); process.exit(1); }, graceMs + 5000);
  watchdog.unref();
  await running.close(graceMs);
  await jobs.stop();
  await app.close();
  clearTimeout(watchdog);
  log.info('stopped');
}

/** `./occ serve`. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP(S) server until SIGTERM/SIGINT (graceful shutdown, exit 0)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to bind (0: any free port)', parsePort, 8080)
    .option('--tls-cert <file>', 'TLS certificate chain (PEM); serves HTTPS with --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .addHelpText('after', '\nPrints "Coffer is listening on <url>" on stdout once bound; logs go to stderr.')
    .action(async (flags: { host: string; port: number; tlsCert?: string; tlsKey?: string }) => {
      await runServer(flags);
    });
}
