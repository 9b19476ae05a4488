import type { App } from '../app.ts';
import { GarbageCollector, type CleanupReport } from '../files/garbage-collector.ts';
import { DbLease } from './db-lease.ts';
import { runMarked, runRetention } from '../versions/retention-run.ts';

export interface BackgroundJobsOptions {
  /** Minutes between cleanup runs (default 15). */
  intervalMinutes?: number;
  /** Delay before the first run, ms (default 30 s, so start-up is not slowed). */
  initialDelayMs?: number;
  /** Called after each run this process performed (tests, metrics). */
  onRun?: (report: CleanupReport) => void;
  /** Ms between prompt expiries of the users whose versions or trash just grew (default 5 s). */
  promptIntervalMs?: number;
  /** Seconds since the epoch that retention judges ages by (tests pass a controlled clock; default: now). */
  now?: () => number;
}

export interface BackgroundJobs {
  /** Runs the cleanup now if this process gets the lease; undefined when another process holds it. */
  runOnce(): Promise<CleanupReport | undefined>;
  /** Stops the timer and waits for a running pass to end (the lease simply expires). */
  stop(): Promise<void>;
}

/**
 * Starts the periodic maintenance inside `./occ serve`: the same work as `./occ files:cleanup`
 * (orphaned blobs, temp files, stale uploads, expired locks) and the expiry of versions and trash
 * items every N minutes. With several server
 * processes on one database only one runs each round (a lease in app config, see DbLease).
 * Errors are logged, never thrown: the next round retries.
 */
export function startBackgroundJobs(app: App, opts: BackgroundJobsOptions = {}): BackgroundJobs {
  const intervalMs = Math.max(1, opts.intervalMinutes ?? 15) * 60_000;
  const gc = new GarbageCollector({ db: app.db, rawBlobs: app.rawBlobs, uploads: app.uploads, locks: app.locks, sessions: app.sessions, log: app.log });
  const lease = new DbLease(app.db, 'files-cleanup');
  let running: Promise<CleanupReport | undefined> | undefined;
  let stopped = false;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));

  const runOnce = (): Promise<CleanupReport | undefined> => {
    running ??= (async () => {
      try {
        // held for most of an interval: a second process skips this round even after we finish
        if (!(await lease.acquire(intervalMs - Math.min(intervalMs / 2, 30_000)))) return undefined;
        const report = await gc.run();
        // versions and trash items past their retention (Nextcloud's ExpireVersions/ExpireTrash jobs)
        await runRetention(app, now()).catch((err: unknown) => app.log.error({ err }, 'versions and trash expiry failed'));
        opts.onRun?.(report);
        return report;
      } catch (err) {
        app.log.error({ err }, 'background cleanup failed');
        return undefined;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  // versions and trash that just grew past the space they may take go within seconds (Nextcloud
  // schedules an expiry after each new version and each delete), not at the next full round
  let prompt: Promise<unknown> | undefined;
  const promptTimer = setInterval(() => {
    prompt ??= runMarked(app, now())
      .catch((err: unknown) => app.log.error({ err }, 'prompt versions and trash expiry failed'))
      .finally(() => { prompt = undefined; });
  }, Math.max(10, opts.promptIntervalMs ?? 5000));
  promptTimer.unref();

  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => { void runOnce().finally(() => schedule(intervalMs)); }, ms);
    timer.unref();
  };
  schedule(opts.initialDelayMs ?? 30_000);

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      clearInterval(promptTimer);
      await running;
      await prompt;
    },
  };
}
