import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/config.ts';
import { migrateToLatest, openDatabase } from '../db/database.ts';
import { RowSeal } from '../encryption/row-seal.ts';
import { MemoryLoginFlowStore } from '../auth/memory-login-flow-store.ts';
import type { Logger } from '../logger.ts';
import { serveRpc } from './cluster-rpc.ts';
import { LOGIN_FLOW_SERVICE } from './ipc-login-flow-store.ts';
import type { PushEvent } from '../push/change-bus.ts';
import { isPushPublish, type PushRelayMessage } from './ipc-change-bus.ts';
import { isWorkerMessage, STOP_MESSAGE } from './worker-messages.ts';

export interface PrimaryOptions {
  config: Config;
  log: Logger;
  /** Number of worker processes (≥ 2; one process serves without a primary). */
  workers: number;
  /** How long in-flight requests may finish after SIGTERM/SIGINT. */
  graceMs: number;
}

/** Pause before replacing a worker that crashed, doubling per crash in the last minute, up to 5 s. */
const restartDelay = (recentCrashes: number): number => Math.min(5000, 100 * 2 ** Math.max(0, recentCrashes - 1));
/** A worker that stopped by itself (its own SIGTERM) is replaced after this, unless the primary is stopping by then. */
const CLEAN_EXIT_RESTART_MS = 1000;

/**
 * The primary of `./occ serve --workers N`: migrates the database once, forks N workers that each
 * run the whole server on the same port (one listening socket, accepted from by every worker), holds
 * what workers must share without Redis (Login Flow v2 flows, served over IPC; push events, relayed
 * from the worker that made a change to the others), replaces a worker
 * that dies, and on SIGTERM/SIGINT tells every worker to drain and waits for them. Prints
 * `Coffer is listening on <url>` once all N are listening. Every other piece of state is shared
 * through the database, the key storage and the data directory (README, "Several workers").
 * @returns the exit code: 0 after a graceful stop; a worker's code when the first start failed
 *   (bad config, address in use: the worker printed why); 1 when the drain timed out.
 * @throws database errors of the migration.
 */
export async function runPrimary(opts: PrimaryOptions): Promise<number> {
  const { log, config } = opts;
  // Once, before any worker opens the database: N processes migrating at once would race.
  const { db } = openDatabase(config.database);
  try { await migrateToLatest(db, { sealer: new RowSeal(config.secret, config.instanceid) }); } finally { await db.destroy(); }

  const loginFlows = new MemoryLoginFlowStore();
  const live = new Set<Worker>();
  const ready = new Set<Worker>();
  const leaving = new Set<Worker>();
  let everReady = false;
  let stopping = false;
  let crashes: number[] = [];

  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = resolve; });

  const fork = (): void => {
    // A replacement asks for the same address as its siblings did (`--port 0` included): the
    // primary hands it the socket they share, so it serves on the same port.
    const w = cluster.fork();
    live.add(w);
    serveRpc(w, { [LOGIN_FLOW_SERVICE]: loginFlows });
    w.on('message', (m: unknown) => {
      if (isPushPublish(m)) { relayPush(w, m.event); return; }
      if (!isWorkerMessage(m)) return;
      if (m.type === 'ready') {
        ready.add(w);
        // the stop was sent before this worker listened for it
        if (stopping) { w.send(STOP_MESSAGE); return; }
        log.info({ workerPid: w.process.pid, worker: w.id }, 'worker listening');
        if (!everReady && ready.size === opts.workers) {
          everReady = true;
          log.info({ url: m.url, workers: opts.workers }, 'Coffer is listening');
          process.stdout.write(`Coffer is listening on ${m.url}\n`);
        }
      } else if (m.type === 'stopping') {
        leaving.add(w);
      }
    });
    w.on('exit', (code, signal) => {
      live.delete(w);
      const wasReady = ready.delete(w);
      const left = leaving.delete(w);
      if (stopping) {
        if (live.size === 0) finish(0);
        return;
      }
      if (!everReady && !wasReady) {
        // The first start failed (the worker printed why): the others would fail alike.
        log.error({ workerPid: w.process.pid, code, signal }, 'a worker failed to start; stopping');
        stopAll('SIGTERM');
        finish(typeof code === 'number' && code !== 0 ? code : 1);
        return;
      }
      const now = Date.now();
      let delay = CLEAN_EXIT_RESTART_MS;
      if (!(left && code === 0)) {
        crashes = [...crashes.filter((t) => now - t < 60_000), now];
        delay = restartDelay(crashes.length);
        log.error({ workerPid: w.process.pid, code, signal, restartInMs: delay }, 'worker died; starting another');
      }
      setTimeout(() => { if (!stopping) fork(); }, delay).unref();
    });
  };

  // The sender delivered to its own clients already. A worker that is not connected (dying, or
  // not yet forked) misses the event: its clients reconnect and poll, as after any restart.
  const relayPush = (from: Worker, event: PushEvent): void => {
    for (const w of live) {
      if (w !== from && w.isConnected()) w.send({ coffer: 'push-relay', event } satisfies PushRelayMessage, undefined, () => {});
    }
  };

  const stopAll = (how: 'message' | 'SIGTERM' | 'SIGKILL'): void => {
    stopping = true;
    for (const w of live) {
      if (how === 'message' && w.isConnected()) w.send(STOP_MESSAGE);
      else w.process.kill(how === 'message' ? 'SIGTERM' : how);
    }
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // a second signal while draining ends everything at once
    const hard = () => { stopAll('SIGKILL'); process.exit(1); };
    process.once('SIGTERM', hard);
    process.once('SIGINT', hard);
    log.info({ signal, workers: live.size }, 'shutting down: draining the workers');
    stopAll('message');
    if (live.size === 0) finish(0);
    // should a worker hang, end it (its own watchdog fires at grace + 5 s)
    const watchdog = setTimeout(() => { log.error('workers did not stop in time'); stopAll('SIGKILL'); finish(1); }, opts.graceMs + 10_000);
    watchdog.unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // The kernel hands connections to whichever worker accepts first. Node's default on Linux
  // (round robin through the primary) loses a connection it was handing to a worker that dies at
  // that moment: the client waits forever. Here a dying worker takes only the connections it
  // had accepted; the others wait in the kernel's queue for the survivors. NODE_CLUSTER_SCHED_POLICY
  // (rr | none) still decides when set.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < opts.workers; i++) fork();
  const code = await done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  if (code === 0) log.info('stopped');
  return code;
}
