/**
 * The server side of `npm run bench`, run as its own process so that its RSS is the server's alone.
 * Usage: node --import tsx bench/bench-server.ts <config.json> <uid> [--encrypted]
 * (password in env BENCH_PASSWORD). Creates the user, enables encryption when asked, listens on
 * 127.0.0.1 port 0, prints `READY <url>` on stdout, and stops on SIGTERM.
 */
import { openApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { startServer } from '../src/http/server.ts';
import { silentLogger } from '../src/logger.ts';
import { enableEncryption } from '../test/support/encryption-enabler.ts';

const [configPath, uid, ...flags] = process.argv.slice(2);
const password = process.env.BENCH_PASSWORD;
if (!configPath || !uid || !password) {
  process.stderr.write('usage: BENCH_PASSWORD=… bench-server.ts <config.json> <uid> [--encrypted]\n');
  process.exit(2);
}
const config = loadConfig(configPath);
const app = await openApp(config, { logger: silentLogger() });
if (!(await app.users.exists(uid))) await app.users.create({ uid, password, isAdmin: true });
if (flags.includes('--encrypted')) await enableEncryption({ app, configPath });
const server = await startServer(app, { host: '127.0.0.1', port: 0 });
process.stdout.write(`READY ${server.url}\n`);

const stop = async () => {
  await server.close(2000);
  await app.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
