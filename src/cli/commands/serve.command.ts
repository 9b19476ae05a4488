import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { CliError, EXIT, loadInstalledConfig } from '../cli-support.ts';
import { createLogger } from '../../logger.ts';
import { parsePort } from './maintenance-install.command.ts';
import { isStopMessage } from '../../cluster/worker-messages.ts';

export interface RunServerOptions {
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  /** How long in-flight requests may finish after SIGTERM/SIGINT (default 5 s). */
  graceMs?: number;
  /** Server processes behind the one port (default: the number of cores; 1 = this process alone). */
  workers?: number;
}

/**
 * The default of `--workers`: $COFFER_WORKERS when set (1 in the test harness, whose servers are
 * single processes unless a test asks for more), else one per core the process may use.
 * @throws InvalidArgumentError when COFFER_WORKERS is not a number of processes
 */
export function defaultWorkers(): number {
  const v = process.env.COFFER_WORKERS;
  return v ? parseWorkers(v) : availableParallelism();
}

/**
 * `--workers`: a whole number from 1 to 1024.
 * @throws InvalidArgumentError (commander: usage error, exit 2) otherwise
 */
export function parseWorkers(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1024) throw new InvalidArgumentError('not a number of processes (1-1024)');
  return Number(v);
}

/**
 * Serves until SIGTERM or SIGINT, then closes gracefully and resolves. With `workers` 1, this
 * process serves: opens the App, stops accepting on the signal, lets in-flight requests finish
 * (up to `graceMs`), closes the database; SIGKILL kills the server. With more, this process is
 * the primary (src/cluster/serve-primary.ts) and N forked workers (which re-run this same command)
 * serve; SIGKILL of the primary ends the workers with it (node:cluster). Prints
 * `Coffer is listening on <url>` on stdout once bound (all workers).
 * @throws ConfigError when not installed; CliError when the address cannot be bound.
 */
export async function runServer(opts: RunServerOptions): Promise<void> {
  if (!!opts.tlsCert !== !!opts.tlsKey) throw new CliError('--tls-cert and --tls-key go together', EXIT.USAGE);
  const config = loadInstalledConfig();
  const log = createLogger(config.loglevel);
  const workers = opts.workers ?? defaultWorkers();
  if (cluster.isPrimary && workers > 1) {
    const { runPrimary } = await import('../../cluster/serve-primary.ts');
    const code = await runPrimary({ config, log, workers, graceMs: opts.graceMs ?? 5000 });
    if (code !== 0) process.exitCode = code;
    return;
  }
  const worker = cluster.isWorker;
  const [{ openApp }, { startServer }] = await Promise.all([import('../../app.ts'), import('../../http/server.ts')]);
  // A worker: the primary migrated already; Login Flow v2 flows live in the primary (without Redis).
  const shared = worker ? await workerSharedState() : {};
  const app = await openApp(config, { logger: log, ...shared, migrate: !worker });
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
  // in one process at a time when several serve the same instance (workers included).
  const { startBackgroundJobs } = await import('../../jobs/background-jobs.ts');
  const jobs = startBackgroundJobs(app);
  // Handlers first, announcement second: a supervisor that reads the line may signal at once,
  // and a signal before the handler exists would kill the process without a graceful close.
  const stopSignal = new Promise<NodeJS.Signals | 'primary'>((resolve) => {
    const on = (s: NodeJS.Signals | 'primary') => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      process.off('message', onMessage);
      // a second signal while shutting down ends the process at once
      const hard = () => process.exit(1);
      process.once('SIGTERM', hard);
      process.once('SIGINT', hard);
      resolve(s);
    };
    // A worker drains on its primary's word too (its own SIGTERM, from a process-group kill, does the same).
    const onMessage = (m: unknown) => { if (isStopMessage(m)) on('primary'); };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
    if (worker) process.on('message', onMessage);
  });
  if (worker) {
    process.send!({ coffer: 'worker', type: 'ready', url: running.url });
  } else {
    log.info({ url: running.url }, 'Coffer is listening');
    process.stdout.write(`Coffer is listening on ${running.url}\n`);
  }
  const signal = await stopSignal;
  if (worker && signal !== 'primary' && process.connected) process.send!({ coffer: 'worker', type: 'stopping' });
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
  // A worker's IPC channel would keep it alive.
  if (worker) process.disconnect?.();
}

/** What a serve worker shares with its siblings through the primary (see serve-primary.ts). */
async function workerSharedState() {
  const [{ RpcClient }, { IpcLoginFlowStore }, { IpcChangeBus }] = await Promise.all([
    import('../../cluster/cluster-rpc.ts'), import('../../cluster/ipc-login-flow-store.ts'), import('../../cluster/ipc-change-bus.ts'),
  ]);
  return { loginFlowStore: new IpcLoginFlowStore(new RpcClient()), changeBus: new IpcChangeBus() };
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
    .option('--workers <n>', `server processes behind the port (default: $COFFER_WORKERS, else the number of cores, here ${availableParallelism()}; 1: one process, no primary)`, parseWorkers)
    .addHelpText('after', '\nPrints "Coffer is listening on <url>" on stdout once bound; logs go to stderr.')
    .action(async (flags: { host: string; port: number; tlsCert?: string; tlsKey?: string; workers?: number }) => {
      await runServer(flags);
    });
}
