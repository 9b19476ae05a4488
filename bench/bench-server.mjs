/**
 * The server side of `npm run bench`, run as its own process so that its RSS is the server's alone.
 * Plain JavaScript, so that it runs the compiled server as `npm start` and `./occ serve` do:
 *
 *   node bench/bench-server.mjs <code-root> <config.json> <uid> [--encrypted]
 *
 * <code-root> is a compiled tree (dist/ or the bench's private tsc output: modules `*.js`) or src/
 * (modules `*.ts`; then node needs `--import tsx`). The password comes from env BENCH_PASSWORD.
 * Creates the user, enables encryption when asked (as `./occ encryption:enable` does), listens on
 * 127.0.0.1 port 0, prints `READY <url>` on stdout, and stops on SIGTERM.
 */
import { pathToFileURL } from 'node:url';

const [root, configPath, uid, ...flags] = process.argv.slice(2);
const password = process.env.BENCH_PASSWORD;
if (!root || !configPath || !uid || !password) {
  process.stderr.write('usage: BENCH_PASSWORD=… bench-server.mjs <code-root> <config.json> <uid> [--encrypted]\n');
  process.exit(2);
}
const ext = root.replace(/\/$/, '').endsWith('/src') ? '.ts' : '.js';
const load = (mod) => import(pathToFileURL(`${root}/${mod}${ext}`).href);
const [{ openApp }, { loadConfig }, { startServer }, { silentLogger }] = await Promise.all([
  load('app'), load('config/config'), load('http/server'), load('logger'),
]);

const app = await openApp(loadConfig(configPath), { logger: silentLogger() });
if (!(await app.users.exists(uid))) await app.users.create({ uid, password, isAdmin: true });
if (flags.includes('--encrypted')) {
  await app.appConfig.set('encryption', 'enabled', 'yes'); // app:enable encryption
  await app.encryption.enable(); // encryption:enable
}
const server = await startServer(app, { host: '127.0.0.1', port: 0 });
process.stdout.write(`READY ${server.url}\n`);

const stop = async () => {
  await server.close(2000);
  await app.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
