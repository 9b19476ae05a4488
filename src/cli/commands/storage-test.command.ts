import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Command } from 'commander';
import { CliError, EXIT, cliOptions, loadInstalledConfig, outputOption, printData } from '../cli-support.ts';
import type { Config } from '../../config/config.ts';
import { silentLogger } from '../../logger.ts';

/** One line of the report: what was checked, and the problems found (empty: fine). */
export interface StorageCheck {
  readonly check: string;
  readonly target: string;
  readonly ok: boolean;
  readonly problems: string[];
}

/** Writes, reads back and removes a probe file in `dir` (created when missing). */
async function probeDirectory(dir: string): Promise<string[]> {
  const file = join(dir, `.storage-test-${randomBytes(6).toString('hex')}`);
  const body = randomBytes(32);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(file, body, { mode: 0o600 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EACCES' || e.code === 'EPERM' ? `permission denied for user uid ${process.getuid?.() ?? '?'} (fix the owner/mode of ${dir})`
      : e.code === 'EROFS' ? 'the file system is read-only'
      : e.code === 'ENOSPC' ? 'no space left on the device'
      : e.message;
    return [`cannot write to ${dir}: ${why}`];
  }
  const problems: string[] = [];
  try {
    if (!(await readFile(file)).equals(body)) problems.push(`reading back a probe file in ${dir} returned different bytes`);
  } catch (err) {
    problems.push(`cannot read a file just written in ${dir}: ${(err as Error).message}`);
  }
  await rm(file, { force: true }).catch((err: Error) => problems.push(`cannot delete ${file}: ${err.message}`));
  return problems;
}

/**
 * Runs every check the config calls for: the database (connect, SELECT 1), the content store
 * (local directory or S3 bucket: put/get/delete), Redis, and the key storage root (writable; holds
 * the master key when encryption is on — a process that cannot see it is not on the shared key storage).
 * Never throws for a failing check; each failure is a line in the result.
 */
export async function runStorageChecks(config: Config): Promise<StorageCheck[]> {
  const out: StorageCheck[] = [];
  const add = (check: string, target: string, problems: string[]) => out.push({ check, target, ok: problems.length === 0, problems });

  // database
  const { openDatabase } = await import('../../db/database.ts');
  const dbTarget = config.database.type === 'sqlite' ? `SQLite ${config.database.path}` : `PostgreSQL ${config.database.name} on ${config.database.host}:${config.database.port}`;
  let dbOk = false;
  {
    const { db } = openDatabase(config.database);
    try {
      await sql`SELECT 1`.execute(db);
      dbOk = true;
      add('database', dbTarget, []);
    } catch (err) {
      add('database', dbTarget, [`cannot query the database: ${(err as Error).message}`]);
    } finally {
      await db.destroy().catch(() => {});
    }
  }

  // content store
  if (config.storage.type === 's3') {
    const [{ S3BlobStore }, { s3OptionsFromConfig }] = await Promise.all([import('../../storage/s3-blob-store.ts'), import('../../storage/s3-config.ts')]);
    const store = new S3BlobStore(s3OptionsFromConfig(config.storage));
    try {
      add('storage', `S3 bucket ${config.storage.bucket} at ${config.storage.endpoint}`, await store.checkAccess());
    } finally {
      store.destroy();
    }
  } else {
    const dir = join(config.datadirectory, 'blobs');
    add('storage', `local ${dir}`, await probeDirectory(dir));
  }

  // redis
  if (config.redis) {
    const { RedisClient } = await import('../../redis/redis-client.ts');
    const client = new RedisClient(config.redis, { instanceId: config.instanceid });
    try {
      add('redis', `${config.redis.host}:${config.redis.port}`, await client.check());
    } finally {
      await client.close();
    }
  }

  // key storage (needs the database for the configured root and the encryption state)
  if (dbOk) {
    try {
      const { openApp } = await import('../../app.ts');
      const app = await openApp(config, { logger: silentLogger(), migrate: false });
      try {
        const st = await app.encryption.status();
        const problems = await probeDirectory(join(st.keyStorageRoot, 'files_encryption'));
        if (st.enabled && !st.masterKeyPresent) {
          problems.push(`encryption is enabled but there is no master key under ${st.keyStorageRoot}: this host does not see the shared key storage (mount the same key storage root on every server)`);
        }
        add('key storage', st.keyStorageRoot, problems);
      } finally {
        await app.close();
      }
    } catch (err) {
      add('key storage', '(unknown)', [(err as Error).message]);
    }
  }
  return out;
}

/** `./occ storage:test`. */
export function register(program: Command): void {
  program
    .command('storage:test')
    .description('check the database, the content store (local directory or S3 bucket), Redis and the key storage; explain what is wrong')
    .addOption(outputOption())
    .addHelpText('after', '\nExit 0 when every check passes, 1 otherwise. Writes and removes small probe objects/files.')
    .action(async (_opts: unknown, cmd: Command) => {
      const { output } = cliOptions(cmd);
      const config = loadInstalledConfig();
      const checks = await runStorageChecks(config);
      if (output === 'plain') {
        for (const c of checks) {
          process.stdout.write(`${c.ok ? 'OK  ' : 'FAIL'} ${c.check}: ${c.target}\n`);
          for (const p of c.problems) process.stdout.write(`       ${p}\n`);
        }
      } else {
        printData(checks, output);
      }
      const failed = checks.filter((c) => !c.ok);
      if (failed.length) throw new CliError(`${failed.length} check(s) failed: ${failed.map((c) => c.check).join(', ')}`, EXIT.FAILURE);
    });
}
