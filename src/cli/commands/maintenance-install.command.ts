import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError, EXIT, cliOptions, readSecret } from '../cli-support.ts';
import { configPath } from '../../config/config.ts';
import type { InstallDatabase, InstallStorage } from '../../setup/installer.ts';

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
  storage: 'local' | 's3';
  s3Endpoint?: string;
  s3Bucket?: string;
  s3Region: string;
  s3AccessKey?: string;
  s3SecretKey?: string;
  s3PathStyle: boolean;
  redisHost?: string;
  redisPort?: number;
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
    .addOption(new Option('--storage <type>', 'where file content goes').choices(['local', 's3']).default('local'))
    .option('--s3-endpoint <url>', 'S3 endpoint, e.g. http://rgw.internal:7480 (Ceph RGW, MinIO) or https://s3.eu-central-1.amazonaws.com')
    .option('--s3-bucket <name>', 'S3 bucket (created when missing and allowed)')
    .option('--s3-region <region>', 'S3 region', 'us-east-1')
    .option('--s3-access-key <key>', 'S3 access key id')
    .option('--s3-secret-key <secret>', 'S3 secret access key')
    .addOption(new Option('--s3-path-style [bool]', 'path-style URLs (Ceph RGW, MinIO); --s3-path-style false for virtual-hosted').default(true)
      .argParser((v: string) => { if (v === 'true' || v === '1') return true; if (v === 'false' || v === '0') return false; throw new InvalidArgumentError('true or false'); }))
    .option('--redis-host <host>', 'Redis host (shared brute-force counters for several server processes)')
    .option('--redis-port <port>', 'Redis port (default 6379)', parsePort)
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
      let storage: InstallStorage = { type: 'local' };
      if (flags.storage === 's3') {
        const required = { s3Endpoint: '--s3-endpoint', s3Bucket: '--s3-bucket', s3AccessKey: '--s3-access-key', s3SecretKey: '--s3-secret-key' } as const;
        const missing = (Object.keys(required) as (keyof typeof required)[]).filter((k) => !flags[k]).map((k) => required[k]);
        if (missing.length) throw new CliError(`${missing.join(', ')} required with --storage s3`, EXIT.USAGE);
        storage = { type: 's3', endpoint: flags.s3Endpoint!, bucket: flags.s3Bucket!, region: flags.s3Region, accessKey: flags.s3AccessKey!, secretKey: flags.s3SecretKey!, pathStyle: flags.s3PathStyle };
      }
      if (flags.redisPort !== undefined && !flags.redisHost) throw new CliError('--redis-port needs --redis-host', EXIT.USAGE);
      const redis = flags.redisHost ? { host: flags.redisHost, port: flags.redisPort ?? 6379 } : undefined;
      const { install } = await import('../../setup/installer.ts');
      const result = await install({ configPath: configPath(), adminUser: flags.adminUser, adminPass, dataDir: flags.dataDir, database, storage, redis });
      process.stdout.write(`Coffer was successfully installed\n`);
      process.stdout.write(`  config file:    ${result.configPath}\n  data directory: ${result.config.datadirectory}\n  database:       ${describeDb(result.config)}\n  admin user:     ${flags.adminUser}\n`);
      const st = result.config.storage;
      process.stdout.write(`  storage:        ${st.type === 's3' ? `S3 bucket ${st.bucket} at ${st.endpoint}` : 'local (data directory)'}\n`);
      if (result.config.redis) process.stdout.write(`  redis:          ${result.config.redis.host}:${result.config.redis.port}\n`);
    });
}

function describeDb(c: { database: { type: 'sqlite'; path: string } | { type: 'pgsql'; host: string; port: number; name: string } }): string {
  return c.database.type === 'sqlite' ? `SQLite ${c.database.path}` : `PostgreSQL ${c.database.name} on ${c.database.host}:${c.database.port}`;
}
