/**
 * Child process of two-processes.test.ts: opens the App from $COFFER_CONFIG, waits until the
 * time in argv[2] (ms since epoch) so that sibling processes race, runs one round of the
 * background jobs, and prints `{"ran":true|false}`.
 */
import { loadConfig } from '../../src/config/config.ts';
import { openApp } from '../../src/app.ts';
import { startBackgroundJobs } from '../../src/jobs/background-jobs.ts';
import { silentLogger } from '../../src/logger.ts';

const app = await openApp(loadConfig(), { logger: silentLogger(), migrate: false });
const jobs = startBackgroundJobs(app, { initialDelayMs: 3_600_000 });
const at = Number(process.argv[2] ?? 0);
if (at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()));
const report = await jobs.runOnce();
await jobs.stop();
await app.close();
process.stdout.write(JSON.stringify({ ran: report !== undefined }) + '\n');
