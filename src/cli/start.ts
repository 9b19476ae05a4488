/**
 * `npm start`: on first run (no config file at $COFFER_CONFIG or config/config.json under the
 * working directory) installs Coffer with SQLite and ./data, and an admin user `admin` whose
 * password is COFFER_ADMIN_PASSWORD or generated and printed once on the terminal (never logged);
 * then serves on 127.0.0.1:8080 (HOST / PORT / WORKERS override) exactly as `./occ serve` does
 * (WORKERS: server processes, default one per core).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { CliError, EXIT, reportError } from './cli-support.ts';
import { parseWorkers, runServer } from './commands/serve.command.ts';
import { configPath } from '../config/config.ts';

/** A readable random password: 24 characters of base64url (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

function envPort(): number {
  const v = process.env.PORT;
  if (v === undefined || v === '') return 8080;
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new CliError(`PORT=${v} is not a port number`, EXIT.USAGE);
  return Number(v);
}

function envWorkers(): number | undefined {
  const v = process.env.WORKERS;
  if (v === undefined || v === '') return undefined;
  try { return parseWorkers(v); } catch { throw new CliError(`WORKERS=${v} is not a number of processes (1-1024)`, EXIT.USAGE); }
}

async function main(): Promise<number> {
  try {
    const port = envPort();
    const host = process.env.HOST || '127.0.0.1';
    const workers = envWorkers();
    const path = configPath();
    if (!existsSync(path)) {
      const given = process.env.COFFER_ADMIN_PASSWORD;
      const password = given || generatePassword();
      const { install } = await import('../setup/installer.ts');
      process.stdout.write(`First start: installing Coffer (config ${path})\n`);
      const { config } = await install({ configPath: path, adminUser: 'admin', adminPass: password });
      process.stdout.write(`  data directory: ${config.datadirectory}\n  database:       SQLite\n`);
      if (given) {
        process.stdout.write('  admin user:     admin (password from COFFER_ADMIN_PASSWORD)\n');
      } else {
        process.stdout.write(`  admin user:     admin\n  admin password: ${password}\n  (shown only this once: write it down)\n`);
      }
    }
    await runServer({ host, port, workers });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    return reportError(err);
  }
}

process.exit(await main());
