/**
 * `./occ serve --workers N` as a real process tree for tests: the primary and its workers on one
 * port, logging JSON lines on stderr, from which the requests each worker served are read back.
 */
import { OCC, spawnServer, type Served } from '../cli/occ-harness.ts';

export interface ServedRequest {
  /** The worker process that answered. */
  pid: number;
  reqId: string;
  method: string;
  /** Path as logged (secrets redacted). */
  url: string;
  status: number;
}

export interface WorkersServer {
  readonly served: Served;
  readonly url: string;
  /** Requests answered so far (from the workers' request log lines). */
  requests(): ServedRequest[];
  /** Worker pids the primary reported listening, in order (a replaced worker adds its successor). */
  workerPids(): number[];
  /** Log lines of the whole tree, parsed. */
  logLines(): Record<string, unknown>[];
  /** SIGTERM to the primary; resolves with its exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function parseLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try { out.push(JSON.parse(line) as Record<string, unknown>); } catch { /* a partial last line */ }
  }
  return out;
}

/**
 * Starts `./occ serve --port 0 --workers N` on the config at `configPath` (whose loglevel must be
 * info or lower for requests() and workerPids()).
 * @throws when the server does not announce itself
 */
export async function startWorkers(configPath: string, workers: number, env: NodeJS.ProcessEnv = {}): Promise<WorkersServer> {
  const served = await spawnServer(OCC, ['serve', '--port', '0', '--workers', String(workers)], { COFFER_CONFIG: configPath, ...env }, { timeoutMs: 120_000 });
  const logLines = () => parseLines(served.stderr());
  return {
    served, url: served.url, logLines,
    requests: () => logLines().filter((l) => l.msg === 'request').map((l) => ({
      pid: l.pid as number, reqId: l.reqId as string, method: l.method as string, url: l.path as string, status: l.status as number,
    })),
    workerPids: () => logLines().filter((l) => l.msg === 'worker listening').map((l) => l.workerPid as number),
    async stop() {
      if (served.child.exitCode === null && served.child.signalCode === null) served.child.kill('SIGTERM');
      return served.exited;
    },
  };
}
