/**
 * `npm run loadtest` — concurrent mixed WebDAV load on an encrypted instance, SQLite and PostgreSQL.
 *
 *   node --import tsx bench/loadtest.ts [--quick] [--db sqlite|pgsql] [--clients N] [--seconds S] [--workers N[,M…]]
 *
 * Without --workers the server runs in this process (as the load test always did); with it, each
 * listed count is served by `./occ serve --workers N` in child processes (1 = one process, no
 * primary), so 1 and 2 compare on equal terms, and the server's CPU-seconds are printed.
 * Prints ops/s and p50/p99 latency per method; exits 1 when any request failed (5xx, unexpected
 * status) or any byte read back differed from what was written.
 */
import { formatResult, runLoad, type LoadResult } from './loadtest-core.ts';

const argv = process.argv.slice(2);
const arg = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(name + '='))?.slice(name.length + 1); };
const quick = argv.includes('--quick');
const dbs = (arg('--db') ? [arg('--db')] : ['sqlite', 'pgsql']) as ('sqlite' | 'pgsql')[];
const clients = Number(arg('--clients') ?? (quick ? 8 : 16));
const seconds = Number(arg('--seconds') ?? (quick ? 5 : 30));
const workerCounts = arg('--workers') ? arg('--workers')!.split(',').map(Number) : [undefined];
if (workerCounts.some((n) => n !== undefined && !(Number.isInteger(n) && n >= 1))) { process.stderr.write('--workers: whole numbers ≥ 1, comma-separated\n'); process.exit(2); }
const results: LoadResult[] = [];
for (const db of dbs) {
  for (const workers of workerCounts) {
    process.stderr.write(`[loadtest] ${db}${workers ? `, ${workers} worker(s)` : ''}: ${clients} clients × ${seconds} s (encrypted)…\n`);
    const r = await runLoad({ db, clients, seconds, workers, log: (s) => process.stderr.write(`[loadtest] ${s}\n`) });
    results.push(r);
    process.stdout.write(formatResult(r) + '\n');
  }
}
process.exit(results.some((r) => r.errors.length > 0) ? 1 : 0);
