/**
 * Memory of idle push connections: a server (this process) and a child process that opens N
 * authenticated WebSocket connections and leaves them idle. Prints the server's RSS and heap
 * before and after, per connection.
 *
 *   node --expose-gc --import tsx bench/push-idle.ts [N ...]     (default 2000 5000)
 */
import { fork } from 'node:child_process';
import { startTestInstance } from '../test/support/test-instance.ts';

const counts = process.argv.slice(2).map(Number).filter((x) => x > 0);
const inst = await startTestInstance({ push: { perUserConnections: 100_000 } });
await inst.addUser('idle', 'idle-password-123');
const token = (await inst.app.appPasswords.create('idle', 'bench')).token;
const settle = async () => { for (let i = 0; i < 3; i++) { global.gc?.(); await new Promise((r) => setTimeout(r, 300)); } };
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
try {
  for (const n of counts.length ? counts : [2000, 5000]) {
    await settle();
    const before = process.memoryUsage();
    const child = fork(new URL('./push-idle-clients.mjs', import.meta.url).pathname, [String(inst.server.port), String(n), 'idle', token], { stdio: 'inherit' });
    await new Promise<void>((resolve, reject) => { child.once('message', () => resolve()); child.once('exit', (c) => reject(new Error(`clients exited ${c}`))); });
    await settle();
    const after = process.memoryUsage();
    console.log(`${n} idle push connections (${inst.server.push.connections} authenticated): server RSS ${mib(before.rss)} → ${mib(after.rss)} MiB (+${mib(after.rss - before.rss)} MiB, ${((after.rss - before.rss) / n / 1024).toFixed(1)} KiB each), heap +${mib(after.heapUsed - before.heapUsed)} MiB`);
    child.kill();
    while (inst.server.push.connections > 0) await new Promise((r) => setTimeout(r, 100));
  }
} finally {
  await inst.stop();
}
