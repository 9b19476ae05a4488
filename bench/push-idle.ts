/**
 * Memory of idle push connections. The server runs in its own child process (bench/push-idle-server.ts:
 * its RSS is the server's alone), a second child (bench/push-idle-clients.mjs) opens N authenticated
 * WebSocket connections and leaves them idle. Each count runs twice: the first round includes the
 * one-off cost of the authentication burst (malloc arenas and heap pages that RSS keeps after the
 * burst), the second round, on a warmed server, is what each idle connection really holds. Heap
 * figures are after gc.
 *
 *   node --import tsx bench/push-idle.ts [N ...]     (default 5000; MALLOC_ARENA_MAX etc. pass through)
 */
import { fork, type ChildProcess } from 'node:child_process';

interface Measure { rss: number; heapUsed: number; external: number; arrayBuffers: number; connections: number; sockets: number; requests: number }

const counts = process.argv.slice(2).map(Number).filter((x) => x > 0);
const here = (f: string) => new URL(f, import.meta.url).pathname;
const server = fork(here('./push-idle-server.ts'), [], { execArgv: ['--expose-gc', '--import', 'tsx', '--disable-warning=ExperimentalWarning'], stdio: 'inherit' });
const next = <T>(p: ChildProcess) => new Promise<T>((resolve, reject) => {
  const onExit = (c: number | null) => reject(new Error(`child exited ${c}`));
  p.once('exit', onExit);
  p.once('message', (m) => { p.off('exit', onExit); resolve(m as T); });
});
const { port, token } = await next<{ port: number; token: string }>(server);
const measure = () => { const m = next<Measure>(server); server.send('measure'); return m; };
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const kib = (b: number, n: number) => (b / n / 1024).toFixed(2);

async function round(n: number): Promise<{ open: Measure; closed: Measure }> {
  const clients = fork(here('./push-idle-clients.mjs'), [String(port), String(n), 'idle', token], { stdio: 'inherit' });
  await next(clients);
  const open = await measure();
  clients.kill();
  let closed = await measure();
  while (closed.connections > 0) closed = await measure();
  return { open, closed };
}

try {
  for (const n of counts.length ? counts : [5000]) {
    const base = await measure();
    const first = await round(n);
    const second = await round(n);
    const { open, closed } = second;
    const heap = (m: Measure) => m.heapUsed + m.external;
    console.log(`${n} idle push connections (${open.connections} authenticated, ${open.sockets - closed.sockets} sockets, ${open.requests - closed.requests} request objects held):`);
    console.log(`  retained per connection (warm server, after gc): heap+external ${kib(heap(open) - heap(closed), n)} KiB, RSS ${kib(open.rss - first.closed.rss, n)} KiB → ${mib(open.rss - first.closed.rss)} MiB for ${n}`);
    console.log(`  server RSS: ${mib(base.rss)} MiB idle, ${mib(first.open.rss)} MiB with the first ${n} (+${mib(first.open.rss - base.rss)}, authentication burst included), ${mib(first.closed.rss)} MiB after they closed, ${mib(open.rss)} MiB with the second ${n}, ${mib(closed.rss)} MiB after`);
  }
} finally {
  server.send('stop');
}
