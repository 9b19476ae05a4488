/**
 * `npm run loadtest` — concurrent mixed WebDAV load on an encrypted instance, SQLite and PostgreSQL.
 *
 *   node --import tsx bench/loadtest.ts [--quick] [--db sqlite|pgsql] [--clients N] [--seconds S]
 *
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
const results: LoadResult[] = [];
for (const db of dbs) {
  process.stderr.write(`[loadtest] ${db}: ${clients} clients × ${seconds} s (encrypted)…\n`);
  const r = await runLoad({ db, clients, seconds, log: (s) => process.stderr.write(`[loadtest] ${s}\n`) });
  results.push(r);
  process.stdout.write(formatResult(r) + '\n');
}
process.exit(results.some((r) => r.errors.length > 0) ? 1 : 0);
