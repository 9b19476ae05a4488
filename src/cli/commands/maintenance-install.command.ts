import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError, EXIT, cliOptions, readSecret } from '../cli-support.ts';
import { configPath } from '../../config/config.ts';
import type { InstallDatabase } from '../../setup/installer.ts';

interface InstallFlags {
  adminUser: string;
  adminPass?: string;
  dataDir?: string;
  database: 'sqlite' | 'pgsql';
  databaseHost: string;
  databasePort?: number;
  databaseName: string;
  databaseUser?: string;
  databasePass?: string;
}

/** commander parser for a TCP port (0–65535). */
export function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('not a port number (0-65535)');
  return n;
}

/** `host:port` in --database-host, as Nextcloud accepts it (not for bare IPv6 addresses). */
function splitHost(host: string): { host: string; port?: number } {
  const m = /^([^:]+|\[[^\]]+\]):(\d+)$/.exec(host);
  if (!m) return { host };
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: parsePort(m[2]!) };
}

/** `./occ maintenance:install`. */
export function register(program: Command): void {
  program
    .command('maintenance:install')
    .description('install Coffer: write the config file, create the database schema and the admin user')
    .option('--admin-user <user>', 'login name of the admin user', 'admin')
    .option('--admin-pass <password>', 'password of the admin user (asked for when omitted and interactive)')
    .option('--data-dir <dir>', 'data directory (relative to the working directory)', 'data')
    .addOption(new Option('--database <type>', 'database type').choices(['sqlite', 'pgsql']).default('sqlite'))
    .option('--database-host <host>', 'PostgreSQL host (host or host:port)', '127.0.0.1')
    .option('--database-port <port>', 'PostgreSQL port (default 5432)', parsePort)
    .option('--database-name <name>', 'PostgreSQL database name (created when missing and allowed)', 'coffer')
    .option('--database-user <user>', 'PostgreSQL user')
    .option('--database-pass <password>', 'PostgreSQL password', '')
    .addHelpText('after', '\nThe config file is $COFFER_CONFIG, or config/config.json under the working directory.\nRefuses (exit 5) when Coffer is already installed.')
    .action(async (flags: InstallFlags, cmd: Command) => {
      const { noInteraction } = cliOptions(cmd);
      let adminPass = flags.adminPass;
      if (adminPass === undefined) {
        if (noInteraction) throw new CliError('--admin-pass is required (or run interactively to be asked)', EXIT.USAGE);
        adminPass = await readSecret(`Password for admin user "${flags.adminUser}": `);
        const again = await readSecret('Repeat the password: ');
        if (again !== adminPass) throw new CliError('the passwords do not match', EXIT.USAGE);
      }
      let database: InstallDatabase = { type: 'sqlite' };
      if (flags.database === 'pgsql') {
        if (!flags.databaseUser) throw new CliError('--database-user is required with --database pgsql', EXIT.USAGE);
        const h = splitHost(flags.databaseHost);
        database = { type: 'pgsql', host: h.host, port: flags.databasePort ?? h.port ?? 5432, name: flags.databaseName, user: flags.databaseUser, password: flags.databasePass ?? '' };
      }
      const { install } = await import('../../setup/installer.ts');
      const result = await install({ configPath: configPath(), adminUser: flags.adminUser, adminPass, dataDir: flags.dataDir, database });
      process.stdout.write(`Coffer was successfully installed\n`);
      process.stdout.write(`  config file:    ${result.configPath}\n  data directory: ${result.config.datadirectory}\n  database:       ${describeDb(result.config)}\n  admin user:     ${flags.adminUser}\n`);
    });
}

function describeDb(c: { database: { type: 'sqlite'; path: string } | { type: 'pgsql'; host: string; port: number; name: string } }): string {
  return c.database.type === 'sqlite' ? `SQLite ${c.database.path}` : `PostgreSQL ${c.database.name} on ${c.database.host}:${c.database.port}`;
}
